package application

import (
	"strings"
	"testing"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
)

// Without the grant to deploy into the host (the chart's rbac.hostGitOps:
// false), an app for the host is refused before anything is written, with
// the grant and the setting named; a requested sync ends with that reason.
func TestNoHostAppsRefusesHostObjects(t *testing.T) {
	e := newEngine(t)
	e.r.NoHostApps = true
	ns := e.project(platformv1alpha1.ProjectSpec{LocalRepositories: true})
	key := e.app(ns, "web", e.repo(map[string]string{"deploy/cm.yaml": configMapYAML("settings", "1")}), ns, manual,
		func(a *gitopsv1alpha1.Application) { a.Operation = syncBy("alice") })
	app := e.reconcileUntil(key, "the app refused", func(a *gitopsv1alpha1.Application) bool {
		return conditionOf(a, gitopsv1alpha1.ConditionInvalidSpecError) != ""
	})
	msg := conditionOf(app, gitopsv1alpha1.ConditionInvalidSpecError)
	for _, want := range []string{"forbidden", "ClusterRole gantry-gitops-host", "rbac.hostGitOps: true", "virtual cluster"} {
		if !strings.Contains(msg, want) {
			t.Errorf("condition %q lacks %q", msg, want)
		}
	}
	app = e.reconcileUntil(key, "alice's sync ended", finished)
	if st := app.Status.OperationState; st.Phase != gitopsv1alpha1.OperationError || !strings.Contains(st.Message, "rbac.hostGitOps") {
		t.Errorf("the sync ended %s: %q; want Error with the reason", st.Phase, st.Message)
	}
	if v := e.configMapValue(ns, "settings"); v != "" {
		t.Errorf("the refused app's ConfigMap was written (%q)", v)
	}
}
