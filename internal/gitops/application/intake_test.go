package application

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
)

// A burst of creations holds new apps until creations pause for a second,
// at most maxHold after each app's creation; creations at a walking pace, an
// app compared before and an app being deleted are never held.
func TestIntakeHoldsNewAppsDuringABurst(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	newApp := func(created time.Time) *gitopsv1alpha1.Application {
		return &gitopsv1alpha1.Application{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: metav1.NewTime(created)}}
	}
	var in intake
	// Ten creations a second for three seconds: no burst.
	for i := range 30 {
		in.created(t0.Add(time.Duration(i) * 100 * time.Millisecond))
	}
	if w := in.hold(newApp(t0.Add(3*time.Second)), t0.Add(3*time.Second)); w != 0 {
		t.Fatalf("ten creations a second held a new app for %s", w)
	}
	// Fifty a second (a kubectl apply): held while they go on.
	t1 := t0.Add(10 * time.Second)
	for i := range 100 {
		in.created(t1.Add(time.Duration(i) * 20 * time.Millisecond))
	}
	last := t1.Add(99 * 20 * time.Millisecond)
	if w := in.hold(newApp(t1), last); w != quietAfter {
		t.Fatalf("during a burst a new app waits %s, want %s after the last creation", w, quietAfter)
	}
	// A second after the last creation the burst is over.
	if w := in.hold(newApp(t1), last.Add(quietAfter)); w != 0 {
		t.Fatalf("a second after the burst a new app still waits %s", w)
	}
	// Compared before, or being deleted: never held.
	compared := newApp(t1)
	compared.Status.ReconciledAt = &metav1.Time{Time: last}
	deleted := newApp(t1)
	deleted.DeletionTimestamp = &metav1.Time{Time: last}
	for _, a := range []*gitopsv1alpha1.Application{compared, deleted} {
		if w := in.hold(a, last); w != 0 {
			t.Fatalf("held %s: %+v", w, a.ObjectMeta)
		}
	}
	// A burst that never pauses: an app is held at most maxHold.
	t2 := t1.Add(time.Minute)
	for i := range 2000 {
		in.created(t2.Add(time.Duration(i) * 20 * time.Millisecond))
	}
	now := t2.Add(40 * time.Second)
	if w := in.hold(newApp(t2), now); w != 0 {
		t.Fatalf("an app created 40 s into an endless burst still waits %s (at most %s)", w, maxHold)
	}
	if w := in.hold(newApp(now.Add(-maxHold+200*time.Millisecond)), now); w != 200*time.Millisecond {
		t.Fatalf("an app %s from its limit waits %s", 200*time.Millisecond, w)
	}
}
