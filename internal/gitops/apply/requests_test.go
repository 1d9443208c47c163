package apply

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// requestLog records the requests a sync sends to the API server, as
// "VERB resource" ("GET configmaps", "PATCH configmaps (dry run)"), discovery
// aside.
type requestLog struct {
	mu   sync.Mutex
	seen []string
}

func (l *requestLog) RoundTrip(rt http.RoundTripper) http.RoundTripper {
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		if parts := strings.Split(strings.Trim(req.URL.Path, "/"), "/"); len(parts) >= 4 && (parts[0] == "api" || parts[0] == "apis") {
			resource := parts[len(parts)-2] // …/<resource>/<name>
			if req.Method == http.MethodPost {
				resource = parts[len(parts)-1] // …/<resource>
			}
			entry := req.Method + " " + resource
			if req.URL.Query().Get("dryRun") != "" {
				entry += " (dry run)"
			}
			l.mu.Lock()
			l.seen = append(l.seen, entry)
			l.mu.Unlock()
		}
		return rt.RoundTrip(req)
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

func (l *requestLog) count(entry string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, e := range l.seen {
		if e == entry {
			n++
		}
	}
	return n
}

func (l *requestLog) reset() {
	l.mu.Lock()
	l.seen = nil
	l.mu.Unlock()
}

// counted returns a cluster whose requests go into a log.
func (e *testEnv) counted(t *testing.T) (Cluster, *requestLog) {
	t.Helper()
	log := &requestLog{}
	cfg := rest.CopyConfig(e.cfg)
	cfg.Wrap(log.RoundTrip)
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	disc := discovery.NewDiscoveryClientForConfigOrDie(cfg)
	return Cluster{Dynamic: dyn, Mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc))}, log
}

// A sync reads an object before applying it only when it cannot know it:
// the live copy the caller gives serves, and an object in a namespace the
// caller has just created had no earlier self. What it reports stays right.
func TestSyncReadsOnlyWhatItDoesNotKnow(t *testing.T) {
	e := env(t)
	ns := e.namespace(t)
	cluster, log := e.counted(t)
	opts := options("reads-known", ns)
	opts.NamespaceCreated = true
	r := Sync(context.Background(), cluster, objects(t, webManifest), nil, opts)
	mustSucceed(t, r)
	if n := log.count("GET configmaps") + log.count("GET deployments"); n != 0 {
		t.Errorf("%d objects read before being created in a new namespace: %v", n, log.seen)
	}
	if got := result(t, r, "ConfigMap", "web-config").Message; got != "configmap/web-config created" {
		t.Errorf("first sync: %q", got)
	}

	live := e.live(t, "reads-known", gvrConfigMap, schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"})
	changed := objects(t, strings.Replace(webManifest, "color: blue", "color: green", 1))
	log.reset()
	r = Sync(context.Background(), cluster, changed, live, options("reads-known", ns))
	mustSucceed(t, r)
	if n := log.count("GET configmaps") + log.count("GET deployments"); n != 0 {
		t.Errorf("%d objects read although the caller gave them: %v", n, log.seen)
	}
	if got := result(t, r, "ConfigMap", "web-config").Message; got != "configmap/web-config configured" {
		t.Errorf("second sync: %q", got)
	}
	// (Not the Deployment's message: the controller manager may write it
	// between the live read and this sync, and then "configured" is right.)

	// Without a live copy or a new namespace, the object is read: it may exist.
	log.reset()
	r = Sync(context.Background(), cluster, changed, nil, options("reads-known", ns))
	mustSucceed(t, r)
	if log.count("GET configmaps") != 1 {
		t.Errorf("an object the caller did not give was not read: %v", log.seen)
	}
	if got := result(t, r, "ConfigMap", "web-config").Message; got != "configmap/web-config unchanged" {
		t.Errorf("third sync: %q", got)
	}
}

// An object the caller compared equal to Git is applied without a dry run
// first; one that differs is dry-run, and so is everything when the caller
// says nothing.
func TestSyncDryRunsOnlyWhatChanges(t *testing.T) {
	e := env(t)
	ns := e.namespace(t)
	mustSucceed(t, Sync(context.Background(), e.cluster(), objects(t, webManifest), nil, options("dry-in-sync", ns)))
	live := e.live(t, "dry-in-sync", gvrConfigMap, schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"})
	cluster, log := e.counted(t)
	changed := objects(t, strings.Replace(webManifest, "color: blue", "color: green", 1))

	opts := options("dry-in-sync", ns)
	opts.InSync = map[ResourceKey]bool{{Group: "apps", Kind: "Deployment", Namespace: ns, Name: "web"}: true}
	r := Sync(context.Background(), cluster, changed, live, opts)
	mustSucceed(t, r)
	if n := log.count("PATCH deployments (dry run)"); n != 0 {
		t.Errorf("the unchanged Deployment was dry-run %d times", n)
	}
	if n := log.count("PATCH configmaps (dry run)"); n != 1 {
		t.Errorf("the changed ConfigMap was dry-run %d times, want 1: %v", n, log.seen)
	}
	if n := log.count("PATCH deployments"); n != 1 {
		t.Errorf("the unchanged Deployment was applied %d times, want 1 (a sync applies everything)", n)
	}

	log.reset()
	mustSucceed(t, Sync(context.Background(), cluster, changed, live, options("dry-in-sync", ns)))
	if n := log.count("PATCH deployments (dry run)") + log.count("PATCH configmaps (dry run)"); n != 2 {
		t.Errorf("without InSync, %d dry runs, want 2: %v", n, log.seen)
	}

	// A bad object the caller wrongly called in sync still fails, at its apply.
	bad := objects(t, strings.Replace(webManifest, "replicas: 1", "replicas: -1", 1))
	opts.InSync = map[ResourceKey]bool{{Group: "apps", Kind: "Deployment", Namespace: ns, Name: "web"}: true}
	r = Sync(context.Background(), cluster, bad, live, opts)
	if r.Phase != OperationFailed || result(t, r, "Deployment", "web").Status != ResultSyncFailed {
		t.Errorf("an invalid object synced: %s %s %+v", r.Phase, r.Message, r.Resources)
	}
}
