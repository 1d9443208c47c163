package application

import (
	"context"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
)

// A steady app is not compared on a timer: its Reconcile asks for no requeue
// and the poller watches its repository instead. A poll that finds the same
// commit brings nothing back; a new commit brings the app back, and its
// next comparison sees the commit.
func TestSteadyAppWaitsForItsRepository(t *testing.T) {
	e := newEngine(t)
	ns := e.project(local)
	repo := e.gitRepo(map[string]string{"deploy/cm.yaml": configMapYAML("settings", "1")})
	key := e.app(ns, "web", repo.URL, ns)
	app := e.reconcileUntil(key, "synced and healthy", func(a *gitopsv1alpha1.Application) bool {
		return synced(a) && a.Status.Health.Status == gitopsv1alpha1.HealthHealthy
	})
	first := app.Status.Sync.Revision

	res, err := e.r.Reconcile(context.Background(), reconcile.Request{NamespacedName: key})
	if err != nil {
		t.Fatal(err)
	}
	if res.RequeueAfter != 0 {
		t.Fatalf("a steady app asked to be compared again in %s; want no timer", res.RequeueAfter)
	}
	if e.r.Parked() != 1 {
		t.Fatalf("%d apps parked, want 1", e.r.Parked())
	}
	// Without a manager: what Enqueue queues is read here.
	e.r.changes = make(chan event.GenericEvent, 16)
	enqueued := func() []types.NamespacedName {
		var out []types.NamespacedName
		for {
			select {
			case ev := <-e.r.changes:
				out = append(out, client.ObjectKeyFromObject(ev.Object))
			default:
				return out
			}
		}
	}

	e.r.checkParked(context.Background(), time.Now())
	if got := enqueued(); len(got) != 0 {
		t.Fatalf("a poll that found the same commit brought back %v", got)
	}

	second := repo.commit(map[string]string{"deploy/cm.yaml": configMapYAML("settings", "2")})
	e.r.checkParked(context.Background(), time.Now())
	if got := enqueued(); len(got) != 1 || got[0] != key {
		t.Fatalf("after a new commit the poll brought back %v, want %s", got, key)
	}
	if e.r.Parked() != 0 {
		t.Error("the app brought back is still parked")
	}
	app = e.reconcileUntil(key, "the new commit compared", func(a *gitopsv1alpha1.Application) bool {
		return a.Status.Sync.Revision == second && synced(a)
	})
	if app.Status.Sync.Revision == first || e.configMapValue(ns, "settings") != "2" {
		t.Errorf("the new commit was not synced: revision %s, value %q", app.Status.Sync.Revision, e.configMapValue(ns, "settings"))
	}
}
