package apply

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Messages Argo CD gives an operation; users and tooling read them.
const (
	msgSucceeded     = "successfully synced (all tasks run)"
	msgInvalid       = "one or more synchronization tasks are not valid"
	msgDryRunFailed  = "one or more objects failed to apply (dry run)"
	msgApplyFailed   = "one or more objects failed to apply"
	msgTasksFailed   = "one or more synchronization tasks completed unsuccessfully"
	msgSyncFailHooks = "one or more SyncFail hooks failed"
)

// cleanupTimeout bounds what Sync does after ctx ended: taking its finalizer off
// the hooks it created, so that nothing is left blocked on gantry.
const cleanupTimeout = 30 * time.Second

// crdTimeout bounds the wait for a CRD of the sync to serve its kind.
const crdTimeout = 30 * time.Second

// recreateTimeout bounds the wait for an object deleted to be re-created
// (Force=true): its finalizers run first.
const recreateTimeout = 2 * time.Minute

// Sync makes the cluster match desired: it validates everything, then applies in
// phases and waves, runs hooks and prunes the live objects (those the application
// manages, found by the caller) that are no longer desired. It blocks until the
// operation ends or ctx does, and always returns a Result: Failed when the sync
// did not succeed (with each resource's reason), Error when it could not be run
// (bad options, API server unreachable while planning).
func Sync(ctx context.Context, cluster Cluster, desired, live []*unstructured.Unstructured, opts Options) Result {
	if err := opts.check(cluster); err != nil {
		return Result{Phase: OperationError, Message: err.Error()}
	}
	s := &syncer{opts: opts, started: time.Now(), emptyNamespaces: map[string]bool{},
		kube: &kube{dyn: cluster.Dynamic, mapper: cluster.Mapper, manager: opts.FieldManager, unknown: map[schema.GroupKind]bool{}}}
	if opts.NamespaceCreated && opts.Namespace != "" {
		s.emptyNamespaces[opts.Namespace] = true
	}
	p, err := s.plan(ctx, desired, live)
	if ctx.Err() != nil {
		return s.finish(OperationFailed, "operation terminated: "+ctx.Err().Error())
	}
	if err != nil {
		return s.finish(OperationError, err.Error())
	}
	valid := s.validate(ctx, p)
	switch {
	case ctx.Err() != nil:
		return s.finish(OperationFailed, "operation terminated: "+ctx.Err().Error())
	case len(p.invalid) > 0:
		return s.finish(OperationFailed, s.withReasons(msgInvalid, p.invalid, p.tasks, p.syncFail))
	case !valid:
		return s.finish(OperationFailed, s.withReasons(msgDryRunFailed, p.tasks, p.syncFail))
	case opts.DryRun:
		return s.finish(OperationSucceeded, msgSucceeded)
	}
	return s.run(ctx, p)
}

func (o *Options) check(c Cluster) error {
	switch {
	case c.Dynamic == nil || c.Mapper == nil:
		return errors.New("sync: the cluster needs a dynamic client and a REST mapper")
	case o.TrackingKey == "" || o.TrackingID == nil:
		return errors.New("sync: no tracking annotation key or tracking id function")
	case o.Health == nil:
		return errors.New("sync: no health function")
	}
	if o.FieldManager == "" {
		o.FieldManager = "gantry"
	}
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	return nil
}

// syncer is the state of one Sync call.
type syncer struct {
	opts    Options
	kube    *kube
	started time.Time
	results []ResourceResult
	// emptyNamespaces did not exist when the sync began (the caller's
	// NamespaceCreated, or CreateNamespace's): nothing in them has to be
	// looked up before it is applied.
	emptyNamespaces map[string]bool
}

// run executes the plan, step by step (one phase and wave at a time).
func (s *syncer) run(ctx context.Context, p *plan) Result {
	all := steps(p.tasks)
	for i, step := range all {
		s.progress(fmt.Sprintf("syncing phase %s wave %d", step[0].phase, step[0].wave))
		if !s.runStep(ctx, step) {
			if ctx.Err() != nil {
				return s.terminated(p, ctx.Err())
			}
			return s.failed(ctx, p, msgApplyFailed)
		}
		// Argo CD does not wait for the health of the final wave's resources: the sync
		// succeeds once they are applied. Hooks are always waited for.
		last := i == len(all)-1
		if err := s.wait(ctx, step, !last); err != nil {
			if ctx.Err() != nil {
				return s.terminated(p, ctx.Err())
			}
			return s.failed(ctx, p, msgTasksFailed)
		}
	}
	s.deleteHooks(ctx, p.tasks, deleteOnSuccess)
	s.release(ctx, p)
	return s.finish(OperationSucceeded, msgSucceeded)
}

// failed ends a sync that failed: HookFailed hooks are deleted, then the SyncFail
// hooks run (and are waited for).
func (s *syncer) failed(ctx context.Context, p *plan, base string) Result {
	msg := s.withReasons(base, p.tasks)
	s.deleteHooks(ctx, p.tasks, deleteOnFailure)
	if len(p.syncFail) > 0 {
		s.progress("running SyncFail hooks")
		ok := s.runStep(ctx, p.syncFail)
		if ok {
			ok = s.wait(ctx, p.syncFail, false) == nil
		}
		if ctx.Err() != nil {
			return s.terminated(p, ctx.Err())
		}
		if !ok {
			msg += "\n" + s.withReasons(msgSyncFailHooks, p.syncFail)
		}
		s.deleteHooks(ctx, p.syncFail, deleteOnFailure)
	}
	s.release(ctx, p)
	return s.finish(OperationFailed, msg)
}

// terminated ends a sync whose context ended; hooks still running are left alone
// but freed of their finalizer.
func (s *syncer) terminated(p *plan, cause error) Result {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	s.release(ctx, p)
	return s.finish(OperationFailed, "operation terminated: "+cause.Error())
}

// release takes the hook finalizer off every hook this sync created.
func (s *syncer) release(ctx context.Context, p *plan) {
	for _, t := range slices.Concat(p.tasks, p.syncFail) {
		if t.created {
			if err := s.kube.removeFinalizer(ctx, t); err != nil {
				s.opts.Log.Error(err, "removing the hook finalizer", "resource", t.key.String())
			}
			t.created = false
		}
	}
}

// withReasons appends the messages of the failed tasks to msg, as Argo CD does.
func (s *syncer) withReasons(msg string, lists ...[]*task) string {
	var reasons []string
	for _, list := range lists {
		for _, t := range list {
			if t.state == OperationFailed && t.result >= 0 {
				reasons = append(reasons, s.results[t.result].Message)
			}
		}
	}
	if len(reasons) == 0 {
		return msg
	}
	return msg + ", reason: " + strings.Join(reasons, "; ")
}

// report sets the result of t (the first report adds it, in order of action).
func (s *syncer) report(t *task, status ResultCode, message string) {
	r := ResourceResult{Group: t.gvk.Group, Version: t.gvk.Version, Kind: t.gvk.Kind,
		Namespace: t.key.Namespace, Name: t.key.Name, Status: status, Message: message,
		SyncPhase: t.phase, Wave: t.wave}
	if t.hook {
		r.HookType, r.HookPhase = HookType(t.phase), t.state
	}
	if t.result < 0 {
		t.result = len(s.results)
		s.results = append(s.results, r)
		return
	}
	s.results[t.result] = r
}

// note changes the message of t's result, keeping its status.
func (s *syncer) note(t *task, message string) {
	status := ResultSynced
	if t.result >= 0 {
		status = s.results[t.result].Status
	}
	s.report(t, status, message)
}

func (s *syncer) snapshot(phase OperationPhase, message string) Result {
	return Result{Phase: phase, Message: message, Resources: slices.Clone(s.results)}
}

func (s *syncer) progress(message string) {
	s.opts.Log.V(1).Info(message)
	if s.opts.Progress != nil {
		s.opts.Progress(s.snapshot(OperationRunning, message))
	}
}

func (s *syncer) finish(phase OperationPhase, message string) Result {
	s.opts.Log.V(1).Info("sync ended", "phase", phase, "message", message)
	return s.snapshot(phase, message)
}
