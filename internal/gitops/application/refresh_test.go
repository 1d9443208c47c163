package application

import (
	"testing"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
)

// Between polls an app compares with the commit it last saw; Argo CD's
// refresh annotation (`gantry app get --refresh`) asks Git now, and goes
// once the comparison it asked for is in the status.
func TestRefreshAnnotationAsksGitNow(t *testing.T) {
	e := newEngine(t)
	ns := e.project(local)
	repo := e.gitRepo(map[string]string{"deploy/cm.yaml": configMapYAML("settings", "1")})
	first := repo.head()
	key := e.app(ns, "web", repo.URL, ns, manual)
	e.reconcile(key, 3)

	second := repo.commit(map[string]string{"deploy/cm.yaml": configMapYAML("settings", "2")})
	if app := e.reconcile(key, 3); app.Status.Sync.Revision != first {
		t.Fatalf("without a refresh the app compared with %s before its poll", app.Status.Sync.Revision)
	}
	for _, mode := range []string{"normal", "hard"} {
		if err := e.update(key, func(a *gitopsv1alpha1.Application) { a.Annotations = map[string]string{RefreshAnnotation: mode} }); err != nil {
			t.Fatal(err)
		}
		app := e.reconcile(key, 1)
		if app.Status.Sync.Revision != second {
			t.Errorf("%s refresh: compared with %s, want the new commit %s", mode, app.Status.Sync.Revision, second)
		}
		if _, ok := app.Annotations[RefreshAnnotation]; ok {
			t.Errorf("%s refresh: the annotation stays after the comparison", mode)
		}
		second = repo.commit(map[string]string{"deploy/cm.yaml": configMapYAML("settings", mode)})
	}
	if e.configMapExists(ns, "settings") {
		t.Error("a refresh synced an app without an automated policy")
	}
}
