package application

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
)

// hold is a finalizer the test puts on a resource to catch it being deleted.
const hold = "test.gantry.dev/hold"

func withFinalizer(f string) func(*gitopsv1alpha1.Application) {
	return func(a *gitopsv1alpha1.Application) { a.Finalizers = []string{f} }
}

// deleteApp deletes the app as `gantry app delete` does (the cascade is
// chosen by the finalizer the app carries).
func (e *engine) deleteApp(key types.NamespacedName) {
	e.t.Helper()
	app := &gitopsv1alpha1.Application{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}
	if err := e.env.Client.Delete(context.Background(), app); err != nil {
		e.t.Fatal(err)
	}
}

// gone reports whether the app no longer exists, reconciling it once more
// first (the manager would, on the deletion).
func (e *engine) gone(key types.NamespacedName) bool {
	e.t.Helper()
	if _, err := e.r.Reconcile(context.Background(), reconcile.Request{NamespacedName: key}); err != nil {
		e.t.Fatalf("Reconcile %s: %v", key, err)
	}
	err := e.env.Client.Get(context.Background(), key, &gitopsv1alpha1.Application{})
	if err != nil && client.IgnoreNotFound(err) != nil {
		e.t.Fatal(err)
	}
	return err != nil
}

// A cascading delete removes the app's resources with the propagation its
// finalizer names and lets the app go only once they are gone: foreground,
// a resource waits for its own dependents; background, it goes at once and
// the garbage collector deletes them after.
func TestCascadeDeleteWaitsForTheResources(t *testing.T) {
	for _, tc := range []struct {
		name, finalizer string
		foreground      bool
	}{
		{"foreground", gitopsv1alpha1.ApplicationFinalizer, true},
		{"background", gitopsv1alpha1.ApplicationBackgroundFinalizer, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEngine(t)
			ns := e.project(local)
			key := e.app(ns, "web", e.repo(map[string]string{
				"deploy/a.yaml": configMapYAML("a", "1"),
				"deploy/b.yaml": configMapYAML("b", "1"),
			}), ns, withFinalizer(tc.finalizer))
			e.reconcileUntil(key, "the app synced", synced)
			// b gets a dependent, as a Deployment has its ReplicaSets, held
			// by a finalizer of the test's so that its deletion can be seen.
			ctx := context.Background()
			b, err := e.env.Kube.CoreV1().ConfigMaps(ns).Get(ctx, "b", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			block := true
			child := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "b-child", Namespace: ns, Finalizers: []string{hold},
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: "b", UID: b.UID, BlockOwnerDeletion: &block}}}}
			if _, err := e.env.Kube.CoreV1().ConfigMaps(ns).Create(ctx, child, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			release := func() {
				patch := []byte(`{"metadata":{"finalizers":null}}`)
				_, _ = e.env.Kube.CoreV1().ConfigMaps(ns).Patch(ctx, "b-child", types.MergePatchType, patch, metav1.PatchOptions{})
			}
			t.Cleanup(release)

			e.deleteApp(key)
			eventually(t, "a and b's dependent deleted", func() bool {
				c, err := e.env.Kube.CoreV1().ConfigMaps(ns).Get(ctx, "b-child", metav1.GetOptions{})
				return e.gone(key) || !e.configMapExists(ns, "a") && err == nil && c.DeletionTimestamp != nil
			})
			if tc.foreground {
				if !e.configMapExists(ns, "b") {
					t.Fatal("foreground: b went before its dependent")
				}
				if e.gone(key) {
					t.Fatal("the app went while one of its resources was still there")
				}
				release()
			}
			eventually(t, "the app gone once its resources are", func() bool { return e.gone(key) })
			if e.configMapExists(ns, "b") {
				t.Error("the app went, b is still there")
			}
			if !tc.foreground && !e.configMapExists(ns, "b-child") {
				t.Error("background: b's held dependent is gone, want it left to the garbage collector")
			}
		})
	}
}

// Without a cascade finalizer (`gantry app delete --cascade=false`), the app
// goes at once and its resources stay.
func TestNonCascadeDeleteLeavesTheResources(t *testing.T) {
	e := newEngine(t)
	ns := e.project(local)
	key := e.app(ns, "web", e.repo(map[string]string{"deploy/cm.yaml": configMapYAML("settings", "1")}), ns)
	e.reconcileUntil(key, "the app synced", synced)

	e.deleteApp(key)
	if !e.gone(key) {
		t.Fatal("an app without a cascade finalizer is still there")
	}
	if v := e.configMapValue(ns, "settings"); v != "1" {
		t.Errorf("settings v=%q after a non-cascading delete, want it left as it was", v)
	}
}

// When the resources cannot be reached, the app stays with a condition that
// names the problem and both ways out.
func TestCascadeDeleteOfAnUnreachableDestinationSaysWhy(t *testing.T) {
	e := newEngine(t)
	ns := e.project(local)
	key := e.app(ns, "web", e.repo(map[string]string{"deploy/cm.yaml": configMapYAML("settings", "1")}), ns,
		withFinalizer(gitopsv1alpha1.ApplicationFinalizer),
		func(a *gitopsv1alpha1.Application) { a.Spec.Destination.Server = "https://nowhere.example:6443" })
	e.deleteApp(key)
	if e.gone(key) {
		t.Fatal("the app went without its resources being deleted")
	}
	msg := conditionOf(e.get(key), gitopsv1alpha1.ConditionDeletionError)
	if !strings.Contains(msg, "nowhere.example") || !strings.Contains(msg, "remove the finalizer "+gitopsv1alpha1.ApplicationFinalizer) {
		t.Errorf("DeletionError %q: want the destination named and the finalizer to remove", msg)
	}
}
