package application

import (
	"context"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
)

// Each mistake in an app or its repository is reported on the app, in the
// condition a user looks at, naming the problem; nothing of the app is
// applied, not even its valid manifests.
func TestBadInputIsReportedAndNothingApplied(t *testing.T) {
	e := newEngine(t)
	ns := e.project(local)
	url := e.repo(map[string]string{
		"good/cm.yaml":     configMapYAML("settings", "1"),
		"malformed/a.yaml": configMapYAML("good", "1"),
		"malformed/b.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bad\ndata: [\n",
		"invalid/a.yaml":   configMapYAML("fine", "1"),
		"invalid/b.yaml":   badConfigMap,
		"unknown/a.yaml":   "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n",
		"nameless/cm.yaml": "apiVersion: v1\nkind: ConfigMap\ndata: {a: b}\n",
		"duplicate/a.yaml": configMapYAML("twice", "1"),
		"duplicate/b.yaml": configMapYAML("twice", "2"),
	})
	path := func(p string) func(*gitopsv1alpha1.Application) {
		return func(a *gitopsv1alpha1.Application) { a.Spec.Source.Path = p }
	}
	for _, tc := range []struct {
		name      string
		with      []func(*gitopsv1alpha1.Application)
		condition string
		mentions  []string
	}{
		{"unreachable", []func(*gitopsv1alpha1.Application){func(a *gitopsv1alpha1.Application) { a.Spec.Source.RepoURL = "http://127.0.0.1:1/nothing.git" }},
			gitopsv1alpha1.ConditionComparisonError, []string{"127.0.0.1:1"}},
		{"norev", []func(*gitopsv1alpha1.Application){path("good"), func(a *gitopsv1alpha1.Application) { a.Spec.Source.TargetRevision = "no-such-branch" }},
			gitopsv1alpha1.ConditionComparisonError, []string{"no-such-branch"}},
		{"malformed", []func(*gitopsv1alpha1.Application){path("malformed")}, gitopsv1alpha1.ConditionComparisonError, []string{"b.yaml"}},
		{"unknown-kind", []func(*gitopsv1alpha1.Application){path("unknown")}, gitopsv1alpha1.ConditionComparisonError, []string{"Widget"}},
		{"nameless", []func(*gitopsv1alpha1.Application){path("nameless")}, gitopsv1alpha1.ConditionComparisonError, []string{"metadata.name"}},
		{"duplicate", []func(*gitopsv1alpha1.Application){path("duplicate")}, gitopsv1alpha1.ConditionComparisonError, []string{"twice", "appears twice"}},
		{"invalid", []func(*gitopsv1alpha1.Application){path("invalid")}, gitopsv1alpha1.ConditionSyncError, []string{"broken", "bad key"}},
		{"nodest", []func(*gitopsv1alpha1.Application){path("good"), func(a *gitopsv1alpha1.Application) { a.Spec.Destination.Server = "https://nowhere.example:6443" }},
			gitopsv1alpha1.ConditionInvalidSpecError, []string{"nowhere.example"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := e.app(ns, tc.name, url, ns, tc.with...)
			app := e.reconcile(key, 3)
			msg := conditionOf(app, tc.condition)
			for _, m := range tc.mentions {
				if !strings.Contains(msg, m) {
					t.Errorf("%s %q, want it to mention %q (conditions %+v)", tc.condition, msg, m, app.Status.Conditions)
				}
			}
			if len(app.Status.History) != 0 {
				t.Errorf("history %+v: nothing should have synced", app.Status.History)
			}
		})
	}
	for _, name := range []string{"settings", "good", "fine", "twice"} {
		if e.configMapExists(ns, name) {
			t.Errorf("ConfigMap %s of a failed app was applied", name)
		}
	}
}

// An Argo CD field gantry does not implement is reported, not ignored: the
// app would deploy something else than Argo CD would.
func TestUnsupportedFieldIsReported(t *testing.T) {
	e := newEngine(t)
	ns := e.project(local)
	url := e.repo(map[string]string{"deploy/cm.yaml": configMapYAML("settings", "1")})
	plugin := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gitops.gantry.dev/v1alpha1", "kind": "Application",
		"metadata": map[string]any{"name": "plugin", "namespace": ns},
		"spec": map[string]any{
			"source":      map[string]any{"repoURL": url, "path": "deploy", "plugin": map[string]any{"name": "cmp"}},
			"destination": map[string]any{"server": "https://kubernetes.default.svc", "namespace": ns},
			"syncPolicy":  map[string]any{"automated": map[string]any{}}},
	}}
	if err := e.env.Client.Create(context.Background(), plugin); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.env.Client.Delete(context.Background(), plugin) })
	app := e.reconcile(types.NamespacedName{Namespace: ns, Name: "plugin"}, 3)
	if msg := conditionOf(app, gitopsv1alpha1.ConditionUnsupportedField); !strings.Contains(msg, "spec.source.plugin") {
		t.Errorf("UnsupportedField %q, want spec.source.plugin named", msg)
	}
	if e.configMapExists(ns, "settings") {
		t.Error("an app with an unsupported field synced")
	}
}
