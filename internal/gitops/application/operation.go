package application

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
	"gantry.dev/gantry/internal/gitops/apply"
	"gantry.dev/gantry/internal/gitops/diff"
	"gantry.dev/gantry/internal/gitops/health"
	"gantry.dev/gantry/internal/gitops/livestate"
	"gantry.dev/gantry/internal/podsecurity"
)

// defaultHistoryLimit is Argo CD's default revisionHistoryLimit.
const defaultHistoryLimit = 10

// pendingOperation returns the operation to run now: one the user asked for
// (app.operation, which is then cleared), or an automated sync when the policy
// calls for one. It records the operation as Running in the status.
func (r *Reconciler) pendingOperation(ctx context.Context, app *gitopsv1alpha1.Application, cmp *comparison) (*gitopsv1alpha1.Operation, error) {
	var op *gitopsv1alpha1.Operation
	if app.Operation != nil {
		op = app.Operation.DeepCopy()
		// Clear the request on a copy, so this reconcile's status is not overwritten.
		taken := app.DeepCopy()
		if err := r.Client.Patch(ctx, taken, client.RawPatch(types.MergePatchType, []byte(`{"operation":null}`))); err != nil {
			return nil, fmt.Errorf("taking the app's operation: %w", client.IgnoreNotFound(err))
		}
		// A cache that has not seen this write would run the operation twice.
		r.writer().Wrote(taken)
		app.Operation = nil
	} else {
		op = r.automatedOperation(app, cmp)
	}
	if op == nil {
		return nil, nil
	}
	if op.Sync == nil {
		op.Sync = &gitopsv1alpha1.SyncOperation{}
	}
	app.Status.OperationState = &gitopsv1alpha1.OperationState{
		Operation: *op,
		Phase:     gitopsv1alpha1.OperationRunning,
		Message:   "sync started",
		StartedAt: metav1.Now(),
	}
	return op, nil
}

// automatedOperation applies Argo CD's automated sync policy: sync an OutOfSync
// app to the compared revision, but never twice to the same revision (a failed
// attempt waits for a new commit or retry; a succeeded one is repeated only with
// selfHeal), and never to an empty set of manifests without allowEmpty.
func (r *Reconciler) automatedOperation(app *gitopsv1alpha1.Application, cmp *comparison) *gitopsv1alpha1.Operation {
	pol := app.Spec.SyncPolicy
	if pol == nil || pol.Automated == nil || pol.Automated.Enabled != nil && !*pol.Automated.Enabled {
		return nil
	}
	if cmp.sync != gitopsv1alpha1.SyncStatusOutOfSync {
		return nil
	}
	if len(cmp.desired) == 0 && !pol.Automated.AllowEmpty {
		return nil
	}
	if last := app.Status.OperationState; last != nil && last.Operation.InitiatedBy.Automated && last.SyncResult != nil &&
		sameRevisions(last.SyncResult, cmp.revisions) {
		switch {
		case last.Phase != gitopsv1alpha1.OperationSucceeded:
			return nil // failed on this revision already: retry policy or a new commit
		case !pol.Automated.SelfHeal:
			return nil // synced this revision; drift is shown, not reverted
		}
	}
	op := &gitopsv1alpha1.Operation{
		Sync: &gitopsv1alpha1.SyncOperation{
			Prune:       pol.Automated.Prune,
			SyncOptions: pol.SyncOptions,
		},
		InitiatedBy: gitopsv1alpha1.OperationInitiator{Username: "automated sync policy", Automated: true},
	}
	if app.Spec.Source != nil {
		op.Sync.Revision = cmp.revisions[0]
	} else {
		op.Sync.Revisions = cmp.revisions
	}
	if pol.Retry != nil {
		op.Retry = *pol.Retry
	}
	return op
}

func sameRevisions(res *gitopsv1alpha1.SyncOperationResult, revs []string) bool {
	if len(res.Revisions) > 0 {
		return slices.Equal(res.Revisions, revs)
	}
	return len(revs) == 1 && res.Revision == revs[0]
}

// retryDue returns the failed operation again once its backoff has passed, or how
// long to wait for it.
func (r *Reconciler) retryDue(app *gitopsv1alpha1.Application) (*gitopsv1alpha1.Operation, time.Duration) {
	st := app.Status.OperationState
	if st == nil || st.FinishedAt == nil || st.Phase == gitopsv1alpha1.OperationSucceeded || st.Phase == gitopsv1alpha1.OperationRunning {
		return nil, 0
	}
	retry := st.Operation.Retry
	if retry.Limit == 0 || retry.Limit > 0 && st.RetryCount >= retry.Limit {
		return nil, 0
	}
	wait := backoff(retry.Backoff, st.RetryCount)
	if left := time.Until(st.FinishedAt.Add(wait)); left > 0 {
		return nil, left
	}
	op := st.Operation.DeepCopy()
	if retry.Refresh && op.Sync != nil {
		// Resolved again when the retry runs: a fix pushed after the failure
		// is what gets synced.
		op.Sync.Revision, op.Sync.Revisions = "", nil
	}
	count := st.RetryCount + 1
	app.Status.OperationState = &gitopsv1alpha1.OperationState{
		Operation: *op, Phase: gitopsv1alpha1.OperationRunning, StartedAt: metav1.Now(), RetryCount: count,
		Message: fmt.Sprintf("retrying attempt #%d", count),
	}
	return op, 0
}

// backoff is Argo CD's: duration (5s) × factor (2) ^ attempts, at most maxDuration (3m).
func backoff(b *gitopsv1alpha1.Backoff, attempts int64) time.Duration {
	d, factor, max := 5*time.Second, int64(2), 3*time.Minute
	if b != nil {
		if v, err := time.ParseDuration(b.Duration); err == nil {
			d = v
		}
		if b.Factor != nil {
			factor = *b.Factor
		}
		if v, err := time.ParseDuration(b.MaxDuration); err == nil {
			max = v
		}
	}
	w := time.Duration(float64(d) * math.Pow(float64(factor), float64(attempts)))
	if w > max || w <= 0 {
		w = max
	}
	return w
}

// runOperation performs a sync and records its result, history and conditions.
func (r *Reconciler) runOperation(ctx context.Context, app *gitopsv1alpha1.Application, sc *scope, cl *livestate.Cluster, op *gitopsv1alpha1.Operation, conds *conditions) {
	st := app.Status.OperationState
	so := op.Sync
	srcs := sources(&app.Spec)
	if so.Source != nil {
		srcs = []gitopsv1alpha1.ApplicationSource{*so.Source}
	} else if len(so.Sources) > 0 {
		srcs = so.Sources
	}
	revisions := so.Revisions
	if so.Revision != "" {
		revisions = []string{so.Revision}
	}
	// fail ends an operation that could not run: every exit before the sync
	// itself goes through it.
	fail := func(err error) { conds.endOperation(st, gitopsv1alpha1.OperationError, err.Error()) }
	if err := apply.CheckSyncOptions(so.SyncOptions); err != nil {
		fail(fmt.Errorf("operation.sync.syncOptions: %w", err))
		return
	}
	cmp, err := r.compareApp(ctx, app, sc, cl, srcs, revisions)
	if err != nil {
		fail(err)
		return
	}
	live := make([]*unstructured.Unstructured, 0, len(cmp.live))
	for _, l := range cmp.live {
		live = append(live, l)
	}
	opts := apply.Options{
		Namespace:    app.Spec.Destination.Namespace,
		FieldManager: FieldManager,
		TrackingKey:  TrackingAnnotation,
		TrackingID:   func(o *unstructured.Unstructured) string { return trackingID(app.Namespace, app.Name, o) },
		Labels:       map[string]string{InstanceLabel: livestate.InstanceValue(app.Namespace, app.Name)},
		Prune:        so.Prune,
		DryRun:       so.DryRun,
		SyncOptions:  apply.ParseSyncOptions(append(appSyncOptions(app), so.SyncOptions...)),
		OutOfSync:    map[apply.ResourceKey]bool{},
		Revision:     cmp.revisions[0],
		Health:       syncHealth,
		WaitTimeout:  5 * time.Minute,
		Log:          r.Log.WithValues("app", app.Namespace+"/"+app.Name),
	}
	for k := range cmp.outOfSync {
		opts.OutOfSync[apply.ResourceKey(k)] = true
	}
	opts.InSync = make(map[apply.ResourceKey]bool, len(cmp.exact))
	for k := range cmp.exact {
		opts.InSync[apply.ResourceKey(k)] = true
	}
	for _, res := range so.Resources {
		opts.Resources = append(opts.Resources, apply.ResourceKey{Group: res.Group, Kind: res.Kind, Namespace: res.Namespace, Name: res.Name})
	}
	desired := make([]*unstructured.Unstructured, len(cmp.desired))
	for i, d := range cmp.desired {
		desired[i] = d.DeepCopy()
	}
	if err := respectIgnored(app, desired, cmp.live, opts.SyncOptions); err != nil {
		fail(err)
		return
	}
	if opts.SyncOptions.CreateNamespace && !so.DryRun && opts.Namespace != "" {
		// Made before validation, so the app's objects in it are dry-run like any
		// other instead of passing unchecked (gitops-engine skips their dry run): an
		// invalid manifest then fails the sync before anything of the app is applied.
		var md *gitopsv1alpha1.ManagedNamespaceMetadata
		if app.Spec.SyncPolicy != nil {
			md = app.Spec.SyncPolicy.ManagedNamespaceMetadata
		}
		// On a cluster the project shares, a namespace it creates enforces
		// the project's Pod Security level (an existing one is left as its
		// owner labelled it; the engine checks the app's workloads anyway).
		var psa map[string]string
		if !sc.policy.Own(sc.target) {
			psa = podsecurity.NamespaceLabels(sc.policy.PodSecurity())
		}
		created, err := ensureNamespace(ctx, cl, opts.Namespace, md, psa)
		if err != nil {
			fail(err)
			return
		}
		// It exists now: the sync need not look for it again, and when it is
		// new nothing in it is read before being applied.
		opts.SyncOptions.CreateNamespace = false
		opts.NamespaceCreated = created
	}
	started := st.StartedAt
	dyn, mapper := routed(cl, cmp.apps) // children to the host, the rest to the destination
	res := apply.Sync(ctx, apply.Cluster{Dynamic: dyn, Mapper: mapper}, desired, live, opts)
	st.SyncResult = syncResult(&res, cmp, app, srcs)
	conds.endOperation(st, gitopsv1alpha1.OperationPhase(res.Phase), res.Message)
	if st.Phase != gitopsv1alpha1.OperationSucceeded || so.DryRun {
		return
	}
	appendHistory(app, cmp, srcs, started, op.InitiatedBy)
}

func appSyncOptions(app *gitopsv1alpha1.Application) []string {
	if app.Spec.SyncPolicy == nil {
		return nil
	}
	return app.Spec.SyncPolicy.SyncOptions
}

// syncHealth adapts Argo CD's health to the sync step's wave gate: no health
// (ConfigMaps, Secrets…) counts as healthy; Suspended counts as healthy, as Argo
// CD lets a wave with a paused rollout proceed.
func syncHealth(obj *unstructured.Unstructured) (healthy, degraded bool, message string) {
	h, err := health.Assess(obj)
	if err != nil {
		return false, true, err.Error()
	}
	if h == nil {
		return true, false, ""
	}
	switch h.Status {
	case health.Healthy, health.Suspended:
		return true, false, h.Message
	case health.Degraded:
		return false, true, h.Message
	}
	return false, false, h.Message
}

func syncResult(res *apply.Result, cmp *comparison, app *gitopsv1alpha1.Application, srcs []gitopsv1alpha1.ApplicationSource) *gitopsv1alpha1.SyncOperationResult {
	out := &gitopsv1alpha1.SyncOperationResult{}
	if app.Spec.Source != nil {
		out.Revision, out.Source = cmp.revisions[0], srcs[0]
	} else {
		out.Revisions, out.Sources = cmp.revisions, srcs
	}
	for _, rr := range res.Resources {
		out.Resources = append(out.Resources, gitopsv1alpha1.ResourceResult{
			Group: rr.Group, Version: rr.Version, Kind: rr.Kind, Namespace: rr.Namespace, Name: rr.Name,
			Status: gitopsv1alpha1.ResultCode(rr.Status), Message: rr.Message,
			HookType: gitopsv1alpha1.HookType(rr.HookType), HookPhase: gitopsv1alpha1.OperationPhase(rr.HookPhase),
			SyncPhase: gitopsv1alpha1.HookType(rr.SyncPhase),
		})
	}
	return out
}

// appendHistory records a successful sync, keeping revisionHistoryLimit entries.
func appendHistory(app *gitopsv1alpha1.Application, cmp *comparison, srcs []gitopsv1alpha1.ApplicationSource, started metav1.Time, by gitopsv1alpha1.OperationInitiator) {
	var id int64
	for _, h := range app.Status.History {
		id = max(id, h.ID)
	}
	h := gitopsv1alpha1.RevisionHistory{ID: id + 1, DeployedAt: metav1.Now(), DeployStartedAt: &started, InitiatedBy: by}
	if app.Spec.Source != nil {
		h.Revision, h.Source = cmp.revisions[0], srcs[0].DeepCopy()
	} else {
		h.Revisions, h.Sources = cmp.revisions, srcs
	}
	limit := int64(defaultHistoryLimit)
	if app.Spec.RevisionHistoryLimit != nil {
		limit = *app.Spec.RevisionHistoryLimit
	}
	app.Status.History = append(app.Status.History, h)
	if n := int64(len(app.Status.History)); n > limit {
		app.Status.History = app.Status.History[n-limit:]
	}
}

// ensureNamespace creates namespace name (with labels, when it is new) and
// applies managedNamespaceMetadata to it. It tells whether it created it.
func ensureNamespace(ctx context.Context, cl *livestate.Cluster, name string, md *gitopsv1alpha1.ManagedNamespaceMetadata, labels map[string]string) (created bool, err error) {
	nsGVR := schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	ns := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace",
		"metadata": map[string]any{"name": name}}}
	if md == nil || len(labels) > 0 {
		obj := ns.DeepCopy()
		obj.SetLabels(labels)
		_, err := cl.Dynamic.Resource(nsGVR).Create(ctx, obj, metav1.CreateOptions{FieldManager: FieldManager})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return false, fmt.Errorf("creating namespace %s (CreateNamespace=true): %w", name, err)
		}
		created = err == nil
		if md == nil {
			return created, nil
		}
	}
	// Server-side apply under a field manager of its own: a label dropped
	// from managedNamespaceMetadata leaves the namespace at the next sync,
	// and what others set on it stays. (When it creates the namespace,
	// created stays false: the sync then reads before it writes, as usual.)
	ns.SetLabels(md.Labels)
	ns.SetAnnotations(md.Annotations)
	data, err := json.Marshal(ns.Object)
	if err != nil {
		return created, err
	}
	force := true
	if _, err := cl.Dynamic.Resource(nsGVR).Patch(ctx, name, types.ApplyPatchType, data,
		metav1.PatchOptions{FieldManager: NamespaceFieldManager, Force: &force}); err != nil {
		return created, fmt.Errorf("namespace %s (CreateNamespace=true, managedNamespaceMetadata): %w", name, err)
	}
	return created, nil
}

// respectIgnored honours RespectIgnoreDifferences (the app's option, or an
// object's own sync-options annotation, which overrides it either way): an
// object that exists takes the fields ignoreDifferences names from live, so
// the sync leaves them as they are. A new object is applied as Git has it.
func respectIgnored(app *gitopsv1alpha1.Application, desired []*unstructured.Unstructured, live map[resourceKey]*unstructured.Unstructured, appOpts apply.SyncOptions) error {
	rules := ignoreRules(app.Spec.IgnoreDifferences)
	for i, d := range desired {
		l := live[keyOf(d)]
		if l == nil || isHook(d) || !apply.ResourceSyncOptions(d, appOpts).RespectIgnoreDifferences {
			continue
		}
		out, err := diff.RespectIgnored(d, l, diff.OptionsFor(diff.Options{}, rules, d))
		if err != nil {
			return fmt.Errorf("%s: RespectIgnoreDifferences: %w", keyOf(d), err)
		}
		desired[i] = out
	}
	return nil
}
