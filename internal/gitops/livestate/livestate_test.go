package livestate_test

import (
	"context"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"

	"gantry.dev/gantry/internal/gitops/livestate"
	"gantry.dev/gantry/internal/kubetest"
)

func TestMain(m *testing.M) { os.Exit(kubetest.Main(m)) }

// A forgotten cluster's watches stop: changes there no longer reach OnChange,
// and asking for the cluster again starts afresh.
func TestForgetStopsWatches(t *testing.T) {
	env := kubetest.Shared(t, kubetest.Options{})
	ctx := context.Background()
	ns := env.Namespace(t)
	var changes atomic.Int32
	c := livestate.New(ctx, livestate.Options{
		InstanceLabel: "test.gantry.dev/instance", TrackingAnnotation: "test.gantry.dev/tracking-id",
		OnChange: func(string) { changes.Add(1) },
	})
	cl, err := c.Cluster("k", env.Config)
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.Watch(ctx, []schema.GroupVersionKind{{Version: "v1", Kind: "ConfigMap"}}); err != nil {
		t.Fatal(err)
	}
	create := func(name string) {
		t.Helper()
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns,
			Labels:      map[string]string{"test.gantry.dev/instance": ns + "_app"},
			Annotations: map[string]string{"test.gantry.dev/tracking-id": ns + "_app:/ConfigMap:" + ns + "/" + name}}}
		if _, err := env.Kube.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	create("before")
	deadline := time.Now().Add(10 * time.Second)
	for changes.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("a watched change never reached OnChange")
		}
		time.Sleep(20 * time.Millisecond)
	}

	c.Forget("k")
	if len(c.Keys()) != 0 {
		t.Fatalf("still held after Forget: %v", c.Keys())
	}
	time.Sleep(200 * time.Millisecond) // the informer's goroutines notice the stop
	seen := changes.Load()
	create("after")
	time.Sleep(2 * time.Second)
	if got := changes.Load(); got != seen {
		t.Fatalf("a forgotten cluster's watch still reports changes (%d after Forget)", got-seen)
	}
	again, err := c.Cluster("k", env.Config)
	if err != nil || again == cl {
		t.Fatalf("Cluster after Forget: same=%v err=%v, want a new one", again == cl, err)
	}
}

// Kinds once found are remembered: comparing a thousand apps does not ask
// discovery (or build its mappings) again for every object. A kind the
// cluster does not serve is still looked up afresh, and found once it is.
func TestMappingRemembered(t *testing.T) {
	env := kubetest.Shared(t, kubetest.Options{})
	var requests atomic.Int32
	cfg := rest.CopyConfig(env.Config)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripper(func(r *http.Request) (*http.Response, error) {
			requests.Add(1)
			return rt.RoundTrip(r)
		})
	})
	c := livestate.New(context.Background(), livestate.Options{})
	cl, err := c.Cluster("k", cfg)
	if err != nil {
		t.Fatal(err)
	}
	cm := schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}
	first, err := cl.Mapping(cm)
	if err != nil {
		t.Fatal(err)
	}
	before := requests.Load()
	for range 100 {
		m, err := cl.Mapping(cm)
		if err != nil || m.Resource != first.Resource {
			t.Fatalf("Mapping = %v, %v; want %v", m, err, first.Resource)
		}
	}
	if n := requests.Load() - before; n != 0 {
		t.Errorf("%d requests for a kind already found", n)
	}
	if _, err := cl.Mapping(schema.GroupVersionKind{Group: "nope.gantry.dev", Version: "v1", Kind: "Gadget"}); err == nil ||
		!strings.Contains(err.Error(), "install its CustomResourceDefinition first") {
		t.Errorf("an unknown kind: %v", err)
	}
	if requests.Load() == before {
		t.Error("an unknown kind was not looked up in discovery")
	}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
