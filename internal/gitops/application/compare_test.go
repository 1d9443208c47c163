package application

import (
	"testing"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
)

// Comparing is reading: an app without an automated policy shows what Git
// wants and what the cluster lacks, and writes nothing.
func TestCompareShowsOutOfSyncAndMissingWithoutWriting(t *testing.T) {
	e := newEngine(t)
	ns := e.project(local)
	repo := e.gitRepo(map[string]string{
		"deploy/cm.yaml":  configMapYAML("settings", "1"),
		"deploy/job.yaml": jobYAML("check"),
	})
	key := e.app(ns, "web", repo.URL, ns, manual)
	app := e.reconcile(key, 3)

	if app.Status.Sync.Status != gitopsv1alpha1.SyncStatusOutOfSync || app.Status.Health.Status != gitopsv1alpha1.HealthMissing {
		t.Errorf("sync %s, health %s: want OutOfSync and Missing", app.Status.Sync.Status, app.Status.Health.Status)
	}
	if head := repo.head(); app.Status.Sync.Revision != head {
		t.Errorf("compared revision %q, want main's head %s", app.Status.Sync.Revision, head)
	}
	if len(app.Status.Resources) != 2 {
		t.Fatalf("status lists %+v, want the ConfigMap and the Job", app.Status.Resources)
	}
	for _, r := range app.Status.Resources {
		if r.Status != gitopsv1alpha1.SyncStatusOutOfSync || healthOf(&r) != gitopsv1alpha1.HealthMissing {
			t.Errorf("%s %s: %s/%s, want OutOfSync and Missing", r.Kind, r.Name, r.Status, healthOf(&r))
		}
	}
	if e.configMapExists(ns, "settings") || len(e.jobs(ns, "check")) != 0 {
		t.Error("comparing an app without an automated policy wrote to the cluster")
	}
	if app.Status.OperationState != nil || len(app.Status.History) != 0 {
		t.Errorf("no sync was asked for, yet operation %+v, history %+v", app.Status.OperationState, app.Status.History)
	}
	if app.Status.ReconciledAt == nil || app.Status.ObservedAt == nil {
		t.Error("reconciledAt and observedAt are not set")
	}
}

// Health is the worst of the resources' (a ConfigMap has none), and each
// resource shows its own; a synced app whose live state matches Git is Synced.
func TestHealthIsTheWorstOfTheResources(t *testing.T) {
	e := newEngine(t)
	ns := e.project(local)
	key := e.app(ns, "jobs", e.repo(map[string]string{
		"deploy/cm.yaml":    configMapYAML("settings", "1"),
		"deploy/first.yaml": jobYAML("first"),
		"deploy/other.yaml": jobYAML("other"),
	}), ns)
	app := e.reconcileUntil(key, "the app synced", func(a *gitopsv1alpha1.Application) bool {
		return a.Status.Sync.Status == gitopsv1alpha1.SyncStatusSynced
	})
	if app.Status.Health.Status != gitopsv1alpha1.HealthProgressing {
		t.Errorf("two running Jobs: app %s, want Progressing", app.Status.Health.Status)
	}
	if r := resource(app, "ConfigMap", "settings"); r == nil || r.Status != gitopsv1alpha1.SyncStatusSynced || r.Health != nil {
		t.Errorf("ConfigMap status %+v: want Synced with no health", r)
	}

	e.finishJob(ns, "first", true)
	app = e.reconcileUntil(key, "Job first Healthy", func(a *gitopsv1alpha1.Application) bool {
		return healthOf(resource(a, "Job", "first")) == gitopsv1alpha1.HealthHealthy
	})
	if app.Status.Health.Status != gitopsv1alpha1.HealthProgressing {
		t.Errorf("one Job running: app %s, want Progressing", app.Status.Health.Status)
	}

	e.finishJob(ns, "other", false)
	app = e.reconcileUntil(key, "the app Degraded", func(a *gitopsv1alpha1.Application) bool {
		return a.Status.Health.Status == gitopsv1alpha1.HealthDegraded
	})
	if healthOf(resource(app, "Job", "other")) != gitopsv1alpha1.HealthDegraded || healthOf(resource(app, "Job", "first")) != gitopsv1alpha1.HealthHealthy {
		t.Errorf("resources %+v: want other Degraded, first Healthy", app.Status.Resources)
	}
	if app.Status.Sync.Status != gitopsv1alpha1.SyncStatusSynced {
		t.Errorf("a Job's status is not drift: app %s", app.Status.Sync.Status)
	}
	if len(app.Status.Summary.Images) != 1 || app.Status.Summary.Images[0] != "busybox" {
		t.Errorf("summary images %v, want [busybox]", app.Status.Summary.Images)
	}
}
