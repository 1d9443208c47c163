package apply

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
)

// errTaskFailed ends a wait because a task failed (its result says why).
var errTaskFailed = errors.New("a task failed")

// wait waits until the step is done: its hooks completed and, with resources,
// its applied objects healthy and its pruned objects gone. Objects are re-read
// (GET) every PollInterval. It fails as soon as one hook fails or one object is
// degraded, when WaitTimeout passes (the waited-for tasks fail), or when ctx ends.
func (s *syncer) wait(ctx context.Context, step []*task, resources bool) error {
	var pending []*task
	for _, t := range step {
		if t.state == OperationRunning && (t.hook || resources) {
			pending = append(pending, t)
		}
	}
	return s.poll(ctx, pending, s.check)
}

// waitGone waits until the objects of tasks are deleted.
func (s *syncer) waitGone(ctx context.Context, tasks []*task) error {
	return s.poll(ctx, tasks, s.check)
}

func (s *syncer) poll(ctx context.Context, pending []*task, check func(context.Context, *task) (bool, error)) error {
	if len(pending) == 0 {
		return nil
	}
	waitCtx := ctx
	if s.opts.WaitTimeout > 0 {
		var cancel context.CancelFunc
		waitCtx, cancel = context.WithTimeout(ctx, s.opts.WaitTimeout)
		defer cancel()
	}
	tick := time.NewTicker(s.opts.PollInterval)
	defer tick.Stop()
	var msg string
	for {
		var still []*task
		for _, t := range pending {
			done, err := check(waitCtx, t)
			if err != nil && waitCtx.Err() == nil {
				return err // a task failed
			}
			if err != nil || !done {
				still = append(still, t)
			}
		}
		if pending = still; len(pending) == 0 {
			return nil
		}
		msg = waitingFor(pending)
		s.progress(msg)
		select {
		case <-waitCtx.Done():
		case <-tick.C:
			continue
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		for _, t := range pending {
			t.state = OperationFailed
			s.report(t, ResultSyncFailed, fmt.Sprintf("%s: timed out after %s %s", t.key, s.opts.WaitTimeout, msg))
		}
		return errTaskFailed
	}
}

// check reads t's object once and tells whether t is done; errTaskFailed when it
// failed. Reading errors are taken as transient: the wait goes on.
func (s *syncer) check(ctx context.Context, t *task) (bool, error) {
	cur, err := s.kube.get(ctx, t)
	if meta.IsNoMatchError(err) && t.target == nil {
		cur, err = nil, nil // the kind is gone, and the object with it
	}
	if err != nil {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		s.opts.Log.V(1).Info("reading while waiting", "resource", t.key.String(), "error", err.Error())
		return false, nil
	}
	if t.prune() || t.target == nil {
		if cur == nil || cur.GetUID() != t.current.GetUID() {
			t.state = OperationSucceeded
			return true, nil
		}
		return false, nil
	}
	if cur == nil {
		if t.hook {
			t.state = OperationFailed
			s.note(t, fmt.Sprintf("%s: deleted before it completed", t.key))
			return false, errTaskFailed
		}
		return false, nil // not visible yet, or deleted by someone: keep waiting
	}
	t.current = cur
	healthy, degraded, msg := s.opts.Health(cur)
	switch {
	case degraded && t.hook:
		t.state = OperationFailed
		s.finishHook(ctx, t, msg)
		return false, errTaskFailed
	case degraded:
		t.state = OperationFailed
		s.report(t, ResultSyncFailed, fmt.Sprintf("%s: degraded: %s", t.key, msg))
		return false, errTaskFailed
	case healthy && t.hook:
		t.state = OperationSucceeded
		s.finishHook(ctx, t, msg)
		return true, nil
	case healthy:
		t.state = OperationSucceeded
		return true, nil
	}
	if t.hook && msg != "" {
		s.note(t, msg)
	}
	return false, nil
}

// finishHook records how a hook ended and takes its finalizer off: its result
// has been read, so it may now go (ttlSecondsAfterFinished, a user).
func (s *syncer) finishHook(ctx context.Context, t *task, msg string) {
	if msg == "" {
		msg = kubectlName(t.gvk, t.key.Name) + " " + string(t.state)
	}
	if t.state == OperationFailed {
		msg = fmt.Sprintf("%s: %s", t.key, msg)
	}
	s.note(t, msg)
	if t.created {
		if err := s.kube.removeFinalizer(ctx, t); err != nil {
			s.opts.Log.Error(err, "removing the hook finalizer", "resource", t.key.String())
			return
		}
		t.created = false
	}
}

// waitingFor says what a wait is for, in Argo CD's words.
func waitingFor(pending []*task) string {
	first := pending[0]
	what, more := "healthy state of", "resources"
	switch {
	case first.hook:
		what, more = "completion of hook", "hooks"
	case first.target == nil:
		what = "deletion of"
	}
	msg := fmt.Sprintf("waiting for %s %s/%s/%s", what, first.gvk.Group, first.gvk.Kind, first.key.Name)
	if n := len(pending) - 1; n > 0 {
		msg += fmt.Sprintf(" and %d more %s", n, more)
	}
	return msg
}
