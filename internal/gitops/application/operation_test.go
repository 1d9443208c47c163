package application

import (
	"strings"
	"testing"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
)

// A sync by hand applies the branch's latest commit and is recorded in the
// history with who asked; a rollback to a history entry applies that entry's
// commit (the app then shows OutOfSync with its branch) and is history too.
func TestManualSyncAndRollback(t *testing.T) {
	e := newEngine(t)
	ns := e.project(local)
	repo := e.gitRepo(map[string]string{"deploy/cm.yaml": configMapYAML("settings", "1")})
	first := repo.head()
	key := e.app(ns, "web", repo.URL, ns, manual)

	e.operate(key, syncBy("alice"))
	app := e.reconcileUntil(key, "alice's sync", finished)
	if st := app.Status.OperationState; st.Phase != gitopsv1alpha1.OperationSucceeded || st.Operation.InitiatedBy.Username != "alice" {
		t.Fatalf("operation state %+v: want alice's sync Succeeded", st)
	}
	if v := e.configMapValue(ns, "settings"); v != "1" {
		t.Fatalf("settings v=%q, want 1", v)
	}

	second := repo.commit(map[string]string{"deploy/cm.yaml": configMapYAML("settings", "2")})
	// A sync asks Git again: no refresh needed to get the new commit.
	e.operate(key, syncBy("alice"))
	app = e.reconcileUntil(key, "the second sync", func(a *gitopsv1alpha1.Application) bool {
		return finished(a) && len(a.Status.History) == 2
	})
	if v := e.configMapValue(ns, "settings"); v != "2" || app.Status.Sync.Revision != second {
		t.Fatalf("settings v=%q at %s, want 2 at %s", v, app.Status.Sync.Revision, second)
	}

	op, err := app.RollbackOperation(app.Status.History[0].ID, "bob")
	if err != nil {
		t.Fatal(err)
	}
	e.operate(key, op)
	app = e.reconcileUntil(key, "bob's rollback", func(a *gitopsv1alpha1.Application) bool {
		return finished(a) && len(a.Status.History) == 3
	})
	if v := e.configMapValue(ns, "settings"); v != "1" {
		t.Errorf("settings v=%q after the rollback, want 1", v)
	}
	h := app.Status.History
	if h[0].Revision != first || h[1].Revision != second || h[2].Revision != first {
		t.Errorf("history revisions %s, %s, %s: want %s, %s, %s", h[0].Revision, h[1].Revision, h[2].Revision, first, second, first)
	}
	if h[2].InitiatedBy.Username != "bob" || h[0].InitiatedBy.Username != "alice" || h[2].ID != h[1].ID+1 {
		t.Errorf("history %+v: want ids in order, alice's syncs and bob's rollback", h)
	}
	// The comparison after the sync sees the branch's head and the rolled
	// back cluster.
	app = e.reconcileUntil(key, "the app OutOfSync with its branch", func(a *gitopsv1alpha1.Application) bool {
		return a.Status.Sync.Status == gitopsv1alpha1.SyncStatusOutOfSync
	})
	if app.Status.Sync.Revision != second {
		t.Errorf("after a rollback the app compares with %s, want the branch's %s", app.Status.Sync.Revision, second)
	}
}

// A dry run checks and reports, and changes neither the cluster nor the history.
func TestDryRunChangesNothing(t *testing.T) {
	e := newEngine(t)
	ns := e.project(local)
	key := e.app(ns, "web", e.repo(map[string]string{"deploy/cm.yaml": configMapYAML("settings", "1")}), ns, manual)
	op := syncBy("alice")
	op.Sync.DryRun = true
	e.operate(key, op)
	app := e.reconcileUntil(key, "the dry run", finished)
	if app.Status.OperationState.Phase != gitopsv1alpha1.OperationSucceeded {
		t.Errorf("dry run %s: %s", app.Status.OperationState.Phase, app.Status.OperationState.Message)
	}
	if e.configMapExists(ns, "settings") || len(app.Status.History) != 0 {
		t.Errorf("a dry run applied (%v) or entered history (%d entries)", e.configMapExists(ns, "settings"), len(app.Status.History))
	}
}

// An operation that cannot run ends at once with the reason, in the
// operation state and as a SyncError, so that whoever asked is not left
// waiting, and nothing is applied.
func TestBadOperationEndsAtOnceWithTheReason(t *testing.T) {
	e := newEngine(t)
	ns := e.project(local)
	url := e.repo(map[string]string{"deploy/cm.yaml": configMapYAML("settings", "1")})

	// Options no one knows.
	key := e.app(ns, "web", url, ns, manual)
	op := syncBy("alice")
	op.Sync.SyncOptions = []string{"Replace=maybe", "Turbo=true"}
	e.operate(key, op)
	app := e.reconcileUntil(key, "the operation ended", finished)
	st := app.Status.OperationState
	if st.Phase != gitopsv1alpha1.OperationError || !strings.Contains(st.Message, `"Turbo=true"`) || !strings.Contains(st.Message, "operation.sync.syncOptions") {
		t.Errorf("operation %s: %q, want Error naming the unknown option", st.Phase, st.Message)
	}
	if conditionOf(app, gitopsv1alpha1.ConditionSyncError) != st.Message {
		t.Errorf("SyncError %q, want %q", conditionOf(app, gitopsv1alpha1.ConditionSyncError), st.Message)
	}

	// An app that cannot be compared (no such branch): the sync asked for
	// ends with the comparison's error.
	key = e.app(ns, "norev", url, ns, manual, func(a *gitopsv1alpha1.Application) { a.Spec.Source.TargetRevision = "no-such-branch" })
	e.operate(key, syncBy("alice"))
	app = e.reconcileUntil(key, "the operation ended", finished)
	st = app.Status.OperationState
	if st.Phase != gitopsv1alpha1.OperationError || !strings.Contains(st.Message, "no-such-branch") {
		t.Errorf("operation %s: %q, want Error naming the branch", st.Phase, st.Message)
	}
	if !strings.Contains(conditionOf(app, gitopsv1alpha1.ConditionComparisonError), "no-such-branch") {
		t.Errorf("conditions %+v, want a ComparisonError naming the branch", app.Status.Conditions)
	}
	if app.Status.Sync.Status != gitopsv1alpha1.SyncStatusUnknown {
		t.Errorf("sync status %s, want Unknown", app.Status.Sync.Status)
	}
	if e.configMapExists(ns, "settings") {
		t.Error("a failed operation applied")
	}
}
