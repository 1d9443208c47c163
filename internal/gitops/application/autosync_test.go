package application

import (
	"context"
	"testing"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
	"gantry.dev/gantry/internal/gitops/webhook"
)

// An automated app syncs without anyone asking, and again when a push to
// its branch comes in; a push to another branch leaves it alone.
func TestAutomatedSyncFollowsPushes(t *testing.T) {
	e := newEngine(t)
	ns := e.project(local)
	repo := e.gitRepo(map[string]string{"deploy/cm.yaml": configMapYAML("settings", "1")})
	first := repo.head()
	key := e.app(ns, "web", repo.URL, ns)

	app := e.reconcileUntil(key, "the app synced", synced)
	if v := e.configMapValue(ns, "settings"); v != "1" {
		t.Fatalf("settings v=%q, want 1", v)
	}
	st := app.Status.OperationState
	if st == nil || st.Phase != gitopsv1alpha1.OperationSucceeded || !st.Operation.InitiatedBy.Automated || st.SyncResult == nil || st.SyncResult.Revision != first {
		t.Fatalf("operation state %+v: want an automated sync of %s Succeeded", st, first)
	}
	if len(app.Status.History) != 1 || app.Status.History[0].Revision != first {
		t.Errorf("history %+v: want one entry for %s", app.Status.History, first)
	}

	// The repository moves on, but only another branch is announced: the
	// app keeps its commit until its poll comes round (a minute here).
	second := repo.commit(map[string]string{"deploy/cm.yaml": configMapYAML("settings", "2")})
	push := func(branch string) {
		e.r.OnPush(context.Background(), &webhook.Push{RepoURLs: []string{repo.URL}, Ref: "refs/heads/" + branch, Branch: branch, After: second})
	}
	push("feature")
	if app = e.reconcile(key, 3); app.Status.Sync.Revision != first || e.configMapValue(ns, "settings") != "1" {
		t.Fatalf("a push to another branch refreshed the app: revision %s", app.Status.Sync.Revision)
	}

	push("main")
	app = e.reconcileUntil(key, "the pushed commit synced", func(a *gitopsv1alpha1.Application) bool {
		return a.Status.Sync.Revision == second && synced(a)
	})
	if v := e.configMapValue(ns, "settings"); v != "2" {
		t.Errorf("settings v=%q after the push, want 2", v)
	}
	if len(app.Status.History) != 2 || app.Status.History[1].Revision != second {
		t.Errorf("history %+v: want a second entry for %s", app.Status.History, second)
	}
}

// A commit that leaves the app with no manifests at all is more likely a
// mistake than a wish to delete everything: the automated policy does not
// sync it unless allowEmpty says so (Argo CD's rule).
func TestAutomatedSyncDoesNotEmptyTheAppWithoutAllowEmpty(t *testing.T) {
	e := newEngine(t)
	ns := e.project(local)
	repo := e.gitRepo(map[string]string{"deploy/cm.yaml": configMapYAML("settings", "1"), "deploy/README.md": "manifests\n"})
	key := e.app(ns, "web", repo.URL, ns)
	e.reconcileUntil(key, "the app synced", synced)

	repo.commit(map[string]string{"deploy/cm.yaml": ""})
	e.refresh(key)
	app := e.reconcile(key, 3)
	if app.Status.Sync.Status != gitopsv1alpha1.SyncStatusOutOfSync {
		t.Errorf("sync %s, want OutOfSync: Git lost the ConfigMap", app.Status.Sync.Status)
	}
	if r := resource(app, "ConfigMap", "settings"); r == nil || !r.RequiresPruning {
		t.Errorf("ConfigMap status %+v, want requiresPruning", r)
	}
	if !e.configMapExists(ns, "settings") || len(app.Status.History) != 1 {
		t.Fatalf("an empty commit was synced without allowEmpty (history %d entries)", len(app.Status.History))
	}

	if err := e.update(key, func(a *gitopsv1alpha1.Application) { a.Spec.SyncPolicy.Automated.AllowEmpty = true }); err != nil {
		t.Fatal(err)
	}
	e.reconcileUntil(key, "the empty commit synced", synced)
	if e.configMapExists(ns, "settings") {
		t.Error("with allowEmpty the ConfigMap is pruned")
	}
}
