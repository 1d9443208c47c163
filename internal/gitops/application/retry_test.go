package application

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
)

// A retry syncs the failed attempt's revision, or with retry.refresh the
// latest one (the revision is left to be resolved again).
func TestRetryRefresh(t *testing.T) {
	for _, refresh := range []bool{false, true} {
		finished := metav1.NewTime(time.Now().Add(-time.Hour))
		app := &gitopsv1alpha1.Application{Status: gitopsv1alpha1.ApplicationStatus{OperationState: &gitopsv1alpha1.OperationState{
			Operation: gitopsv1alpha1.Operation{
				Sync:  &gitopsv1alpha1.SyncOperation{Revision: "1111111", Revisions: []string{"1111111"}},
				Retry: gitopsv1alpha1.RetryStrategy{Limit: 2, Refresh: refresh},
			},
			Phase: gitopsv1alpha1.OperationFailed, FinishedAt: &finished,
		}}}
		op, wait := (&Reconciler{}).retryDue(app)
		if op == nil {
			t.Fatalf("refresh=%v: no retry (wait %s)", refresh, wait)
		}
		pinned := op.Sync.Revision == "1111111" && len(op.Sync.Revisions) == 1
		if refresh == pinned {
			t.Errorf("refresh=%v: retry syncs revision %q %v", refresh, op.Sync.Revision, op.Sync.Revisions)
		}
		if app.Status.OperationState.RetryCount != 1 {
			t.Errorf("refresh=%v: retry count %d", refresh, app.Status.OperationState.RetryCount)
		}
	}
}

// badConfigMap is refused by the API server (a key with a space).
const badConfigMap = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: broken}\ndata: {\"bad key\": x}\n"

// A failing automated sync is retried after its backoff, up to the limit,
// then left Failed with the reason; a fix pushed to Git syncs.
func TestRetryBacksOffUpToTheLimit(t *testing.T) {
	e := newEngine(t)
	ns := e.project(local)
	repo := e.gitRepo(map[string]string{"deploy/cm.yaml": configMapYAML("settings", "1"), "deploy/broken.yaml": badConfigMap})
	key := e.app(ns, "web", repo.URL, ns, func(a *gitopsv1alpha1.Application) {
		a.Spec.SyncPolicy.Retry = &gitopsv1alpha1.RetryStrategy{Limit: 2,
			Backoff: &gitopsv1alpha1.Backoff{Duration: "2s", Factor: ptr.To[int64](1)}}
	})
	failed := func(a *gitopsv1alpha1.Application) bool {
		return finished(a) && a.Status.OperationState.Phase == gitopsv1alpha1.OperationFailed
	}
	app := e.reconcileUntil(key, "the first attempt failed", failed)
	if st := app.Status.OperationState; st.RetryCount != 0 || !strings.Contains(st.Message, "bad key") {
		t.Fatalf("first attempt: retry count %d, message %q: want 0 and the refused key named", st.RetryCount, st.Message)
	}
	if msg := conditionOf(app, gitopsv1alpha1.ConditionSyncError); !strings.Contains(msg, "bad key") {
		t.Errorf("SyncError %q, want the refused key named", msg)
	}
	// Right after the failure: no retry yet, a requeue at the backoff (counted
	// from finishedAt, which has whole seconds).
	res, err := e.r.Reconcile(context.Background(), reconcile.Request{NamespacedName: key})
	if err != nil {
		t.Fatal(err)
	}
	if app = e.get(key); app.Status.OperationState.RetryCount != 0 || res.RequeueAfter <= 0 || res.RequeueAfter > 2*time.Second {
		t.Errorf("before the backoff: retry count %d, requeue after %s: want no retry, a requeue within 2s",
			app.Status.OperationState.RetryCount, res.RequeueAfter)
	}

	app = e.reconcileUntil(key, "two retries failed", func(a *gitopsv1alpha1.Application) bool {
		return failed(a) && a.Status.OperationState.RetryCount == 2
	})
	if st := app.Status.OperationState; !st.Operation.InitiatedBy.Automated || st.Operation.Retry.Limit != 2 {
		t.Errorf("retried operation %+v, want the automated one with its retry policy", st.Operation)
	}
	// At the limit nothing more is scheduled: the app comes back at its poll.
	if res, err = e.r.Reconcile(context.Background(), reconcile.Request{NamespacedName: key}); err != nil {
		t.Fatal(err)
	}
	if app = e.get(key); app.Status.OperationState.RetryCount != 2 || len(app.Status.History) != 0 || res.RequeueAfter != e.r.PollInterval {
		t.Fatalf("after the limit: retry count %d, history %d, requeue after %s: want 2, none and the poll (%s)",
			app.Status.OperationState.RetryCount, len(app.Status.History), res.RequeueAfter, e.r.PollInterval)
	}
	if e.configMapExists(ns, "settings") {
		t.Error("a sync with a refused object applied the rest")
	}

	fixed := repo.commit(map[string]string{"deploy/broken.yaml": ""})
	e.refresh(key)
	app = e.reconcileUntil(key, "the fix synced", func(a *gitopsv1alpha1.Application) bool {
		return finished(a) && a.Status.OperationState.Phase == gitopsv1alpha1.OperationSucceeded
	})
	if app.Status.OperationState.SyncResult.Revision != fixed || app.Status.OperationState.RetryCount != 0 || !e.configMapExists(ns, "settings") {
		t.Errorf("after the fix: %+v, want %s synced afresh", app.Status.OperationState, fixed)
	}
}

// Without a retry policy, an automated sync that failed is not tried again
// on the same commit: that would hammer the cluster with the same mistake.
func TestFailedRevisionIsNotRetriedWithoutPolicy(t *testing.T) {
	e := newEngine(t)
	ns := e.project(local)
	key := e.app(ns, "web", e.repo(map[string]string{"deploy/broken.yaml": badConfigMap}), ns)
	app := e.reconcileUntil(key, "the sync failed", finished)
	started := app.Status.OperationState.StartedAt
	if app = e.reconcile(key, 3); !app.Status.OperationState.StartedAt.Equal(&started) {
		t.Errorf("a failed revision was synced again at %s", app.Status.OperationState.StartedAt)
	}
	if app.Status.Sync.Status != gitopsv1alpha1.SyncStatusOutOfSync || conditionOf(app, gitopsv1alpha1.ConditionSyncError) == "" {
		t.Errorf("sync %s, conditions %+v: want OutOfSync and the SyncError kept", app.Status.Sync.Status, app.Status.Conditions)
	}
}

// Argo CD's backoff: duration × factor^attempts, at most maxDuration; 5s,
// 2 and 3m by default.
func TestBackoff(t *testing.T) {
	for _, tc := range []struct {
		b        *gitopsv1alpha1.Backoff
		attempts int64
		want     time.Duration
	}{
		{nil, 0, 5 * time.Second},
		{nil, 3, 40 * time.Second},
		{nil, 10, 3 * time.Minute},
		{&gitopsv1alpha1.Backoff{Duration: "1s", Factor: ptr.To[int64](3), MaxDuration: "10s"}, 2, 9 * time.Second},
		{&gitopsv1alpha1.Backoff{Duration: "1s", Factor: ptr.To[int64](3), MaxDuration: "10s"}, 3, 10 * time.Second},
		{&gitopsv1alpha1.Backoff{Duration: "1s", Factor: ptr.To[int64](2)}, 100, 3 * time.Minute}, // overflow
	} {
		if got := backoff(tc.b, tc.attempts); got != tc.want {
			t.Errorf("backoff(%+v, %d) = %s, want %s", tc.b, tc.attempts, got, tc.want)
		}
	}
}
