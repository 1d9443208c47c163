package application

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/gitops/livestate"
)

// A project member's Applications, each trying to reach past the project;
// what the engine may do for them is decided before the first write.

const configMap = `apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {a: "1"}
`

const escalation = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: tenant-is-cluster-admin}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: User, name: mallory, apiGroup: rbac.authorization.k8s.io}]
`

// local lets the tests use file:// repositories; nothing else.
var local = platformv1alpha1.ProjectSpec{LocalRepositories: true}

func (e *engine) configMapExists(ns, name string) bool {
	e.t.Helper()
	_, err := e.env.Kube.CoreV1().ConfigMaps(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		e.t.Fatal(err)
	}
	return err == nil
}

func TestAppDeploysIntoItsProjectNamespace(t *testing.T) {
	e := newEngine(t)
	ns := e.project(local)
	key := e.app(ns, "web", e.repo(map[string]string{"deploy/cm.yaml": configMap}), ns)
	app := e.reconcile(key, 5)
	if app.Status.Sync.Status != gitopsv1alpha1.SyncStatusSynced || !e.configMapExists(ns, "settings") {
		t.Fatalf("sync %s, conditions %+v: want the ConfigMap applied in %s", app.Status.Sync.Status, app.Status.Conditions, ns)
	}
}

func TestAppCannotWriteGantrySystemOrBecomeClusterAdmin(t *testing.T) {
	e := newEngine(t)
	ns := e.project(local)
	// The ConfigMap alone would be fine in the project's namespace; the set
	// also holds a ClusterRoleBinding, so none of it may be written.
	cm := strings.Replace(configMap, "{name: settings}", "{name: settings, namespace: "+ns+"}", 1)
	key := e.app(ns, "pwn", e.repo(map[string]string{"deploy/cm.yaml": cm, "deploy/crb.yaml": escalation}), ns)
	app := e.reconcile(key, 5)
	msg := conditionOf(app, gitopsv1alpha1.ConditionInvalidSpecError)
	if !strings.Contains(msg, "ClusterRoleBinding.rbac.authorization.k8s.io tenant-is-cluster-admin") || !strings.Contains(msg, "spec.clusterResourceWhitelist") {
		t.Errorf("InvalidSpecError = %q, want the ClusterRoleBinding and the rule named", msg)
	}
	if e.configMapExists(ns, "settings") {
		t.Error("the ConfigMap was applied although the set holds a refused object: the check must come before the first write")
	}
	if _, err := e.env.Kube.RbacV1().ClusterRoleBindings().Get(context.Background(), "tenant-is-cluster-admin", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("ClusterRoleBinding: %v, want it never created", err)
	}

	// Straight at gantry's own namespace: refused by destination.
	key = e.app(ns, "rbac-cm", e.repo(map[string]string{"deploy/cm.yaml": configMap}), "gantry-system")
	app = e.reconcile(key, 5)
	if msg := conditionOf(app, gitopsv1alpha1.ConditionInvalidSpecError); !strings.Contains(msg, "namespace gantry-system") || !strings.Contains(msg, "spec.allowedDestinations") {
		t.Errorf("InvalidSpecError = %q, want the destination refused", msg)
	}
	if app.Status.Sync.Status != gitopsv1alpha1.SyncStatusUnknown {
		t.Errorf("sync status %s, want Unknown", app.Status.Sync.Status)
	}

	// An admin's grant opens a namespace; the rest stays closed.
	p := &platformv1alpha1.Project{}
	if err := e.env.Client.Get(context.Background(), client.ObjectKey{Name: strings.TrimPrefix(ns, "p-")}, p); err != nil {
		t.Fatal(err)
	}
	if _, err := e.env.Kube.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "granted-" + ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = e.env.Kube.CoreV1().Namespaces().Delete(context.Background(), "granted-"+ns, metav1.DeleteOptions{})
	})
	p.Spec.AllowedDestinations = []platformv1alpha1.ProjectDestination{{Server: "https://kubernetes.default.svc", Namespace: "granted-*"}}
	if err := e.env.Client.Update(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	key = e.app(ns, "granted", e.repo(map[string]string{"deploy/cm.yaml": configMap}), "granted-"+ns)
	if app = e.reconcile(key, 5); !e.configMapExists("granted-"+ns, "settings") {
		t.Fatalf("a granted namespace was not deployed: %+v", app.Status.Conditions)
	}
}

func TestLocalRepositoryIsNotReadWithoutPermission(t *testing.T) {
	e := newEngine(t)
	ns := e.project(platformv1alpha1.ProjectSpec{}) // no localRepositories
	url := e.repo(map[string]string{"deploy/cm.yaml": configMap})
	key := e.app(ns, "peek", url, ns)
	app := e.reconcile(key, 3)
	if msg := conditionOf(app, gitopsv1alpha1.ConditionInvalidSpecError); !strings.Contains(msg, "spec.localRepositories") {
		t.Errorf("InvalidSpecError = %q, want local repositories refused", msg)
	}
	if len(e.fetched.resolved) != 0 {
		t.Errorf("the engine asked git for %v: a refused repository must not be read at all", e.fetched.resolved)
	}

	// Nor through the API's view of the app (manifests, diff, tree).
	if _, err := e.r.Manifests(context.Background(), app, ""); err == nil || !strings.Contains(err.Error(), "spec.localRepositories") {
		t.Errorf("Manifests: %v, want the refusal", err)
	}
	if _, err := e.r.ManagedResources(context.Background(), app); err == nil {
		t.Error("ManagedResources answered for a refused repository")
	}
	if len(e.fetched.resolved) != 0 {
		t.Errorf("the API path read %v", e.fetched.resolved)
	}
}

func TestAppOutsideItsProject(t *testing.T) {
	e := newEngine(t)
	url := e.repo(map[string]string{"deploy/cm.yaml": configMap})
	// In a namespace that is no project's.
	plain := e.env.Namespace(t)
	app := e.reconcile(e.app(plain, "stray", url, plain), 3)
	if msg := conditionOf(app, gitopsv1alpha1.ConditionInvalidSpecError); !strings.Contains(msg, "live in their project's namespace") {
		t.Errorf("InvalidSpecError = %q", msg)
	}
	// Claiming another project than the one holding it.
	ns := e.project(local)
	key := e.app(ns, "claim", url, ns)
	stored := &gitopsv1alpha1.Application{}
	if err := e.env.Client.Get(context.Background(), key, stored); err != nil {
		t.Fatal(err)
	}
	stored.Spec.Project = "other"
	if err := e.env.Client.Update(context.Background(), stored); err != nil {
		t.Fatal(err)
	}
	app = e.reconcile(key, 3)
	if msg := conditionOf(app, gitopsv1alpha1.ConditionInvalidSpecError); !strings.Contains(msg, `spec.project "other"`) {
		t.Errorf("InvalidSpecError = %q", msg)
	}
	if e.configMapExists(plain, "settings") || e.configMapExists(ns, "settings") {
		t.Error("a refused app deployed")
	}
}

func TestPruneLeavesWhatTheProjectMayNotTouch(t *testing.T) {
	e := newEngine(t)
	ns := e.project(local)
	key := e.app(ns, "web", e.repo(map[string]string{"deploy/cm.yaml": configMap}), ns)
	// An object outside the project carrying the app's tracking marks, as if
	// the app had put it there: prune must not delete it.
	victim := e.env.Namespace(t)
	planted := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: victim, Name: "precious",
		Labels:      map[string]string{InstanceLabel: livestate.InstanceValue(key.Namespace, key.Name)},
		Annotations: map[string]string{TrackingAnnotation: key.Namespace + "_" + key.Name + ":/ConfigMap:" + victim + "/precious"}}}
	if _, err := e.env.Kube.CoreV1().ConfigMaps(victim).Create(context.Background(), planted, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	app := e.reconcile(key, 5)
	if !e.configMapExists(ns, "settings") {
		t.Fatalf("the app did not sync: %+v", app.Status.Conditions)
	}
	if !e.configMapExists(victim, "precious") {
		t.Fatal("prune deleted an object outside the project")
	}
	for _, r := range app.Status.Resources {
		if r.Namespace == victim {
			t.Errorf("status lists %s/%s, outside the project", r.Namespace, r.Name)
		}
	}
}

func TestNamespaceAProjectCreatesOnTheHostEnforcesItsLevel(t *testing.T) {
	e := newEngine(t)
	ns := e.project(platformv1alpha1.ProjectSpec{LocalRepositories: true, PodSecurity: "restricted",
		AllowedDestinations: []platformv1alpha1.ProjectDestination{{Server: "https://kubernetes.default.svc", Namespace: "made-*"}}})
	target := "made-" + strings.TrimPrefix(ns, "p-")
	t.Cleanup(func() {
		_ = e.env.Kube.CoreV1().Namespaces().Delete(context.Background(), target, metav1.DeleteOptions{})
	})
	key := e.app(ns, "web", e.repo(map[string]string{"deploy/cm.yaml": configMap}), target)
	app := &gitopsv1alpha1.Application{}
	if err := e.env.Client.Get(context.Background(), key, app); err != nil {
		t.Fatal(err)
	}
	app.Spec.SyncPolicy.SyncOptions = []string{"CreateNamespace=true"}
	if err := e.env.Client.Update(context.Background(), app); err != nil {
		t.Fatal(err)
	}
	app = e.reconcile(key, 5)
	got, err := e.env.Kube.CoreV1().Namespaces().Get(context.Background(), target, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("namespace %s: %v (app conditions %+v)", target, err, app.Status.Conditions)
	}
	if l := got.Labels["pod-security.kubernetes.io/enforce"]; l != "restricted" {
		t.Errorf("namespace labels %v: want pod-security.kubernetes.io/enforce=restricted, the project's level", got.Labels)
	}
}
