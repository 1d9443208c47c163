package appapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
	"gantry.dev/gantry/internal/gitops/tree"
	"gantry.dev/gantry/internal/kubetest"
)

// treeEngine answers a fixed tree and reads the test's API server as every
// app's destination.
type treeEngine struct {
	nodes []tree.Node
	dest  destination
	// logs are the pods' logs ("<namespace>/<pod>/<container>": lines);
	// asked records each PodLogs call's options.
	logs  map[string]string
	mu    sync.Mutex
	asked []string
}

func (e *treeEngine) ResourceTree(context.Context, *gitopsv1alpha1.Application) (any, error) {
	return tree.Tree{Nodes: e.nodes}, nil
}
func (e *treeEngine) ManagedResources(context.Context, *gitopsv1alpha1.Application) (any, error) {
	return map[string]any{"items": []any{}}, nil
}
func (e *treeEngine) Manifests(context.Context, *gitopsv1alpha1.Application, string) (any, error) {
	return map[string]any{}, nil
}
func (e *treeEngine) PodLogs(_ context.Context, _ *gitopsv1alpha1.Application, ns, pod string, o *corev1.PodLogOptions) (io.ReadCloser, error) {
	key := ns + "/" + pod + "/" + o.Container
	e.mu.Lock()
	e.asked = append(e.asked, fmt.Sprintf("%s follow=%v previous=%v tail=%v", key, o.Follow, o.Previous, o.TailLines != nil))
	e.mu.Unlock()
	text, ok := e.logs[key]
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("container %s is not valid for pod %s", o.Container, pod))
	}
	return io.NopCloser(strings.NewReader(text)), nil
}
func (e *treeEngine) Destination(context.Context, *gitopsv1alpha1.Application) (dynamic.Interface, meta.RESTMapper, error) {
	return e.dest.dynamic, e.dest.mapper, nil
}

type destination struct {
	dynamic dynamic.Interface
	mapper  meta.RESTMapper
}

// testDestination reads and writes the tests' API server as an app's destination.
func testDestination(t *testing.T) destination {
	env := kubetest.Shared(t, kubetest.Options{CRDs: true})
	disco := discovery.NewDiscoveryClientForConfigOrDie(env.Config)
	return destination{dynamic: dynamic.NewForConfigOrDie(env.Config),
		mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disco))}
}

func TestResourceAndEvents(t *testing.T) {
	f := newFixture(t)
	dest := testDestination(t)

	ns := "dest-" + f.A
	f.MustCreate(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	// Pods need the namespace's default ServiceAccount; the shared API server's
	// controllers may or may not have made it yet.
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns}}
	if err := f.Direct.Create(context.Background(), sa); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	pod := func(name string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx:1.27"}}}}
	}
	web, stranger := pod("web-1"), pod("stranger")
	f.MustCreate(web)
	f.MustCreate(stranger)
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds", Namespace: ns,
		Annotations: map[string]string{"kubectl.kubernetes.io/last-applied-configuration": `{"data":{"password":"aHVudGVyMg=="}}`}},
		Data: map[string][]byte{"password": []byte("hunter2")}}
	f.MustCreate(secret)
	for _, e := range []struct{ name, reason string }{{"web-1.a", "Scheduled"}, {"web-1.b", "Pulled"}} {
		f.MustCreate(&corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: e.name, Namespace: ns},
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: "web-1", UID: web.UID, APIVersion: "v1"},
			Reason:         e.reason, Message: e.reason + " it", Type: "Normal", Count: 1})
	}
	f.MustCreate(&corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "stranger.a", Namespace: ns},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: "stranger", UID: stranger.UID, APIVersion: "v1"},
		Reason:         "Secret", Message: "not yours", Type: "Warning"})
	app := f.app(f.A, "one")
	f.MustCreate(&corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "one.a", Namespace: app.Namespace},
		InvolvedObject: corev1.ObjectReference{Kind: "Application", Namespace: app.Namespace, Name: "one", UID: app.UID},
		Reason:         "ResourceUpdated", Message: "synced", Type: "Normal"})

	f.api.Engine = &treeEngine{dest: dest, nodes: []tree.Node{
		{ResourceRef: tree.ResourceRef{Version: "v1", Kind: "Pod", Namespace: ns, Name: "web-1", UID: string(web.UID)},
			ParentRefs: []tree.ResourceRef{{Group: "apps", Kind: "ReplicaSet", Namespace: ns, Name: "web"}}},
		{ResourceRef: tree.ResourceRef{Version: "v1", Kind: "Secret", Namespace: ns, Name: "creds", UID: string(secret.UID)}},
		{ResourceRef: tree.ResourceRef{Version: "v1", Kind: "ConfigMap", Namespace: ns, Name: "gone"}},
	}}
	f.api.APIReader = f.Direct
	base := "/api/v1/applications/one/"
	res := func(kind, name string) string {
		return base + "resource?" + url.Values{"namespace": {ns}, "resourceName": {name}, "version": {"v1"}, "kind": {kind}}.Encode()
	}
	manifest := func(body string) *unstructured.Unstructured {
		t.Helper()
		var r struct{ Manifest string }
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{}
		if err := json.Unmarshal([]byte(r.Manifest), &u.Object); err != nil {
			t.Fatalf("manifest is not a JSON object: %v: %s", err, r.Manifest)
		}
		return u
	}

	// A child of the tree (not managed), read live.
	got := manifest(f.expect("alice", "GET", res("Pod", "web-1"), 200))
	if got.GetName() != "web-1" || got.GetKind() != "Pod" || string(got.GetUID()) != string(web.UID) {
		t.Fatalf("got %s %s %s", got.GetKind(), got.GetName(), got.GetUID())
	}
	// A viewer may read it; another project's member may not; nor anyone without a token.
	f.expect("victor", "GET", res("Pod", "web-1"), 200)
	f.expect("bob", "GET", res("Pod", "web-1"), 403)
	f.expect("", "GET", res("Pod", "web-1"), 401)
	// Objects outside the tree are refused, naming them, though they exist.
	f.expect("root", "GET", res("Pod", "stranger"), 404, "Pod stranger in namespace "+ns+" not found as part of application one")
	f.expect("root", "GET", base+"resource?"+url.Values{"resourceName": {"default"}, "kind": {"Namespace"}, "version": {"v1"}}.Encode(), 404, "not found as part of application one")
	// In the tree but gone from the cluster.
	f.expect("alice", "GET", res("ConfigMap", "gone"), 404, "no longer exists")
	f.expect("alice", "GET", base+"resource?kind=Pod", 400)
	// Secrets' values are masked, keys kept.
	body := f.expect("alice", "GET", res("Secret", "creds"), 200)
	s := manifest(body)
	if v, _, _ := unstructured.NestedString(s.Object, "data", "password"); v != "++++++++" {
		t.Fatalf("secret data not masked: %v", s.Object["data"])
	}
	if strings.Contains(body, "aHVudGVyMg") || strings.Contains(body, "hunter2") {
		t.Fatalf("the secret's value leaks: %s", body)
	}

	// Events of one resource of the tree, from the destination.
	events := func(body string) []string {
		t.Helper()
		var l struct{ Items []corev1.Event }
		if err := json.Unmarshal([]byte(body), &l); err != nil {
			t.Fatal(err)
		}
		var reasons []string
		for _, e := range l.Items {
			reasons = append(reasons, e.Reason)
		}
		return reasons
	}
	q := url.Values{"resourceNamespace": {ns}, "resourceName": {"web-1"}, "resourceUID": {string(web.UID)}}
	if r := events(f.expect("victor", "GET", base+"events?"+q.Encode(), 200)); strings.Join(r, ",") != "Scheduled,Pulled" {
		t.Fatalf("events of web-1: %v", r)
	}
	f.expect("bob", "GET", base+"events?"+q.Encode(), 403)
	q.Set("resourceName", "stranger")
	q.Set("resourceUID", string(stranger.UID))
	f.expect("root", "GET", base+"events?"+q.Encode(), 404, "not found as part of application one")
	// No resource: the Application's own events, on the host.
	if r := events(f.expect("alice", "GET", base+"events", 200)); strings.Join(r, ",") != "ResourceUpdated" {
		t.Fatalf("events of the app: %v", r)
	}
}
