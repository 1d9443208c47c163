package appset

import (
	"context"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/gitops/appset/generate"
	"gantry.dev/gantry/internal/gitops/cluster"
	gitsource "gantry.dev/gantry/internal/gitops/source"
	"gantry.dev/gantry/internal/statuswrite"
)

// LabelApplicationSet names the ApplicationSet that generated an Application
// or VirtualCluster (which also carries an owner reference to it).
const LabelApplicationSet = "gantry.dev/applicationset"

// AnnotationVirtualCluster, on a generated Application, names the
// VirtualCluster (in the same namespace) it was generated for: that cluster
// is deleted only once no Application naming it is left.
const AnnotationVirtualCluster = "gantry.dev/virtualcluster"

// Options configure a Reconciler.
type Options struct {
	// Client reads and writes ApplicationSets, Applications, VirtualClusters
	// and (cluster) Secrets; a manager's client. Required.
	Client client.Client
	// Generator produces the parameter sets. Required.
	Generator *generate.Generator
	// Namespace holds the cluster Secrets (gantry's system namespace):
	// their changes re-run the sets with a clusters generator.
	Namespace string
	// APIReader, optional, reads past the manager's cache
	// (mgr.GetAPIReader()) for the one check a stale cache would get wrong:
	// that no Application still deploys into a VirtualCluster about to be
	// deleted. Default Client.
	APIReader client.Reader
	// Clusters resolves generated destinations, so that the set's project is
	// checked before an Application is made. Optional: without it only the
	// host and the set's own preview clusters are checked here.
	Clusters *cluster.Registry
	Logger   logr.Logger
	// Now is the clock of condition transition times; default time.Now.
	Now func() time.Time
}

// Reconciler reconciles ApplicationSets.
type Reconciler struct {
	opts    Options
	changes chan event.GenericEvent
	status  *statuswrite.Writer
}

// New returns a Reconciler; SetupWithManager registers it.
func New(opts Options) *Reconciler {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.APIReader == nil {
		opts.APIReader = opts.Client
	}
	return &Reconciler{opts: opts, changes: make(chan event.GenericEvent, 1024),
		status: &statuswrite.Writer{Client: opts.Client, Reader: opts.APIReader}}
}

// SetupWithManager registers the controller: ApplicationSets (spec, labels,
// annotations), the Applications and VirtualClusters they own (status
// changes update the set's status and let waiting elements go on), cluster
// Secrets (sets with a clusters generator) and Refresh.
func (r *Reconciler) SetupWithManager(mgr manager.Manager) error {
	return builder.ControllerManagedBy(mgr).
		Named("applicationset").
		For(&gitopsv1alpha1.ApplicationSet{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, predicate.LabelChangedPredicate{},
			predicate.AnnotationChangedPredicate{},
			predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
				return !e.ObjectOld.GetDeletionTimestamp().Equal(e.ObjectNew.GetDeletionTimestamp())
			}}))).
		Owns(&gitopsv1alpha1.Application{}, builder.WithPredicates(predicate.Funcs{UpdateFunc: appChanged})).
		Owns(&platformv1alpha1.VirtualCluster{}, builder.WithPredicates(predicate.Funcs{UpdateFunc: vcChanged})).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.setsForClusterSecret),
			builder.WithPredicates(predicate.NewPredicateFuncs(r.isClusterSecret))).
		WatchesRawSource(source.Channel(r.changes, &handler.EnqueueRequestForObject{})).
		Complete(r)
}

// appChanged lets through what the set's status or decisions depend on, not
// the Application controller's every status write (reconciledAt).
func appChanged(e event.UpdateEvent) bool {
	o, ok1 := e.ObjectOld.(*gitopsv1alpha1.Application)
	n, ok2 := e.ObjectNew.(*gitopsv1alpha1.Application)
	if !ok1 || !ok2 {
		return true
	}
	return o.Generation != n.Generation ||
		!equality.Semantic.DeepEqual(o.Labels, n.Labels) ||
		!equality.Semantic.DeepEqual(o.Annotations, n.Annotations) ||
		!equality.Semantic.DeepEqual(o.Finalizers, n.Finalizers) ||
		!o.DeletionTimestamp.Equal(n.DeletionTimestamp) ||
		o.Status.Sync.Status != n.Status.Sync.Status ||
		o.Status.Health.Status != n.Status.Health.Status
}

func vcChanged(e event.UpdateEvent) bool {
	o, ok1 := e.ObjectOld.(*platformv1alpha1.VirtualCluster)
	n, ok2 := e.ObjectNew.(*platformv1alpha1.VirtualCluster)
	if !ok1 || !ok2 {
		return true
	}
	return o.Generation != n.Generation || o.Status.Phase != n.Status.Phase ||
		!equality.Semantic.DeepEqual(o.Labels, n.Labels) ||
		!o.DeletionTimestamp.Equal(n.DeletionTimestamp)
}

func (r *Reconciler) isClusterSecret(o client.Object) bool {
	return o.GetNamespace() == r.opts.Namespace && o.GetLabels()[cluster.SecretTypeLabel] == cluster.SecretTypeValue
}

// setsForClusterSecret enqueues every ApplicationSet with a clusters
// generator (at any depth).
func (r *Reconciler) setsForClusterSecret(ctx context.Context, _ client.Object) []reconcile.Request {
	return r.matching(ctx, func(g generatorRef) bool { return g.clusters })
}

// Refresh enqueues every ApplicationSet whose git or gitBranches generators
// read repoURL (any URL form of it), after forgetting the source cache's
// ls-remote answer for it, so that they see the new commits or branches now
// rather than at their next poll. The webhook calls it on every push.
func (r *Reconciler) Refresh(repoURL string) {
	if cs, ok := r.opts.Generator.Sources.(generate.CacheSources); ok && cs.Cache != nil {
		cs.Cache.Invalidate(repoURL)
	}
	want := gitsource.NormalizeURL(repoURL)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, req := range r.matching(ctx, func(g generatorRef) bool {
		return g.repoURL != "" && gitsource.NormalizeURL(g.repoURL) == want
	}) {
		set := &gitopsv1alpha1.ApplicationSet{ObjectMeta: metav1.ObjectMeta{Namespace: req.Namespace, Name: req.Name}}
		select {
		case r.changes <- event.GenericEvent{Object: set}:
		default:
			// Full: a burst of pushes; the poll (requeueAfterSeconds) catches up.
		}
	}
}

// RefreshAnnotation is Argo CD's request to regenerate an ApplicationSet
// now; Reconcile takes it away once done.
const RefreshAnnotation = "argocd.argoproj.io/application-set-refresh"

// RequestRefresh is Refresh for a replica of gantry that does not run the
// controller (leader election): it asks the leader through the API, with
// RefreshAnnotation on every set generating from repoURL.
func (r *Reconciler) RequestRefresh(ctx context.Context, repoURL string) {
	want := gitsource.NormalizeURL(repoURL)
	patch := []byte(`{"metadata":{"annotations":{"` + RefreshAnnotation + `":"true"}}}`)
	for _, req := range r.matching(ctx, func(g generatorRef) bool {
		return g.repoURL != "" && gitsource.NormalizeURL(g.repoURL) == want
	}) {
		set := &gitopsv1alpha1.ApplicationSet{ObjectMeta: metav1.ObjectMeta{Namespace: req.Namespace, Name: req.Name}}
		if err := r.opts.Client.Patch(ctx, set, client.RawPatch(types.MergePatchType, patch)); client.IgnoreNotFound(err) != nil {
			r.opts.Logger.Error(err, "asking for a refresh", "applicationset", req.NamespacedName)
		}
	}
}

// refreshRequested honours RefreshAnnotation: the set's repositories are
// asked again now. It reports whether the annotation is to be taken away.
func (r *Reconciler) refreshRequested(set *gitopsv1alpha1.ApplicationSet) bool {
	if _, ok := set.Annotations[RefreshAnnotation]; !ok {
		return false
	}
	if cs, ok := r.opts.Generator.Sources.(generate.CacheSources); ok && cs.Cache != nil {
		for _, g := range generatorRefs(&set.Spec) {
			if g.repoURL != "" {
				cs.Cache.Invalidate(g.repoURL)
			}
		}
	}
	return true
}

// matching lists the ApplicationSets with a generator for which match is true.
func (r *Reconciler) matching(ctx context.Context, match func(generatorRef) bool) []reconcile.Request {
	var list gitopsv1alpha1.ApplicationSetList
	if err := r.opts.Client.List(ctx, &list); err != nil {
		r.opts.Logger.Error(err, "listing ApplicationSets")
		return nil
	}
	var out []reconcile.Request
	for i := range list.Items {
		set := &list.Items[i]
		for _, g := range generatorRefs(&set.Spec) {
			if match(g) {
				out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(set)})
				break
			}
		}
	}
	return out
}

// generatorRef is what the watches need to know of one terminal generator.
type generatorRef struct {
	clusters bool
	repoURL  string // of a git or gitBranches generator
}

func terminalRef(clusters *gitopsv1alpha1.ClusterGenerator, git *gitopsv1alpha1.GitGenerator, branches *gitopsv1alpha1.GitBranchesGenerator) []generatorRef {
	switch {
	case clusters != nil:
		return []generatorRef{{clusters: true}}
	case git != nil:
		return []generatorRef{{repoURL: git.RepoURL}}
	case branches != nil:
		return []generatorRef{{repoURL: branches.RepoURL}}
	}
	return nil
}

// generatorRefs walks the set's generators, matrix and merge included.
func generatorRefs(spec *gitopsv1alpha1.ApplicationSetSpec) []generatorRef {
	var out []generatorRef
	terminals := func(gs []gitopsv1alpha1.ApplicationSetTerminalGenerator) {
		for _, g := range gs {
			out = append(out, terminalRef(g.Clusters, g.Git, g.GitBranches)...)
		}
	}
	nested := func(gs []gitopsv1alpha1.ApplicationSetNestedGenerator) {
		for _, g := range gs {
			out = append(out, terminalRef(g.Clusters, g.Git, g.GitBranches)...)
			if g.Matrix != nil {
				terminals(g.Matrix.Generators)
			}
			if g.Merge != nil {
				terminals(g.Merge.Generators)
			}
		}
	}
	for _, g := range spec.Generators {
		out = append(out, terminalRef(g.Clusters, g.Git, g.GitBranches)...)
		if g.Matrix != nil {
			nested(g.Matrix.Generators)
		}
		if g.Merge != nil {
			nested(g.Merge.Generators)
		}
	}
	return out
}
