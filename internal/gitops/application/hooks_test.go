package application

import (
	"slices"
	"strings"
	"testing"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
)

const (
	preSync      = "argocd.argoproj.io/hook: PreSync"
	postSync     = "argocd.argoproj.io/hook: PostSync"
	onSuccess    = "argocd.argoproj.io/hook-delete-policy: HookSucceeded"
	onFailure    = "argocd.argoproj.io/hook-delete-policy: HookFailed"
	hookFinalize = "argocd.argoproj.io/hook-finalizer"
)

func wave(n string) string { return "argocd.argoproj.io/sync-wave: '" + n + "'" }

// waitDone waits for a background Reconcile to return.
func (e *engine) waitDone(done <-chan error) {
	e.t.Helper()
	var err error
	eventually(e.t, "the sync to end", func() bool {
		select {
		case err = <-done:
			return true
		default:
			return false
		}
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

// A sync runs its PreSync hook, then the waves in order, each only once the
// one before is healthy, then its PostSync hook; the app's sync result lists
// them in that order, and each hook is deleted as its policy says.
func TestSyncRunsHooksAndWavesInOrder(t *testing.T) {
	e := newEngine(t)
	ns := e.project(local)
	key := e.app(ns, "web", e.repo(map[string]string{
		"deploy/presync.yaml":  jobYAML("migrate-", preSync),
		"deploy/first.yaml":    configMapYAML("first", "1", wave("-1")),
		"deploy/gate.yaml":     jobYAML("gate"), // wave 0: a Job is healthy once complete
		"deploy/last.yaml":     configMapYAML("last", "1", wave("1")),
		"deploy/postsync.yaml": jobYAML("smoke", postSync, onSuccess),
	}), ns, manual)
	e.operate(key, syncBy("alice"))
	done := e.reconcileInBackground(key)

	migrate := e.waitJob(ns, "migrate-")
	if e.configMapExists(ns, "first") {
		t.Fatal("wave -1 was applied before the PreSync hook completed")
	}
	e.finishJob(ns, migrate, true)
	e.waitJob(ns, "gate")
	if !e.configMapExists(ns, "first") || e.configMapExists(ns, "last") {
		t.Fatalf("with the wave 0 Job running: first exists %v (want true), last exists %v (want false)",
			e.configMapExists(ns, "first"), e.configMapExists(ns, "last"))
	}
	e.finishJob(ns, "gate", true)
	e.waitJob(ns, "smoke")
	if !e.configMapExists(ns, "last") {
		t.Fatal("the PostSync hook started before the last wave was applied")
	}
	e.finishJob(ns, "smoke", true)
	e.waitDone(done)

	app := e.reconcileUntil(key, "the app synced", synced)
	st := app.Status.OperationState
	if st.Phase != gitopsv1alpha1.OperationSucceeded {
		t.Fatalf("operation %s: %s", st.Phase, st.Message)
	}
	var order []string
	for _, r := range st.SyncResult.Resources {
		name := r.Name
		if r.HookType != "" {
			if r.HookPhase != gitopsv1alpha1.OperationSucceeded {
				t.Errorf("hook %s: phase %s (%s)", r.Name, r.HookPhase, r.Message)
			}
			name = string(r.HookType)
		}
		order = append(order, name)
	}
	if want := []string{"PreSync", "first", "gate", "last", "PostSync"}; !slices.Equal(order, want) {
		t.Errorf("sync result order %v, want %v", order, want)
	}
	// Hooks are run, not managed: neither listed nor making the app OutOfSync.
	for _, r := range app.Status.Resources {
		if r.Name == migrate || r.Name == "smoke" {
			t.Errorf("hook %s listed among the app's resources", r.Name)
		}
	}
	// BeforeHookCreation (the default) keeps the hook until the next sync;
	// HookSucceeded deletes it now. Neither keeps gantry's finalizer.
	if js := e.jobs(ns, "migrate-"); len(js) != 1 || slices.Contains(js[0].Finalizers, hookFinalize) {
		t.Errorf("PreSync hook after the sync: %+v, want it kept without the hook finalizer", js)
	}
	eventually(t, "the HookSucceeded hook deleted", func() bool {
		js := e.jobs(ns, "smoke")
		return len(js) == 0 || js[0].DeletionTimestamp != nil
	})
}

// A failed PreSync hook fails the sync before anything of the app is
// applied; the app says why, and the hook goes (HookFailed).
func TestFailedHookStopsTheSync(t *testing.T) {
	e := newEngine(t)
	ns := e.project(local)
	key := e.app(ns, "web", e.repo(map[string]string{
		"deploy/presync.yaml": jobYAML("migrate", preSync, onFailure),
		"deploy/cm.yaml":      configMapYAML("settings", "1"),
	}), ns, manual)
	e.operate(key, syncBy("alice"))
	done := e.reconcileInBackground(key)
	e.finishJob(ns, e.waitJob(ns, "migrate"), false)
	e.waitDone(done)

	app := e.reconcile(key, 3)
	st := app.Status.OperationState
	if st == nil || st.Phase != gitopsv1alpha1.OperationFailed {
		t.Fatalf("operation state %+v, want Failed", st)
	}
	if r := resultFor(app, "Job", "migrate"); r == nil || r.HookPhase != gitopsv1alpha1.OperationFailed {
		t.Errorf("hook result %+v, want Failed", r)
	}
	if msg := conditionOf(app, gitopsv1alpha1.ConditionSyncError); msg == "" || !strings.Contains(msg, st.Message) {
		t.Errorf("SyncError %q, want the operation's message %q", msg, st.Message)
	}
	if e.configMapExists(ns, "settings") {
		t.Error("the Sync phase ran after its PreSync hook failed")
	}
	if len(app.Status.History) != 0 {
		t.Errorf("history %+v: a failed sync is not history", app.Status.History)
	}
	eventually(t, "the HookFailed hook deleted", func() bool {
		js := e.jobs(ns, "migrate")
		return len(js) == 0 || js[0].DeletionTimestamp != nil
	})
}
