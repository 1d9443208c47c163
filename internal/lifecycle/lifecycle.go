// Package lifecycle runs the long-lived parts of one gantry (the HTTP server,
// the embedded host, the platform) as a whole: each part is started when the
// caller has seen the ones before it ready; the first to fail, or the end of
// the caller's context (SIGINT, SIGTERM), stops them all; they stop in the
// reverse order of their start, each waited for before the next is told, so
// that no part loses one it depends on while it stops (the platform its host
// cluster's API server).
//
// Why not controller-runtime's manager as this runner: the manager is one of
// the parts. It needs the host's API server before it can start its caches,
// and the host must outlive it; a manager starts its runnables by kind (all
// of one kind at once) and cancels them together, so it can express neither
// "the platform once the host answers" nor "the host after the platform".
// An errgroup gives what is left: the first failure, and a context that ends
// with it.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/sync/errgroup"
)

// Group is the running parts.
type Group struct {
	eg  *errgroup.Group
	ctx context.Context

	mu    sync.Mutex
	parts []part
}

type part struct {
	stop context.CancelFunc
	done chan struct{}
}

// New returns an empty group that stops when parent ends.
func New(parent context.Context) *Group {
	eg, ctx := errgroup.WithContext(parent)
	return &Group{eg: eg, ctx: ctx}
}

// Context ends when the parent's context ends or a part fails. Waits for
// readiness between starts take it, so that a failure ends them at once.
func (g *Group) Context() context.Context { return g.ctx }

// Go starts run as the part called name. run must return once its context
// ends, which only Stop does; returning before, with or without an error, is
// a failure that stops the group. Its context keeps the parent's values.
func (g *Group) Go(name string, run func(context.Context) error) {
	ctx, stop := context.WithCancel(context.WithoutCancel(g.ctx))
	p := part{stop: stop, done: make(chan struct{})}
	g.mu.Lock()
	g.parts = append(g.parts, p)
	g.mu.Unlock()
	g.eg.Go(func() error {
		defer close(p.done)
		err := run(ctx)
		if ctx.Err() != nil {
			// Told to stop: what it says while stopping is no failure.
			return nil
		}
		if err == nil {
			err = errors.New("stopped by itself")
		}
		return fmt.Errorf("%s: %w", name, err)
	})
}

// Stop stops the parts, last started first, each waited for, and returns the
// first failure: nil when none failed (an interrupt is not a failure).
func (g *Group) Stop() error {
	g.mu.Lock()
	parts := g.parts
	g.mu.Unlock()
	for i := len(parts) - 1; i >= 0; i-- {
		parts[i].stop()
		<-parts[i].done
	}
	return g.eg.Wait()
}
