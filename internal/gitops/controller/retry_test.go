package controller

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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
