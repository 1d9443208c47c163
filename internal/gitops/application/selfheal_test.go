package application

import (
	"context"
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
)

// edit changes the ConfigMap's value as `kubectl edit` would.
func (e *engine) edit(ns, name, value string) {
	e.t.Helper()
	patch := []byte(`{"data":{"v":"` + value + `"}}`)
	if _, err := e.env.Kube.CoreV1().ConfigMaps(ns).Patch(context.Background(), name, types.MergePatchType, patch,
		metav1.PatchOptions{FieldManager: "kubectl-edit"}); err != nil {
		e.t.Fatal(err)
	}
}

// With selfHeal, an edit of a synced resource is drift to revert: the next
// comparison after the change syncs the resource back to Git.
func TestSelfHealRevertsAnEdit(t *testing.T) {
	e := newEngine(t)
	ns := e.project(local)
	key := e.app(ns, "web", e.repo(map[string]string{"deploy/cm.yaml": configMapYAML("settings", "1")}), ns, selfHeal)
	e.reconcileUntil(key, "the app synced", synced)

	e.edit(ns, "settings", "edited")
	app := e.reconcileUntil(key, "the edit reverted", func(*gitopsv1alpha1.Application) bool {
		return e.configMapValue(ns, "settings") == "1"
	})
	app = e.reconcileUntil(key, "the app Synced again", synced)
	if len(app.Status.History) != 2 || !app.Status.History[1].InitiatedBy.Automated {
		t.Errorf("history %+v: want the heal recorded as a second automated sync", app.Status.History)
	}
}

// Without selfHeal, drift is shown (the app and the resource OutOfSync) but
// left as it is, Argo CD's default: someone may be debugging.
func TestWithoutSelfHealDriftIsShownNotReverted(t *testing.T) {
	e := newEngine(t)
	ns := e.project(local)
	key := e.app(ns, "web", e.repo(map[string]string{"deploy/cm.yaml": configMapYAML("settings", "1")}), ns)
	e.reconcileUntil(key, "the app synced", synced)

	e.edit(ns, "settings", "edited")
	app := e.reconcileUntil(key, "the drift shown", func(a *gitopsv1alpha1.Application) bool {
		return a.Status.Sync.Status == gitopsv1alpha1.SyncStatusOutOfSync
	})
	if r := resource(app, "ConfigMap", "settings"); r == nil || r.Status != gitopsv1alpha1.SyncStatusOutOfSync {
		t.Errorf("ConfigMap status %+v, want OutOfSync", r)
	}
	// More comparisons, as the poll would bring: still not reverted.
	app = e.reconcile(key, 3)
	if v := e.configMapValue(ns, "settings"); v != "edited" {
		t.Errorf("settings v=%q: drift reverted without selfHeal", v)
	}
	if len(app.Status.History) != 1 {
		t.Errorf("history %+v: no sync should have run", app.Status.History)
	}
}

// A field Git does not set belongs to whoever set it: a restart (`gantry app
// actions run restart`, kubectl rollout restart) is no drift, even with
// selfHeal.
func TestFieldsGitDoesNotSetAreNotDrift(t *testing.T) {
	e := newEngine(t)
	ns := e.project(local)
	key := e.app(ns, "web", e.repo(map[string]string{"deploy/web.yaml": fmt.Sprintf(webDeployment, 1, "1.27")}), ns, selfHeal)
	e.reconcileUntil(key, "the app synced", synced)

	ctx := context.Background()
	restart := []byte(`{"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":"2026-01-01T00:00:00Z"}}}}}`)
	if _, err := e.env.Kube.AppsV1().Deployments(ns).Patch(ctx, "web", types.StrategicMergePatchType, restart,
		metav1.PatchOptions{FieldManager: "kubectl-rollout"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the restart seen", func() bool {
		return strings.Contains(e.managed(key, "Deployment", "web").LiveState, "restartedAt")
	})
	app := e.reconcile(key, 5)
	if app.Status.Sync.Status != gitopsv1alpha1.SyncStatusSynced || len(app.Status.History) != 1 {
		t.Errorf("after a restart: %s with %d syncs, want Synced and no new sync", app.Status.Sync.Status, len(app.Status.History))
	}
	d, err := e.env.Kube.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil || d.Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"] == "" {
		t.Errorf("the restart was reverted: %v %v", err, d.Spec.Template.Annotations)
	}
}
