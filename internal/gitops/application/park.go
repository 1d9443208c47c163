package application

import (
	"context"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
	gitsource "gantry.dev/gantry/internal/gitops/source"
)

// Parked apps: an app that is steady (compared without error, nothing to
// sync, not progressing, only Git sources) is not compared again on a timer.
// With a thousand apps a comparison a minute each was most of what gantry
// and the host's API server did while nothing changed. A parked app comes
// back when something it depends on changes:
//   - its repository: the poller asks each repository once a poll period
//     (one ls-remote, shared by all the apps of the repository and project)
//     and brings back the apps whose revision moved or cannot be resolved;
//   - its live objects (livestate's watches), its spec, annotations
//     (refresh), project and destination cluster (the controller's watches);
//   - a webhook push.
//
// So status.reconciledAt is when the app was last compared, not a heartbeat.

// parkedApp is what the poller checks of a parked app: each Git source at
// the revision it was compared at.
type parkedApp struct {
	project string // whose credentials read the repositories
	sources []parkedSource
}

type parkedSource struct {
	repoURL, revision, sha string
}

// parking holds the parked apps and the apps waiting to be enqueued.
type parking struct {
	mu      sync.Mutex
	apps    map[types.NamespacedName]parkedApp
	pending map[types.NamespacedName]bool // an Enqueue that found the queue full
}

func (p *parking) park(key types.NamespacedName, a parkedApp) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.apps == nil {
		p.apps = map[types.NamespacedName]parkedApp{}
	}
	p.apps[key] = a
}

func (p *parking) unpark(key types.NamespacedName) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.apps, key)
	delete(p.pending, key)
}

// defer_ remembers an app Enqueue could not queue, for the poller's next tick.
func (p *parking) defer_(key types.NamespacedName) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pending == nil {
		p.pending = map[types.NamespacedName]bool{}
	}
	p.pending[key] = true
}

func (p *parking) takePending() []types.NamespacedName {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]types.NamespacedName, 0, len(p.pending))
	for k := range p.pending {
		out = append(out, k)
	}
	clear(p.pending)
	return out
}

func (p *parking) snapshot() map[types.NamespacedName]parkedApp {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[types.NamespacedName]parkedApp, len(p.apps))
	for k, v := range p.apps {
		out[k] = v
	}
	return out
}

// Parked is how many apps wait for a change rather than a timer (/metrics).
func (r *Reconciler) Parked() int {
	r.parked.mu.Lock()
	defer r.parked.mu.Unlock()
	return len(r.parked.apps)
}

// parkable says what the poller watches for app after a comparison that
// asked for no sooner requeue than the poll, or false when app must keep
// its timer: an error or a condition to clear, an operation, health still
// moving (Progressing, Unknown: its objects' watches may not tell), a Helm
// chart source (a chart repository has no ls-remote).
func parkable(app *gitopsv1alpha1.Application, project string) (parkedApp, bool) {
	st := &app.Status
	if app.Operation != nil || len(st.Conditions) > 0 {
		return parkedApp{}, false
	}
	if st.OperationState != nil && st.OperationState.Phase != gitopsv1alpha1.OperationSucceeded {
		// Running, or failed with perhaps a retry on its timer.
		return parkedApp{}, false
	}
	switch st.Health.Status {
	case gitopsv1alpha1.HealthHealthy, gitopsv1alpha1.HealthDegraded, gitopsv1alpha1.HealthSuspended:
	default:
		return parkedApp{}, false
	}
	if st.Sync.Status != gitopsv1alpha1.SyncStatusSynced && st.Sync.Status != gitopsv1alpha1.SyncStatusOutOfSync {
		return parkedApp{}, false
	}
	srcs := sources(&app.Spec)
	revs := st.Sync.Revisions
	if app.Spec.Source != nil {
		revs = []string{st.Sync.Revision}
	}
	if len(revs) != len(srcs) {
		return parkedApp{}, false
	}
	a := parkedApp{project: project}
	for i, s := range srcs {
		if s.Chart != "" || revs[i] == "" {
			return parkedApp{}, false
		}
		a.sources = append(a.sources, parkedSource{repoURL: s.RepoURL, revision: s.TargetRevision, sha: revs[i]})
	}
	return a, true
}

// pollParked brings back the parked apps whose repositories moved, once a
// poll period, and queues the apps a full queue turned away, once a second.
func (r *Reconciler) pollParked(ctx context.Context) error {
	second := time.NewTicker(time.Second)
	defer second.Stop()
	poll := time.NewTicker(r.PollInterval)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-second.C:
			for _, key := range r.parked.takePending() {
				r.Enqueue(key)
			}
		case <-poll.C:
			r.checkParked(ctx, time.Now())
		}
	}
}

// checkParked asks each repository of the parked apps for its refs (one
// answer after `asked`, shared through the source cache) and enqueues the
// apps whose revision no longer resolves to what they were compared at.
func (r *Reconciler) checkParked(ctx context.Context, asked time.Time) {
	type lookup struct{ repoURL, project, revision string }
	answers := map[lookup]string{}
	for key, a := range r.parked.snapshot() {
		for _, s := range a.sources {
			l := lookup{s.repoURL, a.project, s.revision}
			sha, ok := answers[l]
			if !ok {
				var err error
				if sha, err = r.Sources.ResolveAfter(ctx, gitsource.Repo{URL: s.repoURL, Project: a.project}, s.revision, asked); err != nil {
					sha = "" // the app's comparison records the error
				}
				answers[l] = sha
			}
			if sha != s.sha {
				r.parked.unpark(key)
				r.Enqueue(key)
				break
			}
		}
	}
}
