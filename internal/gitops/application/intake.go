package application

import (
	"sync"
	"time"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
)

// intake holds back the first comparison of new apps while apps are being
// created in a burst (a kubectl apply of a thousand Applications, an
// ApplicationSet's first generation), until the creations pause.
//
// Why: on a small host the engine's syncs and the user's creations share the
// host API server's CPU. Syncing the first apps while the rest are still being
// created made `kubectl apply` of 1,000 Applications 4 to 6 times slower than
// on an idle host (issue 20: no more than 1.5 times); the user waits on the
// apply, not on the syncs. Taken in first, the apps are then synced at full
// speed, and the whole takes no longer. A new app is held at most maxHold
// after it was created, so a stream of creations that never pauses still gets
// its apps synced; an app that was compared once is never held.
type intake struct {
	mu sync.Mutex
	// recent are the times of the last burstCreates creations (a ring).
	recent [burstCreates]time.Time
	next   int
	// until is when the burst is over unless another creation comes.
	until time.Time
}

const (
	// A burst is burstCreates creations within a second; it lasts until
	// creations pause for quietAfter.
	burstCreates = 20
	quietAfter   = time.Second
	// maxHold bounds how long a new app waits for a burst to end.
	maxHold = 30 * time.Second
)

// created records that an app was created at now.
func (in *intake) created(now time.Time) {
	in.mu.Lock()
	defer in.mu.Unlock()
	oldest := in.recent[in.next] // the creation burstCreates ago
	in.recent[in.next] = now
	in.next = (in.next + 1) % burstCreates
	if now.Before(in.until) || (!oldest.IsZero() && now.Sub(oldest) <= time.Second) {
		in.until = now.Add(quietAfter)
	}
}

// hold says how long app's first comparison waits for the burst to end: 0
// for an app compared before, being deleted, or when no burst is on.
func (in *intake) hold(app *gitopsv1alpha1.Application, now time.Time) time.Duration {
	if app.Status.ReconciledAt != nil || !app.DeletionTimestamp.IsZero() {
		return 0
	}
	in.mu.Lock()
	wait := in.until.Sub(now)
	in.mu.Unlock()
	if left := app.CreationTimestamp.Add(maxHold).Sub(now); left < wait {
		wait = left
	}
	return max(wait, 0)
}
