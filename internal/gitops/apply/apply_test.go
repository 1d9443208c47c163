package apply

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

const webManifest = `
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
data:
  color: blue
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx
`

func TestSyncReportsCreatedUnchangedConfigured(t *testing.T) {
	e := env(t)
	ns := e.namespace(t)
	opts := options("msgs", ns)

	r := Sync(context.Background(), e.cluster(), objects(t, webManifest), nil, opts)
	mustSucceed(t, r)
	if r.Message != "successfully synced (all tasks run)" {
		t.Errorf("message %q", r.Message)
	}
	if got := result(t, r, "Deployment", "web"); got.Message != "deployment.apps/web created" || got.Status != ResultSynced ||
		got.Namespace != ns || got.Group != "apps" || got.Version != "v1" || got.SyncPhase != PhaseSync {
		t.Errorf("deployment result %+v", got)
	}
	cm := e.get(t, gvrConfigMap, ns, "web-config")
	if cm == nil || cm.GetAnnotations()[trackingKey] != "gantry_msgs:/ConfigMap:"+ns+"/web-config" ||
		cm.GetLabels()["gantry.dev/app"] != "msgs" {
		t.Fatalf("configmap not stamped: %v", cm)
	}
	if m := cm.GetManagedFields(); len(m) == 0 || m[0].Manager != "gantry" || m[0].Operation != "Apply" {
		t.Errorf("not server-side applied by gantry: %+v", m)
	}

	r = Sync(context.Background(), e.cluster(), objects(t, webManifest), nil, opts)
	mustSucceed(t, r)
	if got := result(t, r, "ConfigMap", "web-config").Message; got != "configmap/web-config unchanged" {
		t.Errorf("second sync: %q", got)
	}

	changed := strings.Replace(webManifest, "color: blue", "color: green", 1)
	r = Sync(context.Background(), e.cluster(), objects(t, changed), nil, opts)
	mustSucceed(t, r)
	if got := result(t, r, "ConfigMap", "web-config").Message; got != "configmap/web-config configured" {
		t.Errorf("third sync: %q", got)
	}
	if got := result(t, r, "Deployment", "web").Message; got != "deployment.apps/web unchanged" {
		t.Errorf("third sync: %q", got)
	}
}

func TestSyncIsAllOrNothing(t *testing.T) {
	e := env(t)
	ns := e.namespace(t)
	manifest := webManifest + `
---
apiVersion: v1
kind: Service
metadata:
  name: bad-port
spec:
  ports:
  - port: 99999
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: unknown-field
bogus: true
---
apiVersion: nope.gantry.dev/v1
kind: Gadget
metadata:
  name: no-such-kind
`
	r := Sync(context.Background(), e.cluster(), objects(t, manifest), nil, options("aon", ns))
	if r.Phase != OperationFailed {
		t.Fatalf("phase %s: %s", r.Phase, r.Message)
	}
	for _, bad := range []string{"/Service bad-port in namespace " + ns, "/ConfigMap unknown-field", "nope.gantry.dev/Gadget no-such-kind"} {
		if !strings.Contains(r.Message, bad) {
			t.Errorf("message does not name %s: %s", bad, r.Message)
		}
	}
	if got := result(t, r, "Service", "bad-port"); got.Status != ResultSyncFailed {
		t.Errorf("bad-port: %+v", got)
	}
	for _, rr := range r.Resources {
		if rr.Status != ResultSyncFailed {
			t.Errorf("only failures are reported, got %+v", rr)
		}
	}
	if e.get(t, gvrConfigMap, ns, "web-config") != nil {
		t.Error("a valid object was applied although the sync was invalid")
	}
}

func TestSyncOrdersByPhaseWaveKindAndName(t *testing.T) {
	e := env(t)
	ns := e.namespace(t)
	manifest := `
apiVersion: v1
kind: ConfigMap
metadata: {name: late, annotations: {argocd.argoproj.io/sync-wave: "1"}}
---
apiVersion: v1
kind: Service
metadata: {name: svc}
spec: {ports: [{port: 80}]}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: b-config}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: a-config}
---
apiVersion: v1
kind: Secret
metadata: {name: secret}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: sa}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: early, annotations: {argocd.argoproj.io/sync-wave: "-1"}}
`
	r := Sync(context.Background(), e.cluster(), objects(t, manifest), nil, options("order", ns))
	mustSucceed(t, r)
	want := []string{"early", "sa", "secret", "a-config", "b-config", "svc", "late"}
	var got []string
	for _, rr := range r.Resources {
		got = append(got, rr.Name)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("order %v, want %v", got, want)
	}
	if w := result(t, r, "ConfigMap", "early").Wave; w != -1 {
		t.Errorf("wave %d", w)
	}
	// The API server saw them in that order: kine's resourceVersions are one counter.
	gvr := map[string]schema.GroupVersionResource{"ConfigMap": gvrConfigMap,
		"Service": {Version: "v1", Resource: "services"}, "Secret": {Version: "v1", Resource: "secrets"},
		"ServiceAccount": {Version: "v1", Resource: "serviceaccounts"}}
	prev := 0
	for _, rr := range r.Resources {
		obj := e.get(t, gvr[rr.Kind], ns, rr.Name)
		rv, _ := strconv.Atoi(obj.GetResourceVersion())
		if rv <= prev {
			t.Errorf("%s created (rv %d) before the object applied ahead of it (rv %d)", rr.Name, rv, prev)
		}
		prev = rv
	}
}

func TestWaveWaitsForHealth(t *testing.T) {
	e := env(t)
	ns := e.namespace(t)
	manifest := `
apiVersion: v1
kind: ConfigMap
metadata: {name: slow, annotations: {test.gantry.dev/health: progressing}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: after, annotations: {argocd.argoproj.io/sync-wave: "1"}}
`
	done, progress := background(e.cluster(), objects(t, manifest), nil, options("waits", ns))
	eventually(t, "the sync to wait for slow", func() bool {
		return progress() == "waiting for healthy state of /ConfigMap/slow"
	})
	if e.get(t, gvrConfigMap, ns, "after") != nil {
		t.Fatal("wave 1 applied before wave 0 was healthy")
	}
	e.setHealth(t, ns, "slow", "healthy")
	r := <-done
	mustSucceed(t, r)
	if e.get(t, gvrConfigMap, ns, "after") == nil {
		t.Fatal("wave 1 not applied")
	}
}

func TestDegradedResourceFailsTheSync(t *testing.T) {
	e := env(t)
	ns := e.namespace(t)
	manifest := `
apiVersion: v1
kind: ConfigMap
metadata: {name: broken, annotations: {test.gantry.dev/health: degraded}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: after, annotations: {argocd.argoproj.io/sync-wave: "1"}}
`
	r := Sync(context.Background(), e.cluster(), objects(t, manifest), nil, options("degraded", ns))
	if r.Phase != OperationFailed || !strings.Contains(r.Message, "completed unsuccessfully") || !strings.Contains(r.Message, "it broke") {
		t.Fatalf("%s: %s", r.Phase, r.Message)
	}
	if got := result(t, r, "ConfigMap", "broken"); got.Status != ResultSyncFailed {
		t.Errorf("%+v", got)
	}
	if e.get(t, gvrConfigMap, ns, "after") != nil {
		t.Fatal("wave 1 applied after wave 0 degraded")
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	e := env(t)
	ns := e.namespace(t)
	opts := options("dry", ns)
	opts.DryRun = true
	r := Sync(context.Background(), e.cluster(), objects(t, webManifest), nil, opts)
	mustSucceed(t, r)
	if got := result(t, r, "Deployment", "web").Message; got != "deployment.apps/web created (dry run)" {
		t.Errorf("%q", got)
	}
	if e.get(t, gvrConfigMap, ns, "web-config") != nil {
		t.Fatal("dry run created an object")
	}

	opts.DryRun = false
	mustSucceed(t, Sync(context.Background(), e.cluster(), objects(t, webManifest), nil, opts))
	opts.DryRun = true
	changed := strings.Replace(webManifest, "color: blue", "color: green", 1)
	r = Sync(context.Background(), e.cluster(), objects(t, changed), nil, opts)
	mustSucceed(t, r)
	if got := result(t, r, "ConfigMap", "web-config").Message; got != "configmap/web-config configured (dry run)" {
		t.Errorf("%q", got)
	}
	if got := result(t, r, "Deployment", "web").Message; got != "deployment.apps/web unchanged (dry run)" {
		t.Errorf("%q", got)
	}
	if data := e.get(t, gvrConfigMap, ns, "web-config").Object["data"].(map[string]any); data["color"] != "blue" {
		t.Fatal("dry run changed an object")
	}
}

func TestCRDAndItsResourcesInOneSync(t *testing.T) {
	e := env(t)
	ns := e.namespace(t)
	manifest := `
apiVersion: test.gantry.dev/v1
kind: Widget
metadata: {name: w1}
spec: {size: 3}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.test.gantry.dev, annotations: {argocd.argoproj.io/sync-wave: "5"}}
spec:
  group: test.gantry.dev
  scope: Namespaced
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
`
	r := Sync(context.Background(), e.cluster(), objects(t, manifest), nil, options("crd", ns))
	t.Cleanup(func() {
		e.dyn.Resource(schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}).
			Delete(context.Background(), "widgets.test.gantry.dev", deleteNow)
	})
	mustSucceed(t, r)
	crd := result(t, r, "CustomResourceDefinition", "widgets.test.gantry.dev")
	w := result(t, r, "Widget", "w1")
	if crd.Namespace != "" || crd.Wave != 0 {
		t.Errorf("the CRD should be cluster-scoped and pulled into its resource's wave: %+v", crd)
	}
	if w.Namespace != ns || w.Message != "widget.test.gantry.dev/w1 created" {
		t.Errorf("%+v", w)
	}
	if e.get(t, schema.GroupVersionResource{Group: "test.gantry.dev", Version: "v1", Resource: "widgets"}, ns, "w1") == nil {
		t.Fatal("widget not created")
	}
}

func TestCreateNamespace(t *testing.T) {
	e := env(t)
	ns := "t-created-namespace"
	t.Cleanup(func() { e.kube.CoreV1().Namespaces().Delete(context.Background(), ns, deleteNow) })
	opts := options("createns", ns)
	opts.SyncOptions = ParseSyncOptions([]string{"CreateNamespace=true"})

	opts.DryRun = true
	r := Sync(context.Background(), e.cluster(), objects(t, webManifest), nil, opts)
	mustSucceed(t, r)
	if got := result(t, r, "Namespace", ns).Message; got != "namespace/"+ns+" created (dry run)" {
		t.Errorf("%q", got)
	}
	if _, err := e.kube.CoreV1().Namespaces().Get(context.Background(), ns, getOpts); err == nil {
		t.Fatal("dry run created the namespace")
	}

	opts.DryRun = false
	r = Sync(context.Background(), e.cluster(), objects(t, webManifest), nil, opts)
	mustSucceed(t, r)
	if first := r.Resources[0]; first.Kind != "Namespace" || first.SyncPhase != PhasePreSync {
		t.Errorf("the namespace should come first, in PreSync: %+v", first)
	}
	nsObj, err := e.kube.CoreV1().Namespaces().Get(context.Background(), ns, getOpts)
	if err != nil {
		t.Fatal(err)
	}
	if _, tracked := nsObj.Annotations[trackingKey]; tracked {
		t.Error("the created namespace must not be tracked (it would be pruned)")
	}
	if e.get(t, gvrConfigMap, ns, "web-config") == nil {
		t.Fatal("configmap not created in the new namespace")
	}
}

func TestReplaceAndValidateOptions(t *testing.T) {
	e := env(t)
	ns := e.namespace(t)
	manifest := `
apiVersion: v1
kind: ConfigMap
metadata: {name: replaced, annotations: {argocd.argoproj.io/sync-options: Replace=true}}
data: {v: "1"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: lax, annotations: {argocd.argoproj.io/sync-options: "Replace=true,Validate=false"}}
bogus: true
`
	// Validate=false is fieldValidation=Ignore: creates and updates drop unknown
	// fields; server-side apply rejects them whatever the setting (as with kubectl).
	opts := options("replace", ns)
	r := Sync(context.Background(), e.cluster(), objects(t, manifest), nil, opts)
	mustSucceed(t, r)
	if got := result(t, r, "ConfigMap", "replaced").Message; got != "configmap/replaced created" {
		t.Errorf("%q", got)
	}
	r = Sync(context.Background(), e.cluster(), objects(t, strings.Replace(manifest, `v: "1"`, `v: "2"`, 1)), nil, opts)
	mustSucceed(t, r)
	if got := result(t, r, "ConfigMap", "replaced").Message; got != "configmap/replaced replaced" {
		t.Errorf("%q", got)
	}
	if m := e.get(t, gvrConfigMap, ns, "replaced").GetManagedFields(); len(m) == 0 || m[0].Operation != "Update" {
		t.Errorf("Replace=true should PUT, not apply: %+v", m)
	}
}

func TestWaitTimeoutFailsTheSync(t *testing.T) {
	e := env(t)
	ns := e.namespace(t)
	manifest := `
apiVersion: v1
kind: ConfigMap
metadata: {name: stuck, annotations: {test.gantry.dev/health: progressing}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: after, annotations: {argocd.argoproj.io/sync-wave: "1"}}
`
	opts := options("timeout", ns)
	opts.WaitTimeout = 300 * time.Millisecond
	r := Sync(context.Background(), e.cluster(), objects(t, manifest), nil, opts)
	if r.Phase != OperationFailed || !strings.Contains(r.Message, "/ConfigMap stuck in namespace "+ns+": timed out after 300ms waiting for healthy state of /ConfigMap/stuck") {
		t.Fatalf("%s: %s", r.Phase, r.Message)
	}
	if e.get(t, gvrConfigMap, ns, "after") != nil {
		t.Fatal("the next wave ran after a timeout")
	}
}

// Force=true deletes and re-creates: always with Replace=true, and without it
// when the apply is refused (here, data of an immutable ConfigMap changed).
// A dry run validates the new object and changes nothing.
func TestForce(t *testing.T) {
	e := env(t)
	ns := e.namespace(t)
	manifest := `
apiVersion: v1
kind: ConfigMap
metadata: {name: frozen, annotations: {argocd.argoproj.io/sync-options: Force=true}}
immutable: true
data: {v: "1"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: recreated, annotations: {argocd.argoproj.io/sync-options: "Force=true,Replace=true"}}
data: {v: "1"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: stuck}
immutable: true
data: {v: "1"}
`
	version := func(v string) string { return strings.ReplaceAll(manifest, `v: "1"`, `v: "`+v+`"`) }
	opts := options("force", ns)
	mustSucceed(t, Sync(context.Background(), e.cluster(), objects(t, manifest), nil, opts))
	uid := map[string]string{}
	for _, name := range []string{"frozen", "recreated", "stuck"} {
		uid[name] = string(e.get(t, gvrConfigMap, ns, name).GetUID())
	}

	// Without Force, the immutable one fails validation and nothing changes.
	r := Sync(context.Background(), e.cluster(), objects(t, version("2")), nil, opts)
	if r.Phase == OperationSucceeded || !strings.Contains(result(t, r, "ConfigMap", "stuck").Message, "immutable") {
		t.Fatalf("an immutable ConfigMap changed without Force: %s %+v", r.Phase, result(t, r, "ConfigMap", "stuck"))
	}
	if v := e.get(t, gvrConfigMap, ns, "recreated").Object["data"].(map[string]any)["v"]; v != "1" {
		t.Errorf("a failed validation still changed recreated: v=%v", v)
	}

	stuckless := func(v string) string {
		return version(v)[:strings.Index(version(v), "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: stuck}")]
	}
	dry := opts
	dry.DryRun = true
	r = Sync(context.Background(), e.cluster(), objects(t, stuckless("2")), nil, dry)
	mustSucceed(t, r)
	for _, name := range []string{"frozen", "recreated"} {
		if got := result(t, r, "ConfigMap", name).Message; got != "configmap/"+name+" replaced (forced, dry run)" {
			t.Errorf("dry run %s: %q", name, got)
		}
		if cm := e.get(t, gvrConfigMap, ns, name); string(cm.GetUID()) != uid[name] || cm.Object["data"].(map[string]any)["v"] != "1" {
			t.Errorf("a dry run re-created %s", name)
		}
	}

	r = Sync(context.Background(), e.cluster(), objects(t, stuckless("2")), nil, opts)
	mustSucceed(t, r)
	for _, name := range []string{"frozen", "recreated"} {
		if got := result(t, r, "ConfigMap", name).Message; got != "configmap/"+name+" replaced (forced)" {
			t.Errorf("%s: %q", name, got)
		}
		cm := e.get(t, gvrConfigMap, ns, name)
		if string(cm.GetUID()) == uid[name] || cm.Object["data"].(map[string]any)["v"] != "2" {
			t.Errorf("%s not re-created with the new data: uid %s (was %s), data %v", name, cm.GetUID(), uid[name], cm.Object["data"])
		}
	}
}
