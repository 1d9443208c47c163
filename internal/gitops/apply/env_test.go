package apply

import (
	"context"
	"flag"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"

	"gantry.dev/gantry/internal/controlplane"
	"gantry.dev/gantry/internal/kubetest"
)

// The real-API-server tests share one control plane (package kubetest). Its
// controller-manager runs the garbage collector (foreground deletion needs it)
// but not the Job controller: nothing would run the pods, and the tests complete
// hook Jobs by writing their status, as a kubelet-driven Job controller would.
type testEnv struct {
	cp   *controlplane.ControlPlane
	cfg  *rest.Config
	dyn  dynamic.Interface
	kube kubernetes.Interface
	disc discovery.DiscoveryInterface
}

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(kubetest.Main(m))
}

// env returns the shared environment; with -short the tests that need it are skipped.
func env(t *testing.T) *testEnv {
	t.Helper()
	k := kubetest.Shared(t, kubetest.Options{Controllers: slices.Concat(controlplane.TenantControllers, []string{"-job", "-cronjob"})})
	return &testEnv{cp: k.CP, cfg: k.Config, dyn: dynamic.NewForConfigOrDie(k.Config), kube: k.Kube, disc: discovery.NewDiscoveryClientForConfigOrDie(k.Config)}
}

// cluster returns a handle with a fresh mapper, as a caller builds one per sync.
func (e *testEnv) cluster() Cluster {
	return Cluster{Dynamic: e.dyn, Mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(e.disc))}
}

const trackingKey = "gantry.dev/tracking-id"

// options returns the options of application app syncing into namespace ns.
func options(app, ns string) Options {
	return Options{
		Namespace:   ns,
		TrackingKey: trackingKey,
		TrackingID: func(obj *unstructured.Unstructured) string {
			gvk := obj.GroupVersionKind()
			return fmt.Sprintf("gantry_%s:%s/%s:%s/%s", app, gvk.Group, gvk.Kind, obj.GetNamespace(), obj.GetName())
		},
		Labels:       map[string]string{"gantry.dev/app": app},
		Health:       testHealth,
		PollInterval: 50 * time.Millisecond,
		WaitTimeout:  time.Minute,
	}
}

const healthAnnotation = "test.gantry.dev/health"

// testHealth: a Job is healthy when Complete, degraded when Failed; any object
// annotated test.gantry.dev/health is what the annotation says; the rest is healthy.
func testHealth(obj *unstructured.Unstructured) (bool, bool, string) {
	if obj.GetKind() == "Job" {
		conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
		for _, c := range conds {
			m, _ := c.(map[string]any)
			switch {
			case m["type"] == "Complete" && m["status"] == "True":
				return true, false, "job completed"
			case m["type"] == "Failed" && m["status"] == "True":
				return false, true, fmt.Sprintf("job failed: %v", m["message"])
			}
		}
		return false, false, "job running"
	}
	switch obj.GetAnnotations()[healthAnnotation] {
	case "progressing":
		return false, false, "still progressing"
	case "degraded":
		return false, true, "it broke"
	}
	return true, false, ""
}

// namespace creates a namespace for one test, deleted after it.
func (e *testEnv) namespace(t *testing.T) string {
	t.Helper()
	name := "t-" + strings.Trim(regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(name) > 50 {
		name = name[:50]
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := e.kube.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.kube.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{}) })
	return name
}

// objects parses a multi-document YAML manifest.
func objects(t *testing.T, manifest string) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(manifest, -1) {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		obj := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &obj.Object); err != nil {
			t.Fatalf("fixture: %v\n%s", err, doc)
		}
		out = append(out, obj)
	}
	return out
}

var (
	gvrConfigMap = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	gvrJob       = schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}
)

// get reads an object; nil when it does not exist.
func (e *testEnv) get(t *testing.T, gvr schema.GroupVersionResource, ns, name string) *unstructured.Unstructured {
	t.Helper()
	var r dynamic.ResourceInterface = e.dyn.Resource(gvr)
	if ns != "" {
		r = e.dyn.Resource(gvr).Namespace(ns)
	}
	obj, err := r.Get(context.Background(), name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return obj
}

// live lists what application app manages in ns, as the caller finds it by label.
func (e *testEnv) live(t *testing.T, app string, gvrs ...schema.GroupVersionResource) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, gvr := range gvrs {
		list, err := e.dyn.Resource(gvr).List(context.Background(), metav1.ListOptions{LabelSelector: "gantry.dev/app=" + app})
		if err != nil {
			t.Fatal(err)
		}
		for i := range list.Items {
			out = append(out, &list.Items[i])
		}
	}
	return out
}

// setHealth sets the test health annotation on a live ConfigMap, as a controller
// would change an object's status.
func (e *testEnv) setHealth(t *testing.T, ns, name, health string) {
	t.Helper()
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, healthAnnotation, health)
	if _, err := e.dyn.Resource(gvrConfigMap).Namespace(ns).Patch(context.Background(), name, "application/merge-patch+json",
		[]byte(patch), metav1.PatchOptions{FieldManager: "test"}); err != nil {
		t.Fatal(err)
	}
}

// finishJob writes the status a Job controller writes when the Job's pod succeeded
// (or failed).
func (e *testEnv) finishJob(t *testing.T, ns, name string, succeeded bool) {
	t.Helper()
	job := e.get(t, gvrJob, ns, name)
	if job == nil {
		t.Fatalf("job %s/%s not found", ns, name)
	}
	now := time.Now().UTC().Format(time.RFC3339)
	start := time.Now().Add(-time.Second).UTC().Format(time.RFC3339)
	cond := func(typ, reason string) map[string]any {
		return map[string]any{"type": typ, "status": "True", "reason": reason, "message": reason,
			"lastProbeTime": now, "lastTransitionTime": now}
	}
	status := map[string]any{"startTime": start}
	if succeeded {
		status["succeeded"] = int64(1)
		status["completionTime"] = now
		status["conditions"] = []any{cond("SuccessCriteriaMet", "CompletionsReached"), cond("Complete", "CompletionsReached")}
	} else {
		status["failed"] = int64(1)
		status["conditions"] = []any{cond("FailureTarget", "BackoffLimitExceeded"), cond("Failed", "BackoffLimitExceeded")}
	}
	job.Object["status"] = status
	if _, err := e.dyn.Resource(gvrJob).Namespace(ns).UpdateStatus(context.Background(), job, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("finishing job %s/%s: %v", ns, name, err)
	}
}

// eventually waits until cond holds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, time.Minute, true,
		func(context.Context) (bool, error) { return cond(), nil })
	if err != nil {
		t.Fatalf("timed out waiting for %s", what)
	}
}

// background runs Sync in a goroutine, as the controller does, and returns its
// result channel and the last progress message seen.
func background(cluster Cluster, desired, live []*unstructured.Unstructured, opts Options) (<-chan Result, func() string) {
	var mu sync.Mutex
	last := ""
	opts.Progress = func(r Result) {
		mu.Lock()
		defer mu.Unlock()
		last = r.Message
	}
	out := make(chan Result, 1)
	go func() { out <- Sync(context.Background(), cluster, desired, live, opts) }()
	return out, func() string {
		mu.Lock()
		defer mu.Unlock()
		return last
	}
}

// result finds the result of a resource by kind and name (and sync phase, if given).
func result(t *testing.T, r Result, kind, name string, phase ...SyncPhase) ResourceResult {
	t.Helper()
	for _, rr := range r.Resources {
		if rr.Kind == kind && rr.Name == name && (len(phase) == 0 || rr.SyncPhase == phase[0]) {
			return rr
		}
	}
	t.Fatalf("no result for %s %s in %+v", kind, name, r)
	return ResourceResult{}
}

func mustSucceed(t *testing.T, r Result) {
	t.Helper()
	if r.Phase != OperationSucceeded {
		t.Fatalf("sync %s: %s\n%+v", r.Phase, r.Message, r.Resources)
	}
}

var (
	deleteNow = metav1.DeleteOptions{}
	getOpts   = metav1.GetOptions{}
)
