package apply

import (
	"context"
	"fmt"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// runStep runs the tasks of one phase and wave in Argo CD's order: prunes first
// (in reverse kind order, so that dependents go before what they depend on), then
// the deletion of earlier hook instances (BeforeHookCreation), then applies and
// hook creations in kind order. Like Argo CD it applies the whole step even when
// one object fails, and then reports failure. It tells whether all succeeded.
func (s *syncer) runStep(ctx context.Context, step []*task) bool {
	ok := true
	var applies, recreate []*task
	for i := len(step) - 1; i >= 0; i-- {
		if t := step[i]; t.prune() {
			ok = s.prune(ctx, t, false) && ok
		}
	}
	if !ok {
		return false
	}
	for _, t := range step {
		if t.prune() {
			continue
		}
		applies = append(applies, t)
		if t.hook && t.policies[deleteBeforeCreation] {
			recreate = append(recreate, t)
		}
	}
	if len(recreate) > 0 {
		if !s.deletePrevious(ctx, recreate) {
			return false
		}
	}
	for _, t := range applies {
		if ctx.Err() != nil {
			return false
		}
		ok = s.applyOne(ctx, t) && ok
	}
	return ok
}

// applyOne applies (or, for a hook, creates) one object and reports it.
func (s *syncer) applyOne(ctx context.Context, t *task) bool {
	fail := func(err error) bool {
		t.state = OperationFailed
		s.report(t, ResultSyncFailed, fmt.Errorf("%s: %w", t.key, err).Error())
		return false
	}
	var timeout time.Duration
	if t.skipDryRun {
		timeout = crdTimeout // its CRD may have been applied a moment ago
	}
	if err := s.kube.resolve(ctx, t, timeout); err != nil {
		return fail(err)
	}
	before, err := s.before(ctx, t)
	if err != nil {
		return fail(err)
	}
	var after *unstructured.Unstructured
	msg := ""
	switch {
	case t.hook:
		obj := t.target.DeepCopy()
		obj.SetFinalizers(append(obj.GetFinalizers(), HookFinalizer))
		after, err = s.kube.create(ctx, t, obj, false)
		if apierrors.IsAlreadyExists(err) {
			// A named hook without BeforeHookCreation is created once: the existing
			// instance is the hook's run, as in Argo CD.
			after, err = s.kube.get(ctx, t)
			if err == nil && after == nil {
				err = fmt.Errorf("hook exists and vanished while it was being created")
			}
			msg = kubectlName(t.gvk, t.key.Name) + " unchanged"
		} else if err == nil {
			t.created = true
		}
	case t.opts.Force && t.opts.Replace && before != nil:
		after, err = s.kube.recreate(ctx, t, before, recreateTimeout)
		msg = kubectlName(t.gvk, t.key.Name) + " replaced (forced)"
	case t.opts.Replace && before != nil:
		after, err = s.kube.replace(ctx, t, before, false)
		msg = kubectlName(t.gvk, t.key.Name) + " replaced"
	case t.opts.Replace:
		after, err = s.kube.create(ctx, t, t.target, false)
	default:
		after, err = s.kube.apply(ctx, t, false)
		if t.opts.Force && before != nil && apierrors.IsInvalid(err) {
			// kubectl apply --force: an immutable field changed.
			after, err = s.kube.recreate(ctx, t, before, recreateTimeout)
			msg = kubectlName(t.gvk, t.key.Name) + " replaced (forced)"
		}
	}
	if err != nil {
		return fail(err)
	}
	if msg == "" {
		msg = applyMessage(t, before, after, false)
	}
	t.current, t.state = after, OperationRunning
	s.report(t, ResultSynced, msg)
	if _, _, isCRD := crdDefines(t.target); isCRD {
		s.kube.waitEstablished(ctx, t, crdTimeout)
	}
	return true
}

// before is t's object as it is before its apply, read from the API server
// only when the sync needs it exactly (Replace and Force act on it) or
// cannot know it: otherwise the live copy the caller gave (from its watch
// cache) serves, and an object in a namespace that did not exist when the
// sync began had no earlier self. Elsewhere it only chooses the word of the
// result (created, configured, unchanged).
func (s *syncer) before(ctx context.Context, t *task) (*unstructured.Unstructured, error) {
	switch {
	case t.hook:
		return nil, nil // always created; an existing one is read after
	case t.opts.Replace || t.opts.Force:
	case t.live != nil:
		return t.live, nil
	case t.key.Namespace != "" && s.emptyNamespaces[t.key.Namespace]:
		return nil, nil
	}
	return s.kube.get(ctx, t)
}

// prune deletes a live object that is no longer desired, unless pruning is off
// for it, and never one that does not carry this application's tracking id now
// (the caller's list may be stale, or name an object someone else took over).
// dryRun only reports what would happen. It tells whether the prune did not fail.
func (s *syncer) prune(ctx context.Context, t *task, dryRun bool) bool {
	switch {
	case !s.opts.Prune:
		s.report(t, ResultPruneSkipped, "ignored (requires pruning)")
		return true
	case t.opts.NoPrune:
		s.report(t, ResultPruneSkipped, "ignored (no prune)")
		return true
	case t.opts.PruneConfirm && !s.opts.PruneConfirmed:
		s.report(t, ResultPruneSkipped, "ignored (requires confirmation)")
		return true
	}
	cur, err := s.kube.get(ctx, t)
	if meta.IsNoMatchError(err) {
		err = nil // its kind is gone (its CRD was deleted), and the object with it
	}
	if err != nil {
		t.state = OperationFailed
		s.report(t, ResultSyncFailed, fmt.Errorf("%s: %w", t.key, err).Error())
		return false
	}
	if cur == nil {
		s.report(t, ResultPruned, "pruned")
		return true
	}
	if got, want := cur.GetAnnotations()[s.opts.TrackingKey], s.opts.TrackingID(cur); got != want {
		s.report(t, ResultPruneSkipped, fmt.Sprintf("ignored (not tracked by this application: %s is %q)", s.opts.TrackingKey, got))
		return true
	}
	if dryRun {
		s.report(t, ResultPruned, "pruned (dry run)")
		return true
	}
	if cur.GetDeletionTimestamp() == nil {
		if err := s.kube.delete(ctx, t, cur, s.opts.SyncOptions.propagation()); err != nil {
			t.state = OperationFailed
			s.report(t, ResultSyncFailed, fmt.Errorf("%s: pruning: %w", t.key, err).Error())
			return false
		}
	}
	t.current, t.state = cur, OperationRunning // until it is gone
	s.report(t, ResultPruned, "pruned")
	return true
}

// deletePrevious deletes the earlier instances of hooks before they are created
// again, and waits until they are gone. An object of that name that is not this
// application's hook is left alone, and the hook fails.
func (s *syncer) deletePrevious(ctx context.Context, hooks []*task) bool {
	var gone []*task
	ok := true
	for _, t := range hooks {
		if err := s.kube.resolve(ctx, t, 0); meta.IsNoMatchError(err) {
			continue // a kind not served yet has no earlier instance
		} else if err != nil {
			ok = s.hookFailed(t, err) && ok
			continue
		}
		cur, err := s.kube.get(ctx, t)
		switch {
		case err != nil:
			ok = s.hookFailed(t, err) && ok
			continue
		case cur == nil:
			continue
		case cur.GetAnnotations()[s.opts.TrackingKey] != t.target.GetAnnotations()[s.opts.TrackingKey]:
			ok = s.hookFailed(t, fmt.Errorf("an object of that name exists and is not this application's hook (%s is %q)",
				s.opts.TrackingKey, cur.GetAnnotations()[s.opts.TrackingKey])) && ok
			continue
		}
		// A hook left by an interrupted sync may still hold the finalizer.
		err = s.kube.removeFinalizer(ctx, t)
		if err == nil {
			err = s.kube.delete(ctx, t, cur, s.opts.SyncOptions.propagation())
		}
		if err != nil {
			ok = s.hookFailed(t, fmt.Errorf("deleting the previous instance: %w", err)) && ok
			continue
		}
		gone = append(gone, &task{key: t.key, gvk: t.gvk, live: cur, mapping: t.mapping, current: cur,
			phase: t.phase, wave: t.wave, state: OperationRunning, result: -1})
	}
	if !ok {
		return false
	}
	return s.waitGone(ctx, gone) == nil
}

func (s *syncer) hookFailed(t *task, err error) bool {
	t.state = OperationFailed
	s.report(t, ResultSyncFailed, fmt.Errorf("%s: %w", t.key, err).Error())
	return false
}

// deleteHooks deletes the hooks of tasks that have the delete policy, once the
// operation ended that way (HookSucceeded, HookFailed). Failing to delete one is
// noted on its result but does not change the outcome.
func (s *syncer) deleteHooks(ctx context.Context, tasks []*task, policy hookDeletePolicy) {
	for _, t := range slices.Clone(tasks) {
		if !t.hook || t.current == nil || !t.policies[policy] {
			continue
		}
		err := s.kube.removeFinalizer(ctx, t)
		if err == nil {
			err = s.kube.delete(ctx, t, t.current, s.opts.SyncOptions.propagation())
		}
		if err != nil {
			s.note(t, fmt.Errorf("%s: deleting the hook (%s): %w", t.key, policy, err).Error())
			continue
		}
		t.created = false
	}
}
