package application

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/gitops/cluster"
	"gantry.dev/gantry/internal/gitops/livestate"
	"gantry.dev/gantry/internal/gitops/policy"
	"gantry.dev/gantry/internal/gitops/render"
	gitsource "gantry.dev/gantry/internal/gitops/source"
	"gantry.dev/gantry/internal/gitops/unknownfields"
	projectpkg "gantry.dev/gantry/internal/project"
	"gantry.dev/gantry/internal/statuswrite"
)

// Sources resolves revisions and checks out commits (source.Cache), as the
// app's project reads them: with its credentials and global ones only.
type Sources interface {
	Resolve(ctx context.Context, repo gitsource.Repo, revision string) (string, error)
	ResolveAfter(ctx context.Context, repo gitsource.Repo, revision string, after time.Time) (string, error)
	Checkout(ctx context.Context, repo gitsource.Repo, sha string) (string, error)
	Invalidate(repoURL string)
}

// Renderer turns a checked-out source into manifests (render.Cache).
type Renderer interface {
	Render(ctx context.Context, req render.Request) (*render.Result, error)
}

// Reconciler reconciles Applications.
type Reconciler struct {
	Client client.Client
	// APIReader reads past the manager's cache (mgr.GetAPIReader()), when the
	// cache has not caught up with the controller's own writes. Default Client.
	APIReader client.Reader
	Clusters  *cluster.Registry
	Live      *livestate.Cache
	Sources   Sources
	Renderer  Renderer
	Log       logr.Logger
	// PollInterval is how often an app's repository is asked for new commits
	// (ls-remote); webhooks refresh at once. Default 60s.
	PollInterval time.Duration
	// KubeVersion is what Helm templates see as .Capabilities.KubeVersion.
	KubeVersion string
	// Workers is the number of apps reconciled at once. Default
	// DefaultWorkers.
	Workers int
	// NoHostApps refuses apps with objects for the host cluster (HostRefusal):
	// gantry runs without the grant to write them there (the Helm chart's
	// rbac.hostGitOps: false). Its own Applications (an app of apps'
	// children) and virtual clusters are not concerned.
	NoHostApps bool

	changes    chan event.GenericEvent
	statusOnce sync.Once
	status     *statuswrite.Writer

	clustersMu sync.Mutex
	appCluster map[types.NamespacedName]string // the destination key each app uses (clusters.go)
	appsKey    string                          // the key of the host's apps, every app's children (children.go)

	seenMu sync.Mutex
	seen   map[types.NamespacedName]seenApp // what each app was when last compared

	policies policyCache // each project's compiled rules (scope.go)

	parked parking // steady apps, waiting for a change rather than a timer (park.go)

	unknownMu sync.Mutex
	unknown   map[types.NamespacedName]unknownFields // unsupported's answer per stored version

	intake intake // new apps wait for a burst of creations to pause (intake.go)
}

// unknownFields is what unsupported found in one stored version of an app.
type unknownFields struct {
	uid        types.UID
	generation int64
	fields     []string
}

type seenApp struct {
	uid        types.UID
	generation int64
}

// forget drops what freshAfter remembers of a deleted app.
func (r *Reconciler) forget(key types.NamespacedName) {
	r.seenMu.Lock()
	delete(r.seen, key)
	r.seenMu.Unlock()
	r.unknownMu.Lock()
	delete(r.unknown, key)
	r.unknownMu.Unlock()
	r.parked.unpark(key)
	r.releaseCluster(key)
}

// freshAfter says how recent the repository's answer must be for app: a new app
// (or one whose spec changed) must see commits pushed before it was made; others
// take the cache, refreshed every PollInterval and on webhooks.
func (r *Reconciler) freshAfter(app *gitopsv1alpha1.Application) time.Time {
	r.seenMu.Lock()
	defer r.seenMu.Unlock()
	if r.seen == nil {
		r.seen = map[types.NamespacedName]seenApp{}
	}
	key := types.NamespacedName{Namespace: app.Namespace, Name: app.Name}
	prev, ok := r.seen[key]
	ok = ok && prev.uid == app.UID // a re-created app is new
	gen := prev.generation
	r.seen[key] = seenApp{uid: app.UID, generation: app.Generation}
	switch {
	case !ok:
		// Creation times have second resolution: an answer from after the next
		// second (or from now, if that is sooner) is surely newer than the app.
		if t := app.CreationTimestamp.Add(time.Second); t.Before(time.Now()) {
			return t
		}
		return time.Now()
	case gen != app.Generation:
		return time.Now()
	}
	return time.Time{}
}

// DefaultWorkers is how many apps are reconciled at once unless told
// (--gitops-workers; Argo CD runs 20 status and 10 operation processors).
// With 8, 10,000 apps kept the 2-core system only 70% busy
// (BenchmarkGitOps10000: 786 s, 1,112 CPU-s); 16 did no better (830 s,
// 1,143 CPU-s): what holds the rest back is not the number of workers.
const DefaultWorkers = 8

// SetupWithManager registers the controller. Changes of managed objects (from
// livestate) and webhooks come in through Enqueue; cluster Secrets wake the apps
// deploying to their cluster (destinations.go).
func (r *Reconciler) SetupWithManager(mgr manager.Manager) error {
	if r.PollInterval == 0 {
		r.PollInterval = 60 * time.Second
	}
	if r.Workers == 0 {
		r.Workers = DefaultWorkers
	}
	r.changes = make(chan event.GenericEvent, 1024)
	if err := mgr.Add(manager.RunnableFunc(r.pollParked)); err != nil {
		return err
	}
	return builder.ControllerManagedBy(mgr).
		Named("application").
		// Not on the controller's own status writes: only spec and operation
		// (generation), annotations (refresh), finalizers and deletion bring an
		// app back; the rest comes from livestate, webhooks and the poll.
		For(&gitopsv1alpha1.Application{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{},
			predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
				return !equality.Semantic.DeepEqual(e.ObjectOld.GetFinalizers(), e.ObjectNew.GetFinalizers()) ||
					!e.ObjectOld.GetDeletionTimestamp().Equal(e.ObjectNew.GetDeletionTimestamp())
			}}), predicate.Funcs{CreateFunc: func(event.CreateEvent) bool {
			r.intake.created(time.Now())
			return true
		}})).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.appsForClusterSecret),
			builder.WithPredicates(predicate.NewPredicateFuncs(r.isClusterSecret))).
		// A project's rules decide what its apps may do: a change re-checks them.
		Watches(&platformv1alpha1.Project{}, handler.EnqueueRequestsFromMapFunc(r.appsOfProject),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WatchesRawSource(source.Channel(r.changes, &handler.EnqueueRequestForObject{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: r.Workers}).
		Complete(r)
}

// Enqueue asks for app (namespace/name) to be compared again now.
func (r *Reconciler) Enqueue(app types.NamespacedName) {
	if r.changes == nil {
		return
	}
	obj := &gitopsv1alpha1.Application{ObjectMeta: metav1.ObjectMeta{Namespace: app.Namespace, Name: app.Name}}
	select {
	case r.changes <- event.GenericEvent{Object: obj}:
	default:
		// Full: a burst of changes (a webhook for a thousand apps). A parked
		// app has no timer to catch up with: the poller queues it a second later.
		r.parked.defer_(app)
	}
}

// Reconcile compares one app with Git and its destination, syncs when due, and
// patches its status once.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	app := &gitopsv1alpha1.Application{}
	if err := r.writer().Get(ctx, req.NamespacedName, app); err != nil {
		if apierrors.IsNotFound(err) {
			r.forget(req.NamespacedName)
		}
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if wait := r.intake.hold(app, time.Now()); wait > 0 {
		return reconcile.Result{RequeueAfter: wait}, nil
	}
	r.parked.unpark(req.NamespacedName)
	before := app.DeepCopy()
	result, err := r.reconcile(ctx, app)
	if err == nil && result.RequeueAfter == r.PollInterval {
		if project, ok := projectpkg.FromNamespace(app.Namespace); ok {
			if a, ok := parkable(app, project); ok {
				r.parked.park(req.NamespacedName, a)
				result = reconcile.Result{}
			}
		}
	}
	if perr := statuswrite.Patch(ctx, r.writer(), before, app, func(server, desired *gitopsv1alpha1.Application) bool {
		return statusChanged(&server.Status, &desired.Status, r.PollInterval)
	}); perr != nil {
		return reconcile.Result{}, errors.Join(err, perr)
	}
	if _, ok := before.Annotations[RefreshAnnotation]; ok && app.DeletionTimestamp.IsZero() {
		// Removed only now that the new comparison is recorded, so whoever asked
		// (gantry app get --refresh) reads a status that includes it.
		patch := []byte(`{"metadata":{"annotations":{"` + RefreshAnnotation + `":null}}}`)
		done := app.DeepCopy()
		if perr := r.Client.Patch(ctx, done, client.RawPatch(types.MergePatchType, patch)); client.IgnoreNotFound(perr) != nil {
			return reconcile.Result{}, errors.Join(err, perr)
		} else if perr == nil {
			r.writer().Wrote(done)
		}
	}
	return result, err
}

// writer returns the status writer, made on first use (tests build Reconcilers
// without SetupWithManager).
func (r *Reconciler) writer() *statuswrite.Writer {
	r.statusOnce.Do(func() { r.status = &statuswrite.Writer{Client: r.Client, Reader: r.APIReader} })
	return r.status
}

func (r *Reconciler) reconcile(ctx context.Context, app *gitopsv1alpha1.Application) (reconcile.Result, error) {
	if !app.DeletionTimestamp.IsZero() {
		return r.finalize(ctx, app)
	}
	r.handleRefresh(app)
	conds := newConditions(app)
	defer conds.apply(app)
	now := metav1.Now()
	app.Status.ReconciledAt = &now
	requeue := reconcile.Result{RequeueAfter: r.PollInterval}

	// fail ends the reconcile on a problem with the app itself: a condition,
	// sync status Unknown, and a requested operation ended at once with the
	// reason, so that whoever asked (gantry app sync) is not left waiting.
	fail := func(condType string, err error, result reconcile.Result) (reconcile.Result, error) {
		app.Status.Sync.Status = gitopsv1alpha1.SyncStatusUnknown
		return conds.fail(condType, err, result), r.failPending(ctx, app, conds, err.Error())
	}

	// 1. Validate: the spec as stored (with fields gantry does not know) and as typed.
	if bad, err := r.unsupported(ctx, app); err != nil {
		return reconcile.Result{}, err
	} else if len(bad) > 0 {
		return fail(gitopsv1alpha1.ConditionUnsupportedField,
			fmt.Errorf("gantry does not support %v; remove them or the app would deploy something else than Argo CD would", bad), reconcile.Result{})
	}
	if err := validateSpec(&app.Spec); err != nil {
		return fail(gitopsv1alpha1.ConditionInvalidSpecError, err, reconcile.Result{})
	}
	if msg, err := r.overQuota(ctx, app); err != nil {
		return reconcile.Result{}, err
	} else if msg != "" {
		return fail(gitopsv1alpha1.ConditionInvalidSpecError, errors.New(msg), requeue)
	}

	// 2. Project and destination: where the app deploys, and whether its
	// project lets it deploy there and read its repositories (a project
	// change brings the app back: SetupWithManager).
	sc, err := r.scopeOf(ctx, app)
	if err == nil {
		err = sc.sources(sources(&app.Spec))
	}
	if err != nil {
		r.releaseCluster(client.ObjectKeyFromObject(app))
		return fail(gitopsv1alpha1.ConditionInvalidSpecError, err, requeue)
	}
	cl, err := r.liveCluster(client.ObjectKeyFromObject(app), sc.dest)
	if err != nil {
		// The destination may be back at the next poll (a cluster Secret
		// being written): the sync status stays and a requested
		// operation waits for it.
		return conds.fail(gitopsv1alpha1.ConditionComparisonError, err, requeue), nil
	}

	// 3. Build, 4. compare (and check the objects against the project).
	began := time.Now()
	cmp, err := r.compareApp(ctx, app, sc, cl, sources(&app.Spec), nil)
	if policy.IsRefusal(err) || IsHostRefusal(err) {
		return fail(gitopsv1alpha1.ConditionInvalidSpecError, err, requeue)
	} else if err != nil {
		return fail(gitopsv1alpha1.ConditionComparisonError, err, requeue)
	}
	r.recordComparison(app, cmp)

	// 5. Sync, when an operation asks or the automated policy says so.
	op, err := r.pendingOperation(ctx, app, cmp)
	if err != nil {
		return reconcile.Result{}, err
	}
	if op == nil {
		var wait time.Duration
		if op, wait = r.retryDue(app); op == nil && wait > 0 {
			return reconcile.Result{RequeueAfter: min(wait, r.PollInterval)}, nil
		}
	}
	if op == nil {
		return requeue, nil
	}
	compared := time.Since(began)
	r.runOperation(ctx, app, sc, cl, op, conds)
	st := app.Status.OperationState
	// One line per sync: what an operator greps for, with where the time went.
	r.Log.Info("sync finished", "app", app.Namespace+"/"+app.Name, "phase", st.Phase, "revision", cmp.revisions,
		"automated", op.InitiatedBy.Automated, "compare", compared.Round(time.Millisecond),
		"sync", time.Since(began.Add(compared)).Round(time.Millisecond), "message", st.Message)
	if r.settled(ctx, app, sc, cl) {
		return requeue, nil
	}
	// Compare again at once: the sync changed the cluster.
	return reconcile.Result{RequeueAfter: 100 * time.Millisecond}, nil
}

// settleWait bounds how long a reconcile that synced waits for the watches
// to show what it applied (usually a few milliseconds on the local host).
const settleWait = 300 * time.Millisecond

// settled compares app again right after a sync that succeeded, once the
// watches show the objects as applied, and records that comparison: the one
// status write then carries the sync's result and the Synced state it led
// to. Otherwise the write after the sync says OutOfSync (the comparison made
// before it) and the next reconcile writes again; status patches of
// Applications were the host API server's largest cost in a 1,000-app sync
// (a third of its CPU, two per app). False: the next reconcile, soon, does it.
func (r *Reconciler) settled(ctx context.Context, app *gitopsv1alpha1.Application, sc *scope, cl *livestate.Cluster) bool {
	st := app.Status.OperationState
	if st == nil || st.Phase != gitopsv1alpha1.OperationSucceeded || st.Operation.Sync == nil {
		return false
	}
	// Only a sync of the whole app (every automated sync): a dry run, other
	// sources or some of the resources leave it OutOfSync.
	if so := st.Operation.Sync; so.DryRun || so.Source != nil || len(so.Sources) > 0 || len(so.Resources) > 0 || st.SyncResult == nil {
		return false
	}
	deadline := time.Now().Add(settleWait)
	for {
		cmp, err := r.compareApp(ctx, app, sc, cl, sources(&app.Spec), nil)
		if err != nil || !sameRevisions(st.SyncResult, cmp.revisions) {
			return false // another revision than the target: OutOfSync it stays
		}
		if cmp.sync == gitopsv1alpha1.SyncStatusSynced {
			r.recordComparison(app, cmp)
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// statusChanged says whether the status is worth writing: any change but the
// comparison timestamps, or timestamps older than three poll periods (Argo CD's
// resync). A refresh that finds nothing new then costs no write: with a thousand
// apps, a write per app per poll would be most of the engine's work.
func statusChanged(before, after *gitopsv1alpha1.ApplicationStatus, poll time.Duration) bool {
	a, b := *before, *after
	a.ReconciledAt, a.ObservedAt, b.ReconciledAt, b.ObservedAt = nil, nil, nil, nil
	if !equality.Semantic.DeepEqual(a, b) {
		return true
	}
	if before.ReconciledAt == nil || after.ReconciledAt == nil {
		return before.ReconciledAt != after.ReconciledAt
	}
	return after.ReconciledAt.Sub(before.ReconciledAt.Time) >= 3*poll
}

// overQuota says why app may not be compared or synced under its project's quota
// of applications (the oldest apps are within it), or "".
func (r *Reconciler) overQuota(ctx context.Context, app *gitopsv1alpha1.Application) (string, error) {
	project, ok := projectpkg.FromNamespace(app.Namespace)
	if !ok {
		return "", nil
	}
	p := &platformv1alpha1.Project{}
	if err := r.Client.Get(ctx, client.ObjectKey{Name: project}, p); err != nil {
		return "", client.IgnoreNotFound(err)
	}
	limit := p.Spec.Quotas.Applications
	if limit == nil {
		return "", nil
	}
	var list gitopsv1alpha1.ApplicationList
	if err := r.Client.List(ctx, &list, client.InNamespace(app.Namespace)); err != nil {
		return "", err
	}
	older := 0
	for _, other := range list.Items {
		if other.CreationTimestamp.Before(&app.CreationTimestamp) ||
			other.CreationTimestamp.Equal(&app.CreationTimestamp) && other.Name < app.Name {
			older++
		}
	}
	if int32(older) >= *limit {
		return fmt.Sprintf("project %s allows %d applications (spec.quotas.applications) and this is number %d: delete one or raise the quota",
			project, *limit, older+1), nil
	}
	return "", nil
}

// failPending ends a requested operation at once when the app cannot be compared,
// so that whoever asked (gantry app sync) gets the reason instead of waiting.
func (r *Reconciler) failPending(ctx context.Context, app *gitopsv1alpha1.Application, conds *conditions, msg string) error {
	if app.Operation == nil {
		return nil
	}
	op, err := r.pendingOperation(ctx, app, nil)
	if err != nil || op == nil {
		return err
	}
	conds.endOperation(app.Status.OperationState, gitopsv1alpha1.OperationError, msg)
	return nil
}

// compareApp renders the sources at revisions, checks the result against the
// app's project as a whole (nothing is written when one object is refused)
// and compares it with the cluster.
func (r *Reconciler) compareApp(ctx context.Context, app *gitopsv1alpha1.Application, sc *scope, cl *livestate.Cluster, srcs []gitopsv1alpha1.ApplicationSource, revisions []string) (*comparison, error) {
	rendered, resolved, types, err := r.desiredState(ctx, app, sc, srcs, revisions)
	if err != nil {
		return nil, err
	}
	// An app of apps: its Applications and ApplicationSets are its children
	// in its project (children.go), the rest goes to the destination.
	desired, children, err := adopt(app, sc.policy.Project(), rendered)
	if err != nil {
		return nil, comparisonError{err}
	}
	if r.NoHostApps && sc.target.Host && len(desired) > 0 {
		// Before the host is watched or written: a list or a dry run there
		// would only say "forbidden" without saying why.
		return nil, &HostRefusal{Objects: len(desired)}
	}
	if err := prepare(cl, app.Spec.Destination.Namespace, desired); err != nil {
		return nil, comparisonError{err}
	}
	if err := sc.policy.Objects(sc.target, desired); err != nil {
		return nil, err
	}
	gvks := map[schema.GroupVersionKind]bool{}
	for _, d := range desired {
		if _, err := cl.Mapping(d.GroupVersionKind()); err == nil {
			gvks[d.GroupVersionKind()] = true
		}
	}
	for _, rs := range app.Status.Resources {
		gvk := schema.GroupVersionKind{Group: rs.Group, Version: rs.Version, Kind: rs.Kind}
		if gvk.Group == appGroup {
			continue // children, on the host
		}
		if _, err := cl.Mapping(gvk); err == nil {
			gvks[gvk] = true
		}
	}
	list := make([]schema.GroupVersionKind, 0, len(gvks))
	for g := range gvks {
		list = append(list, g)
	}
	if err := cl.Watch(ctx, list); err != nil {
		return nil, comparisonError{err}
	}
	appKey := app.Namespace + "/" + app.Name
	live := map[resourceKey]*unstructured.Unstructured{}
	for _, o := range cl.Managed(appKey) {
		// What the project may not touch is neither compared nor pruned, even
		// when it carries the app's tracking id.
		if !isChild(o) && sc.policy.Reaches(sc.target, o) == nil {
			live[keyOf(o)] = o
		}
	}
	var apps *livestate.Cluster
	if len(children) > 0 || hasChildren(app) {
		var host policy.Target
		if apps, host, err = r.appsCluster(ctx, true); err != nil {
			return nil, comparisonError{err}
		}
		// Children are objects of the project's namespace on the host, under
		// its rules as any other (a project may refuse apps of apps).
		if err := sc.policy.Objects(host, children); err != nil {
			return nil, err
		}
		for _, o := range liveChildren(app, sc, apps, host) {
			live[keyOf(o)] = o
		}
		if err := r.checkChildren(ctx, app, sc.policy.Project(), children, live); err != nil {
			return nil, comparisonError{err}
		}
		desired = append(desired, children...)
	}
	cmp, err := compare(app, desired, live)
	if err != nil {
		return nil, comparisonError{err}
	}
	cmp.revisions, cmp.sourceTypes, cmp.apps = resolved, types, apps
	return cmp, nil
}

// recordComparison writes a comparison into the status, as Argo CD shows it.
func (r *Reconciler) recordComparison(app *gitopsv1alpha1.Application, cmp *comparison) {
	st := &app.Status
	st.Resources = cmp.resources
	st.Sync.Status = cmp.sync
	st.Sync.ComparedTo = gitopsv1alpha1.ComparedTo{Destination: app.Spec.Destination, IgnoreDifferences: app.Spec.IgnoreDifferences}
	if app.Spec.Source != nil {
		st.Sync.ComparedTo.Source = app.Spec.Source.DeepCopy()
		st.Sync.Revision = cmp.revisions[0]
		st.SourceType = cmp.sourceTypes[0]
		st.Sync.Revisions, st.SourceTypes = nil, nil
	} else {
		st.Sync.ComparedTo.Sources = append([]gitopsv1alpha1.ApplicationSource(nil), app.Spec.Sources...)
		st.Sync.Revisions, st.SourceTypes = cmp.revisions, cmp.sourceTypes
		st.Sync.Revision = ""
	}
	if st.Health.Status != cmp.health.Status {
		now := metav1.Now()
		cmp.health.LastTransitionTime = &now
	} else {
		cmp.health.LastTransitionTime = st.Health.LastTransitionTime
	}
	st.Health = cmp.health
	st.Summary.Images = cmp.images
	now := metav1.Now()
	st.ObservedAt = &now
}

// unsupported lists the Argo CD fields in the stored app that gantry does not know.
// The answer is kept per generation: reading the app as stored costs an
// uncached GET (controller-runtime caches typed objects only), which a
// thousand apps compared once a minute made a thousand GETs a minute of the
// host's API server and its storage for nothing. Unknown fields live in spec
// and operation, and only they move the generation (the status and
// metadata, the reconciler's own writes and a refresh annotation, do not).
func (r *Reconciler) unsupported(ctx context.Context, app *gitopsv1alpha1.Application) ([]string, error) {
	key := client.ObjectKeyFromObject(app)
	r.unknownMu.Lock()
	known, ok := r.unknown[key]
	r.unknownMu.Unlock()
	if ok && known.uid == app.UID && known.generation == app.Generation {
		return known.fields, nil
	}
	fields, err := r.readUnsupported(ctx, app)
	if err == nil {
		r.unknownMu.Lock()
		if r.unknown == nil {
			r.unknown = map[types.NamespacedName]unknownFields{}
		}
		r.unknown[key] = unknownFields{uid: app.UID, generation: app.Generation, fields: fields}
		r.unknownMu.Unlock()
	}
	return fields, err
}

func (r *Reconciler) readUnsupported(ctx context.Context, app *gitopsv1alpha1.Application) ([]string, error) {
	raw := &unstructured.Unstructured{}
	raw.SetGroupVersionKind(gitopsv1alpha1.GroupVersion.WithKind("Application"))
	if err := r.Client.Get(ctx, client.ObjectKeyFromObject(app), raw); err != nil {
		return nil, client.IgnoreNotFound(err)
	}
	var out []string
	out = append(out, unknownfields.List("spec", raw.Object["spec"], reflect.TypeOf(gitopsv1alpha1.ApplicationSpec{}))...)
	if op, ok := raw.Object["operation"]; ok {
		out = append(out, unknownfields.List("operation", op, reflect.TypeOf(gitopsv1alpha1.Operation{}))...)
	}
	return out, nil
}

// handleRefresh honours Argo CD's refresh annotation: normal asks Git again now,
// hard also drops rendered manifests. Reconcile removes the annotation once the
// comparison is recorded.
func (r *Reconciler) handleRefresh(app *gitopsv1alpha1.Application) {
	mode, ok := app.Annotations[RefreshAnnotation]
	if !ok {
		return
	}
	purger, _ := r.Renderer.(interface{ Purge(repoURL string) })
	for _, s := range sources(&app.Spec) {
		if s.Chart == "" {
			r.Sources.Invalidate(s.RepoURL)
		}
		if mode == "hard" && purger != nil {
			purger.Purge(s.RepoURL)
		}
	}
}

// clusterKey identifies a destination by its address and credentials, so that a
// re-created virtual cluster (new certificates, maybe the same address) gets new
// clients rather than the old ones.
func clusterKey(c *cluster.Cluster) string {
	h := sha256.New()
	for _, b := range [][]byte{c.REST.CAData, c.REST.CertData, []byte(c.REST.BearerToken), []byte(c.REST.Username)} {
		h.Write(b)
		h.Write([]byte{0})
	}
	return c.Server + "|" + c.Secret + "|" + hex.EncodeToString(h.Sum(nil))
}
