package application

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
)

// conditions collects the conditions one reconcile finds; apply replaces the
// app's list with them, keeping the transition time of those that did not change.
// A SyncError outlives the reconcile that set it while the last operation stays
// failed, as Argo CD shows it until the next sync.
type conditions struct {
	old   []gitopsv1alpha1.ApplicationCondition
	cur   map[string]string
	order []string
}

func newConditions(app *gitopsv1alpha1.Application) *conditions {
	c := &conditions{old: app.Status.Conditions, cur: map[string]string{}}
	if st := app.Status.OperationState; st != nil && (st.Phase == gitopsv1alpha1.OperationFailed || st.Phase == gitopsv1alpha1.OperationError) {
		for _, o := range c.old {
			if o.Type == gitopsv1alpha1.ConditionSyncError {
				c.set(o.Type, o.Message)
			}
		}
	}
	return c
}

func (c *conditions) set(typ, msg string) {
	if _, ok := c.cur[typ]; !ok {
		c.order = append(c.order, typ)
	}
	c.cur[typ] = msg
}

func (c *conditions) clear(typ string) {
	delete(c.cur, typ)
}

func (c *conditions) apply(app *gitopsv1alpha1.Application) {
	var out []gitopsv1alpha1.ApplicationCondition
	now := metav1.Now()
	for _, t := range c.order {
		msg, ok := c.cur[t]
		if !ok {
			continue
		}
		cond := gitopsv1alpha1.ApplicationCondition{Type: t, Message: msg, LastTransitionTime: &now}
		for _, o := range c.old {
			if o.Type == t && o.Message == msg {
				cond.LastTransitionTime = o.LastTransitionTime
			}
		}
		out = append(out, cond)
	}
	app.Status.Conditions = out
}

// fail ends a reconcile on a problem the user has to see: err becomes the
// condition condType, and the result says when to come back. Every such exit
// goes through here (reconcile's own fail adds what an app that cannot be
// compared needs) and returns no error: the condition is the report, and
// errors worth a retry with backoff (the API server busy) are returned to
// the manager instead.
func (c *conditions) fail(condType string, err error, result reconcile.Result) reconcile.Result {
	c.set(condType, err.Error())
	return result
}

// endOperation ends the app's running operation with phase and msg, and is
// the one path that sets or clears SyncError: a failed operation is shown
// as one until the next sync succeeds.
func (c *conditions) endOperation(st *gitopsv1alpha1.OperationState, phase gitopsv1alpha1.OperationPhase, msg string) {
	now := metav1.Now()
	st.Phase, st.Message, st.FinishedAt = phase, msg, &now
	if phase == gitopsv1alpha1.OperationSucceeded {
		c.clear(gitopsv1alpha1.ConditionSyncError)
	} else {
		c.set(gitopsv1alpha1.ConditionSyncError, msg)
	}
}
