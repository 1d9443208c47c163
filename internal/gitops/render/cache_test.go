package render

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"gantry.dev/gantry/api/gitops/v1alpha1"
)

func TestCache(t *testing.T) {
	root := helmRepo(t)
	cache := NewCache(CacheOptions{})
	r := New(Options{Cache: cache})
	req := helmRequest(root, &v1alpha1.ApplicationSourceHelm{Parameters: []v1alpha1.HelmParameter{{Name: "replicas", Value: "3"}}})

	first := mustRender(t, r, req)
	second := mustRender(t, r, req)
	if s := cache.Stats(); s.Hits != 1 || s.Misses != 1 || s.Entries != 1 || s.Bytes == 0 {
		t.Errorf("stats after two renders = %+v", s)
	}
	if !reflect.DeepEqual(first, second) {
		t.Error("a cache hit differs from the render")
	}

	// The caller owns what it gets: changing it changes neither the cache
	// nor other callers' copies.
	second.Objects[1].SetName("mutated")
	second.Objects[1].Object["data"].(map[string]any)["replicas"] = "999"
	second.Objects = second.Objects[:1]
	third := mustRender(t, r, req)
	if !reflect.DeepEqual(first, third) {
		t.Errorf("mutating a result changed the cache: %v", ids(third.Objects))
	}

	// Anything that changes the output is a miss.
	misses := cache.Stats().Misses
	variants := []func(*Request){
		func(r *Request) { r.Source.Helm.Parameters[0].Value = "4" },
		func(r *Request) { r.Revision = "1111111111111111111111111111111111111111" },
		func(r *Request) { r.Source.Path = "charts/web/" },
		func(r *Request) { r.AppName = "other" },
		func(r *Request) { r.Namespace = "other" },
		func(r *Request) { r.KubeVersion = "1.36.0" },
		func(r *Request) { r.APIVersions = []string{"example.com/v1"} },
	}
	for i, change := range variants {
		v := helmRequest(root, &v1alpha1.ApplicationSourceHelm{Parameters: []v1alpha1.HelmParameter{{Name: "replicas", Value: "3"}}})
		change(&v)
		mustRender(t, r, v)
		if got := cache.Stats().Misses; got != misses+uint64(i)+1 {
			t.Errorf("variant %d: misses = %d, want %d", i, got, misses+uint64(i)+1)
		}
	}
	// What only names the revision does not: targetRevision and the
	// source's name.
	same := helmRequest(root, &v1alpha1.ApplicationSourceHelm{Parameters: []v1alpha1.HelmParameter{{Name: "replicas", Value: "3"}}})
	same.Source.TargetRevision, same.Source.Name = "main", "chart"
	hits := cache.Stats().Hits
	mustRender(t, r, same)
	if cache.Stats().Hits != hits+1 {
		t.Error("targetRevision or name changed the cache key")
	}
}

func TestCacheRefSources(t *testing.T) {
	root := helmRepo(t)
	values := t.TempDir()
	writeFiles(t, values, map[string]string{"v.yaml": "fromRef: one\n"})
	cache := NewCache(CacheOptions{})
	r := New(Options{Cache: cache})
	req := helmRequest(root, &v1alpha1.ApplicationSourceHelm{ValueFiles: []string{"$values/v.yaml"}})
	req.RefSources = map[string]RefSource{"values": {Dir: values, Revision: "r1"}, "unused": {Dir: values, Revision: "x"}}
	mustRender(t, r, req)

	// A new revision of the ref source is a miss; one of an unused ref is not.
	writeFiles(t, values, map[string]string{"v.yaml": "fromRef: two\n"})
	req.RefSources["unused"] = RefSource{Dir: values, Revision: "y"}
	if data := configData(t, mustRender(t, r, req), "shop-web"); data["fromRef"] != "one" {
		t.Errorf("fromRef = %v, want the cached one", data["fromRef"])
	}
	req.RefSources["values"] = RefSource{Dir: values, Revision: "r2"}
	if data := configData(t, mustRender(t, r, req), "shop-web"); data["fromRef"] != "two" {
		t.Errorf("fromRef = %v after a new ref revision", data["fromRef"])
	}
	// Without revisions nothing is cached.
	req.RefSources["values"] = RefSource{Dir: values}
	req.Revision = ""
	before := cache.Stats()
	mustRender(t, r, req)
	mustRender(t, r, req)
	if after := cache.Stats(); after.Hits != before.Hits || after.Entries != before.Entries {
		t.Errorf("a request without revision was cached: %+v -> %+v", before, after)
	}
}

func TestCacheEviction(t *testing.T) {
	root := t.TempDir()
	for i := range 5 {
		writeFiles(t, root, map[string]string{fmt.Sprintf("app%d/cm.yaml", i): configMap(fmt.Sprintf("cm%d", i))})
	}
	cache := NewCache(CacheOptions{MaxEntries: 3})
	r := New(Options{Cache: cache})
	for i := range 5 {
		mustRender(t, r, dirRequest(root, fmt.Sprintf("app%d", i), nil))
	}
	s := cache.Stats()
	if s.Entries != 3 || s.Evictions != 2 {
		t.Errorf("stats = %+v", s)
	}
	// The most recent are kept.
	mustRender(t, r, dirRequest(root, "app4", nil))
	mustRender(t, r, dirRequest(root, "app0", nil))
	if s := cache.Stats(); s.Hits != 1 {
		t.Errorf("hits = %d, want 1 (app4 kept, app0 evicted)", s.Hits)
	}

	// A result larger than the byte bound is not kept.
	small := NewCache(CacheOptions{MaxBytes: 10})
	r = New(Options{Cache: small})
	mustRender(t, r, dirRequest(root, "app1", nil))
	if s := small.Stats(); s.Entries != 0 {
		t.Errorf("stats = %+v", s)
	}
}

// TestCacheErrorsNotCached: a failed render is retried, not remembered.
func TestCacheErrorsNotCached(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{"app/cm.yaml": configMap("a") + "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [\n"})
	cache := NewCache(CacheOptions{})
	r := New(Options{Cache: cache})
	if _, err := r.Render(context.Background(), dirRequest(root, "app", nil)); err == nil {
		t.Fatal("no error")
	}
	if s := cache.Stats(); s.Entries != 0 {
		t.Errorf("stats = %+v", s)
	}
}

// A file parameter read from a ref source keys the cache by that source's
// revision, as a value file does.
func TestCacheRefSourceFileParameters(t *testing.T) {
	root := helmRepo(t)
	files := t.TempDir()
	writeFiles(t, files, map[string]string{"extra.txt": "one"})
	r := New(Options{Cache: NewCache(CacheOptions{})})
	req := helmRequest(root, &v1alpha1.ApplicationSourceHelm{
		FileParameters: []v1alpha1.HelmFileParameter{{Name: "extra", Path: "$files/extra.txt"}}})
	req.RefSources = map[string]RefSource{"files": {Dir: files, Revision: "r1"}}
	if data := configData(t, mustRender(t, r, req), "shop-web"); data["extra"] != "one" {
		t.Fatalf("extra = %v", data["extra"])
	}
	writeFiles(t, files, map[string]string{"extra.txt": "two"})
	req.RefSources["files"] = RefSource{Dir: files, Revision: "r2"}
	if data := configData(t, mustRender(t, r, req), "shop-web"); data["extra"] != "two" {
		t.Errorf("extra = %v after a new revision of the ref source, want two", data["extra"])
	}
}

// A hard refresh renders its repository again: Purge drops that
// repository's results and no other's.
func TestCachePurge(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{"app/cm.yaml": configMap("cm")})
	cache := NewCache(CacheOptions{})
	r := New(Options{Cache: cache})
	mine, other := dirRequest(root, "app", nil), dirRequest(root, "app", nil)
	other.Source.RepoURL = "https://git.example.com/other.git"
	mustRender(t, r, mine)
	mustRender(t, r, other)
	r.Purge(mine.Source.RepoURL)
	if s := cache.Stats(); s.Entries != 1 {
		t.Fatalf("entries after purging one of two repositories = %d, want 1", s.Entries)
	}
	misses := cache.Stats().Misses
	mustRender(t, r, other)
	mustRender(t, r, mine)
	if got := cache.Stats().Misses - misses; got != 1 {
		t.Errorf("%d renders ran after the purge, want 1 (the purged repository's)", got)
	}
}
