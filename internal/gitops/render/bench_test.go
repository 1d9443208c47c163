package render

import (
	"context"
	"fmt"
	"testing"

	"gantry.dev/gantry/api/gitops/v1alpha1"
)

// BenchmarkRender renders a directory of 50 manifests and a kustomize
// overlay with overrides, without a cache and from a warm cache (where the
// cost is copying the objects out).
func BenchmarkRender(b *testing.B) {
	root := kustomizeRepo(b)
	files := map[string]string{}
	for i := range 50 {
		files[fmt.Sprintf("plain/cm%02d.yaml", i)] = configMap(fmt.Sprintf("cm%02d", i))
	}
	writeFiles(b, root, files)

	cases := []struct {
		name string
		req  Request
	}{
		{"directory", dirRequest(root, "plain", nil)},
		{"kustomize", kustomizeRequest(root, "overlays/prod", &v1alpha1.ApplicationSourceKustomize{
			NamePrefix: "bench-", Images: []string{"nginx:1.27"}, CommonAnnotations: map[string]string{"a": "b"},
		})},
	}
	for _, c := range cases {
		b.Run(c.name+"/uncached", func(b *testing.B) {
			r := New(Options{})
			for b.Loop() {
				if _, err := r.Render(context.Background(), c.req); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/cached", func(b *testing.B) {
			cache := NewCache(CacheOptions{})
			r := New(Options{Cache: cache})
			for b.Loop() {
				if _, err := r.Render(context.Background(), c.req); err != nil {
					b.Fatal(err)
				}
			}
			s := cache.Stats()
			b.ReportMetric(float64(s.Hits)/float64(s.Hits+s.Misses), "hit-ratio")
		})
	}
}
