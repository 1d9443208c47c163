package apply

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func obj(kind, name string, ann map[string]string) *unstructured.Unstructured {
	o := &unstructured.Unstructured{}
	o.SetAPIVersion("v1")
	o.SetKind(kind)
	o.SetName(name)
	o.SetAnnotations(ann)
	return o
}

func TestSyncOptions(t *testing.T) {
	app := ParseSyncOptions([]string{"Prune=false", "CreateNamespace=true", "PrunePropagationPolicy=background", "Unknown=1"})
	if !app.NoPrune || !app.CreateNamespace || app.PrunePropagationPolicy != metav1.DeletePropagationBackground {
		t.Fatalf("%+v", app)
	}
	res := ResourceSyncOptions(obj("ConfigMap", "x", map[string]string{
		AnnotationSyncOptions: " Prune=true , Validate=false,SkipDryRunOnMissingResource=true,Delete=false,ServerSideApply=false"}), app)
	if res.NoPrune || !res.NoValidate || !res.SkipDryRunOnMissingResource || !res.NoDelete || !res.CreateNamespace {
		t.Fatalf("the annotation overrides the application: %+v", res)
	}
	if (SyncOptions{}).propagation() != metav1.DeletePropagationForeground {
		t.Error("foreground is the default propagation")
	}
	if c := ParseSyncOptions([]string{"Prune=confirm"}); !c.PruneConfirm || c.NoPrune {
		t.Errorf("%+v", c)
	}
}

func TestHookPhases(t *testing.T) {
	for _, tc := range []struct {
		ann    map[string]string
		isHook bool
		phases string
	}{
		{nil, false, "Sync"},
		{map[string]string{AnnotationHook: "Skip"}, false, ""},
		{map[string]string{AnnotationHook: "PreSync,PostSync"}, true, "PreSync,PostSync"},
		{map[string]string{AnnotationHook: "SyncFail"}, true, "SyncFail"},
		{map[string]string{AnnotationHook: "PostDelete"}, true, ""},
		{map[string]string{AnnotationHelmHook: "pre-install,pre-upgrade"}, true, "PreSync"},
		{map[string]string{AnnotationHelmHook: "post-upgrade"}, true, "PostSync"},
		{map[string]string{AnnotationHelmHook: "test"}, true, ""},
		{map[string]string{AnnotationHelmHook: "crd-install"}, false, "Sync"},
		{map[string]string{AnnotationHook: "Sync", AnnotationHelmHook: "pre-install"}, true, "Sync"},
	} {
		isHook, phases := hookPhases(obj("Job", "j", tc.ann))
		var names []string
		for _, p := range phases {
			names = append(names, string(p))
		}
		if isHook != tc.isHook || strings.Join(names, ",") != tc.phases {
			t.Errorf("%v: hook %v phases %v", tc.ann, isHook, names)
		}
	}
}

func TestDeletePoliciesAndWaves(t *testing.T) {
	if p := deletePolicies(obj("Job", "j", nil)); len(p) != 1 || !p[deleteBeforeCreation] {
		t.Errorf("default %v", p)
	}
	p := deletePolicies(obj("Job", "j", map[string]string{AnnotationHookDeletePolicy: "HookSucceeded",
		AnnotationHelmDeletePolicy: "hook-failed"}))
	if len(p) != 2 || !p[deleteOnSuccess] || !p[deleteOnFailure] {
		t.Errorf("%v", p)
	}
	for ann, want := range map[string]int{"": 0, "-3": -3, "x": 0} {
		if got := waveOf(obj("Job", "j", map[string]string{AnnotationSyncWave: ann})); got != want {
			t.Errorf("wave %q: %d", ann, got)
		}
	}
	if got := waveOf(obj("Job", "j", map[string]string{AnnotationHelmHookWeight: "7"})); got != 7 {
		t.Errorf("helm weight: %d", got)
	}
	started := time.Unix(1700000000, 0)
	h := obj("Job", "", nil)
	h.SetGenerateName("migrate-")
	if got := hookName(h, PhasePreSync, "abcdef0123", started); got != "migrate-abcdef0-presync-1700000000" {
		t.Errorf("%s", got)
	}
}

func newTask(kind, name string, phase SyncPhase, wave int) *task {
	o := obj(kind, name, nil)
	return &task{key: KeyOf(o), gvk: o.GroupVersionKind(), target: o, phase: phase, wave: wave, result: -1}
}

func names(tasks []*task) string {
	var out []string
	for _, t := range tasks {
		out = append(out, t.key.Name)
	}
	return strings.Join(out, ",")
}

func TestSortTasks(t *testing.T) {
	tasks := []*task{
		newTask("Widget", "cr", PhaseSync, 0),
		newTask("Deployment", "web", PhaseSync, 0),
		newTask("Job", "post", PhasePostSync, -5),
		newTask("Service", "svc", PhaseSync, 0),
		newTask("ConfigMap", "b", PhaseSync, 0),
		newTask("ConfigMap", "a", PhaseSync, 0),
		newTask("Namespace", "ns", PhaseSync, 0),
		newTask("IngressClass", "ic", PhaseSync, 0),
		newTask("Ingress", "ing", PhaseSync, 0),
		newTask("ConfigMap", "early", PhaseSync, -1),
		newTask("Job", "pre", PhasePreSync, 3),
	}
	sortTasks(tasks)
	if got, want := names(tasks), "pre,early,ns,a,b,svc,web,ic,ing,cr,post"; got != want {
		t.Fatalf("got %s\nwant %s", got, want)
	}
	if got := len(steps(tasks)); got != 4 {
		t.Errorf("%d steps", got)
	}
}

func TestOrderPrunes(t *testing.T) {
	prune := func(name string, wave int, last bool) *task {
		tk := newTask("ConfigMap", name, PhaseSync, wave)
		tk.live, tk.target, tk.opts.PruneLast = tk.target, nil, last
		return tk
	}
	tasks := []*task{prune("p-1", -1, false), prune("p2", 2, false), prune("p5", 5, false), prune("last", 0, true),
		newTask("ConfigMap", "apply7", PhaseSync, 7)}
	orderPrunes(tasks)
	got := map[string]int{}
	for _, tk := range tasks {
		got[tk.key.Name] = tk.wave
	}
	// distinct prune waves -1,0,2,5 swap symmetrically: -1<->5, 0<->2
	if got["p-1"] != 5 || got["p5"] != -1 || got["p2"] != 0 || got["last"] != 8 || got["apply7"] != 7 {
		t.Errorf("%v", got)
	}
}

func TestPullDependencies(t *testing.T) {
	ns := newTask("Namespace", "shop", PhaseSync, 5)
	crd := newTask("CustomResourceDefinition", "widgets.x.dev", PhaseSync, 2)
	crd.gvk = schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"}
	cm := newTask("ConfigMap", "c", PhaseSync, 1)
	cm.key.Namespace = "shop"
	hook := newTask("Job", "h", PhasePreSync, 0)
	hook.key.Namespace, hook.hook = "shop", true
	cr := newTask("Widget", "w", PhaseSync, 0)
	cr.gvk = schema.GroupVersionKind{Group: "x.dev", Version: "v1", Kind: "Widget"}
	tasks := []*task{ns, crd, cm, hook, cr}
	pullDependencies(tasks, map[schema.GroupKind]*task{{Group: "x.dev", Kind: "Widget"}: crd})
	if ns.phase != PhasePreSync || ns.wave != 0 {
		t.Errorf("namespace: %s %d", ns.phase, ns.wave)
	}
	if crd.phase != PhaseSync || crd.wave != 0 {
		t.Errorf("crd: %s %d", crd.phase, crd.wave)
	}
}
