package application

import (
	"testing"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
)

// With prune, what leaves Git leaves the cluster; the sync result says so.
func TestPruneDeletesWhatLeftGit(t *testing.T) {
	e := newEngine(t)
	ns := e.project(local)
	repo := e.gitRepo(map[string]string{
		"deploy/keep.yaml": configMapYAML("keep", "1"),
		"deploy/gone.yaml": configMapYAML("gone", "1"),
	})
	key := e.app(ns, "web", repo.URL, ns)
	e.reconcileUntil(key, "the app synced", synced)

	second := repo.commit(map[string]string{"deploy/gone.yaml": ""})
	e.refresh(key)
	app := e.reconcileUntil(key, "the removal synced", func(a *gitopsv1alpha1.Application) bool {
		return a.Status.Sync.Revision == second && synced(a)
	})
	if e.configMapExists(ns, "gone") || !e.configMapExists(ns, "keep") {
		t.Errorf("after prune: gone exists %v, keep exists %v", e.configMapExists(ns, "gone"), e.configMapExists(ns, "keep"))
	}
	if r := resultFor(app, "ConfigMap", "gone"); r == nil || r.Status != gitopsv1alpha1.ResultPruned {
		t.Errorf("sync result for gone: %+v, want Pruned", r)
	}
	if resource(app, "ConfigMap", "gone") != nil {
		t.Error("a pruned resource is still listed in the status")
	}
}

// Without prune (the default), what leaves Git stays in the cluster and is
// listed as requiring pruning; a sync reports it skipped.
func TestWithoutPruneNothingIsDeleted(t *testing.T) {
	e := newEngine(t)
	ns := e.project(local)
	repo := e.gitRepo(map[string]string{
		"deploy/keep.yaml": configMapYAML("keep", "1"),
		"deploy/gone.yaml": configMapYAML("gone", "1"),
	})
	key := e.app(ns, "web", repo.URL, ns, func(a *gitopsv1alpha1.Application) { a.Spec.SyncPolicy.Automated.Prune = false })
	e.reconcileUntil(key, "the app synced", synced)

	second := repo.commit(map[string]string{"deploy/gone.yaml": "", "deploy/keep.yaml": configMapYAML("keep", "2")})
	e.refresh(key)
	e.reconcileUntil(key, "the new commit synced", func(a *gitopsv1alpha1.Application) bool {
		return a.Status.OperationState != nil && a.Status.OperationState.SyncResult != nil &&
			a.Status.OperationState.SyncResult.Revision == second && e.configMapValue(ns, "keep") == "2"
	})
	app := e.reconcile(key, 3)
	if !e.configMapExists(ns, "gone") {
		t.Fatal("a sync without prune deleted a resource")
	}
	if r := resultFor(app, "ConfigMap", "gone"); r == nil || r.Status != gitopsv1alpha1.ResultPruneSkipped {
		t.Errorf("sync result for gone: %+v, want PruneSkipped", r)
	}
	r := resource(app, "ConfigMap", "gone")
	if r == nil || !r.RequiresPruning || r.Status != gitopsv1alpha1.SyncStatusOutOfSync {
		t.Errorf("status of gone: %+v, want OutOfSync and requiresPruning", r)
	}
	if app.Status.Sync.Status != gitopsv1alpha1.SyncStatusOutOfSync {
		t.Errorf("app %s, want OutOfSync while a resource awaits pruning", app.Status.Sync.Status)
	}
}
