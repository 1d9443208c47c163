package controller

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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
