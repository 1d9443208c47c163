package argocd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/gitops/cluster"
	"gantry.dev/gantry/internal/identity/accesskeys"
	"gantry.dev/gantry/internal/identity/oidcprovider"
	"gantry.dev/gantry/internal/project"
	"gantry.dev/gantry/internal/statuswrite"
)

// Options are what the integration needs from the platform.
type Options struct {
	// Client is gantry's client on the host (Projects, VirtualClusters and
	// their kubeconfig Secrets).
	Client client.Client
	// Namespace is gantry's own namespace (gantry-system).
	Namespace string
	// ArgoCDCluster returns how to reach the cluster Argo CD runs in, by the
	// name in spec.argoCD.cluster; "in-cluster" is the host. Nil:
	// SetupWithManager resolves names through gantry's cluster Secrets in
	// Namespace.
	ArgoCDCluster func(ctx context.Context, name string) (*rest.Config, error)
	// ProxyURL is gantry's proxy URL of a virtual cluster.
	ProxyURL func(project, name string) string
	// ProxyCA is the CA of gantry's serving certificate; nil: system roots.
	ProxyCA []byte
	// Keys issue the system access keys Argo CD reaches virtual clusters with.
	Keys accesskeys.Store
	// OIDCClients registers Argo CD with gantry's OIDC provider.
	OIDCClients oidcprovider.ClientStore
	// Issuer is gantry's OIDC issuer, e.g. https://gantry.example.com/oidc.
	Issuer string
	// IssuerCA is the PEM Argo CD needs to trust the issuer (oidc.config
	// rootCA) when gantry's certificate is from its own CA; nil otherwise.
	IssuerCA []byte
	// Resync is how often every project is reconciled again, to repair what
	// the watches of Argo CD's cluster could not tell (they were down, or
	// gantry may not watch there). Default 5m.
	Resync time.Duration
	Logger logr.Logger
	// APIReader reads Projects past the manager's cache when it has not caught
	// up with the integration's own writes. Default: the manager's
	// (SetupWithManager), else Client.
	APIReader client.Reader
}

// Reconciler keeps each Project's Argo CD integration.
type Reconciler struct {
	Options

	statusOnce sync.Once
	status     *statuswrite.Writer

	// clients to Argo CD's clusters, by name, kept while their configuration
	// stays the same (so discovery is not redone every reconcile).
	clientsMu sync.Mutex
	clients   map[string]cachedClient
	// watches is nil outside a manager (tests that call Reconcile).
	watches *watcher
}

type cachedClient struct {
	cfg *rest.Config
	c   client.Client
}

// writer returns the status writer of the Projects' Synced condition, made
// on first use.
func (r *Reconciler) writer() *statuswrite.Writer {
	r.statusOnce.Do(func() { r.status = &statuswrite.Writer{Client: r.Client, Reader: r.APIReader} })
	return r.status
}

const (
	defaultResync = 5 * time.Minute
	// problemRetry is how soon a project whose condition names a problem is
	// looked at again: the fix is often outside gantry (installing Argo CD).
	problemRetry = time.Minute
	// pendingRetry: a virtual cluster reached directly is not deployed yet,
	// or its token is being issued.
	pendingRetry = 30 * time.Second
)

// SetupWithManager registers the reconciler: Projects, their virtual
// clusters, the credentials of Argo CD's clusters, what the integration wrote
// there (watcher), and a periodic resync.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	if r.ArgoCDCluster == nil {
		r.ArgoCDCluster = r.registryClusters(mgr)
	}
	r.watches = &watcher{log: r.Logger, targets: map[target]*targetWatch{}, users: map[string]target{}}
	toProject := handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
		if p, ok := project.FromNamespace(o.GetNamespace()); ok {
			return []reconcile.Request{{NamespacedName: types.NamespacedName{Name: p}}}
		}
		return nil
	})
	return ctrl.NewControllerManagedBy(mgr).
		Named("argocd-integration").
		For(&platformv1alpha1.Project{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}, deletingPredicate()))).
		Watches(&platformv1alpha1.VirtualCluster{}, toProject, builder.WithPredicates(vclusterChanged())).
		// A revoked or deleted key of the integration's is replaced at once, not
		// at the next resync: Argo CD would lose the cluster until then; new
		// credentials of Argo CD's cluster are used at once too.
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			return append(r.keyProject(ctx, o), r.clusterProjects(ctx, o)...)
		})).
		WatchesRawSource(r.watches.source()).
		Complete(r)
}

// clusterProjects maps a cluster Secret in gantry's namespace (how gantry
// reaches a cluster, by the name in its data) to the projects whose Argo CD
// runs in that cluster, or ran there and still has the integration's writes.
func (r *Reconciler) clusterProjects(ctx context.Context, o client.Object) []reconcile.Request {
	s, ok := o.(*corev1.Secret)
	if !ok || s.Namespace != r.Namespace || s.Labels[cluster.SecretTypeLabel] != cluster.SecretTypeValue {
		return nil
	}
	name := strings.TrimSpace(string(s.Data["name"]))
	if name == "" {
		return nil
	}
	var list platformv1alpha1.ProjectList
	if err := r.Client.List(ctx, &list); err != nil {
		r.log().Error(err, "listing projects for a changed cluster Secret", "secret", s.Name)
		return nil
	}
	var out []reconcile.Request
	for _, p := range list.Items {
		written, _ := parseTarget(p.Annotations[AnnotationTarget])
		if a := p.Spec.ArgoCD; (a != nil && a.Enabled && targetOf(a).Cluster == name) || written.Cluster == name {
			out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Name: p.Name}})
		}
	}
	return out
}

// keyProject maps an access key record of the integration's (owner
// argocd_<project>) to its project.
func (r *Reconciler) keyProject(_ context.Context, o client.Object) []reconcile.Request {
	if o.GetNamespace() != r.Namespace || o.GetLabels()[accesskeys.LabelAccessKey] != "true" {
		return nil
	}
	if p, ok := strings.CutPrefix(o.GetLabels()[accesskeys.LabelOwner], KeyOwner("")); ok && p != "" {
		return []reconcile.Request{{NamespacedName: types.NamespacedName{Name: p}}}
	}
	return nil
}

// registryClusters resolves Argo CD's cluster through gantry's registry: the
// host, or a cluster Secret in gantry's namespace (read uncached, so new
// credentials are used as soon as they are written).
func (r *Reconciler) registryClusters(mgr ctrl.Manager) func(context.Context, string) (*rest.Config, error) {
	reg := &cluster.Registry{Reader: mgr.GetAPIReader(), Namespace: r.Namespace, Host: mgr.GetConfig()}
	return func(ctx context.Context, name string) (*rest.Config, error) {
		c, err := reg.Resolve(ctx, cluster.Destination{Name: normalCluster(name)})
		if err != nil {
			return nil, err
		}
		return c.REST, nil
	}
}

// clientFor returns an uncached client (only a few objects of one namespace
// are read) for cluster name at cfg, the same one while cfg stays the same.
func (r *Reconciler) clientFor(name string, cfg *rest.Config) (client.Client, error) {
	r.clientsMu.Lock()
	defer r.clientsMu.Unlock()
	if got, ok := r.clients[name]; ok && sameREST(got.cfg, cfg) {
		return got.c, nil
	}
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, err
	}
	if r.clients == nil {
		r.clients = map[string]cachedClient{}
	}
	r.clients[name] = cachedClient{cfg: cfg, c: c}
	return c, nil
}

func sameREST(a, b *rest.Config) bool {
	return a.Host == b.Host && a.BearerToken == b.BearerToken && a.Username == b.Username && a.Password == b.Password &&
		a.Insecure == b.Insecure && a.ServerName == b.ServerName && bytes.Equal(a.CAData, b.CAData) &&
		bytes.Equal(a.CertData, b.CertData) && bytes.Equal(a.KeyData, b.KeyData) &&
		a.CertFile == b.CertFile && a.KeyFile == b.KeyFile && a.CAFile == b.CAFile
}

func deletingPredicate() predicate.Funcs {
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		return !e.ObjectNew.GetDeletionTimestamp().Equal(e.ObjectOld.GetDeletionTimestamp()) ||
			!slices.Equal(e.ObjectNew.GetFinalizers(), e.ObjectOld.GetFinalizers())
	}}
}

// vclusterChanged passes what a cluster Secret depends on, not the frequent
// status updates (activity) that change nothing for Argo CD.
func vclusterChanged() predicate.Funcs {
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		o, ok1 := e.ObjectOld.(*platformv1alpha1.VirtualCluster)
		n, ok2 := e.ObjectNew.(*platformv1alpha1.VirtualCluster)
		if !ok1 || !ok2 {
			return true
		}
		return !equality.Semantic.DeepEqual(o.Spec.ArgoCD, n.Spec.ArgoCD) ||
			!maps.Equal(UserLabels(o), UserLabels(n)) ||
			o.Labels[LabelImport] != n.Labels[LabelImport] ||
			o.Status.Endpoint != n.Status.Endpoint || o.Status.KubeconfigSecret != n.Status.KubeconfigSecret ||
			!o.DeletionTimestamp.Equal(n.DeletionTimestamp)
	}}
}

// Reconcile brings one project's integration to what its spec says, and
// records the outcome in its condition (one status patch, which keeps the
// Project reconciler's conditions).
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	p := &platformv1alpha1.Project{}
	if err := r.writer().Get(ctx, req.NamespacedName, p); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	before := p.DeepCopy()
	res, err := r.reconcile(ctx, p)
	serr := statuswrite.Patch(ctx, r.writer(), before, p, func(server, desired *platformv1alpha1.Project) bool {
		return !equality.Semantic.DeepEqual(server.Status.Conditions, desired.Status.Conditions)
	})
	if serr != nil {
		serr = fmt.Errorf("writing condition %s of project %s: %w", ConditionSynced, p.Name, serr)
	}
	return res, errors.Join(err, serr)
}

func (r *Reconciler) reconcile(ctx context.Context, p *platformv1alpha1.Project) (ctrl.Result, error) {
	written, hasWritten := parseTarget(p.Annotations[AnnotationTarget])
	a := p.Spec.ArgoCD
	if a == nil || !a.Enabled || !p.DeletionTimestamp.IsZero() {
		if hasWritten {
			if err := r.removeAll(ctx, p.Name, written); err != nil {
				return r.report(p, "", fmt.Errorf("removing what the integration wrote into %s: %w", written, err))
			}
		}
		if err := r.forget(ctx, p); err != nil {
			return ctrl.Result{}, err
		}
		r.unwatch(p.Name)
		if p.DeletionTimestamp.IsZero() {
			meta.RemoveStatusCondition(&p.Status.Conditions, ConditionSynced)
			meta.RemoveStatusCondition(&p.Status.Conditions, ConditionServerUpToDate)
		}
		return ctrl.Result{}, nil
	}
	want := targetOf(a)
	if hasWritten && written != want {
		// Moved to another Argo CD: leave nothing behind in the old one.
		if err := r.removeAll(ctx, p.Name, written); err != nil {
			return r.report(p, "", fmt.Errorf("removing what the integration wrote into %s: %w", written, err))
		}
		if err := r.forget(ctx, p); err != nil {
			return ctrl.Result{}, err
		}
	}
	in, err := r.connect(ctx, want)
	if err != nil {
		r.unwatch(p.Name)
		return r.report(p, "", err)
	}
	res, err := r.sync(ctx, p, in, want)
	r.follow(p, want, in)
	return res, err
}

// sync plans and writes project p's integration in Argo CD instance in.
func (r *Reconciler) sync(ctx context.Context, p *platformv1alpha1.Project, in *instance, want target) (ctrl.Result, error) {
	plan, err := r.plan(ctx, p, in)
	if err != nil {
		return r.report(p, "", err)
	}
	if err := r.remember(ctx, p, want); err != nil {
		return ctrl.Result{}, err
	}
	summary, err := plan.apply(ctx, r)
	res, err := r.report(p, summary, err)
	if err == nil && plan.clusters.pending > 0 {
		res.RequeueAfter = pendingRetry
	}
	return res, err
}

// plan is everything one reconcile writes, checked before any of it is.
type plan struct {
	p          *platformv1alpha1.Project
	in         *instance
	clusters   *clusterPlan
	sso        *ssoPlan // nil: SSO off
	appProject bool
}

func (r *Reconciler) plan(ctx context.Context, p *platformv1alpha1.Project, in *instance) (*plan, error) {
	if err := in.checkNamespace(ctx); err != nil {
		return nil, err
	}
	a := p.Spec.ArgoCD
	pl := &plan{p: p, in: in, appProject: a.Project != nil && a.Project.Enabled}
	appProjectName := ""
	if pl.appProject {
		appProjectName = AppProjectName(p.Name)
		if err := checkAppProject(ctx, in, p.Name); err != nil {
			return nil, err
		}
	}
	var err error
	if pl.clusters, err = r.planClusters(ctx, p, in, appProjectName); err != nil {
		return nil, err
	}
	if a.SSO != nil && a.SSO.Enabled {
		if pl.sso, err = r.planSSO(ctx, p, in); err != nil {
			return nil, err
		}
	}
	if pl.appProject {
		var servers []string
		for _, w := range pl.clusters.want {
			servers = append(servers, string(w.secret.Data["server"]))
		}
		if err := applyAppProject(ctx, in, appProject(p, in.Namespace, servers), p.Name, true); err != nil {
			return nil, err
		}
	}
	return pl, nil
}

// apply writes the plan: clusters, then SSO, then the AppProject (whose
// destinations are the clusters written); parts turned off are removed.
func (pl *plan) apply(ctx context.Context, r *Reconciler) (string, error) {
	servers, err := pl.clusters.apply(ctx, r)
	if err != nil {
		return "", err
	}
	parts := []string{pl.clusters.summary(len(servers))}
	if pl.sso != nil {
		if err := pl.sso.apply(ctx, r, pl.p); err != nil {
			return "", err
		}
		parts = append(parts, "SSO on ("+pl.sso.clientID+")")
		if c := pl.sso.server; c != nil {
			setServerCondition(pl.p, *c)
		} else {
			meta.RemoveStatusCondition(&pl.p.Status.Conditions, ConditionServerUpToDate)
		}
	} else {
		meta.RemoveStatusCondition(&pl.p.Status.Conditions, ConditionServerUpToDate)
		if err := r.releaseSSO(ctx, pl.in, pl.p.Name); err != nil {
			return "", err
		}
		parts = append(parts, "SSO off")
	}
	if pl.appProject {
		if err := applyAppProject(ctx, pl.in, appProject(pl.p, pl.in.Namespace, servers), pl.p.Name, false); err != nil {
			return "", err
		}
		parts = append(parts, "AppProject "+AppProjectName(pl.p.Name))
	} else {
		if err := removeAppProject(ctx, pl.in, pl.p.Name); err != nil {
			return "", err
		}
		parts = append(parts, "no AppProject")
	}
	return fmt.Sprintf("Argo CD in namespace %s of %s: %s", pl.in.Namespace, pl.in.Cluster, strings.Join(parts, ", ")), nil
}

// removeAll removes everything the integration wrote for project into t.
func (r *Reconciler) removeAll(ctx context.Context, proj string, t target) error {
	in, err := r.connect(ctx, t)
	if err != nil {
		var pr *problem
		if errors.As(err, &pr) {
			return problemf(pr.Reason, "%s (what the integration wrote there cannot be removed; to give up on it, remove the Project's finalizer %s and annotation %s)",
				pr.Message, Finalizer, AnnotationTarget)
		}
		return err
	}
	if err := r.removeClusters(ctx, in, proj); err != nil {
		return err
	}
	if err := r.releaseSSO(ctx, in, proj); err != nil {
		return err
	}
	if err := removeAppProject(ctx, in, proj); err != nil {
		return err
	}
	return r.deleteKeys(ctx, proj, nil)
}

// remember records, before anything is written, where the integration writes,
// and holds the Project with the finalizer until that is removed again.
func (r *Reconciler) remember(ctx context.Context, p *platformv1alpha1.Project, t target) error {
	return r.patchMeta(ctx, p, func(p *platformv1alpha1.Project) {
		if p.Annotations == nil {
			p.Annotations = map[string]string{}
		}
		p.Annotations[AnnotationTarget] = t.String()
		controllerutil.AddFinalizer(p, Finalizer)
	})
}

// forget drops the record and the finalizer once nothing is written.
func (r *Reconciler) forget(ctx context.Context, p *platformv1alpha1.Project) error {
	return r.patchMeta(ctx, p, func(p *platformv1alpha1.Project) {
		delete(p.Annotations, AnnotationTarget)
		controllerutil.RemoveFinalizer(p, Finalizer)
	})
}

func (r *Reconciler) patchMeta(ctx context.Context, p *platformv1alpha1.Project, change func(*platformv1alpha1.Project)) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		fresh := &platformv1alpha1.Project{}
		if err := r.Client.Get(ctx, client.ObjectKeyFromObject(p), fresh); err != nil {
			return client.IgnoreNotFound(err)
		}
		before := fresh.DeepCopy()
		change(fresh)
		if equality.Semantic.DeepEqual(before.ObjectMeta, fresh.ObjectMeta) {
			p.ObjectMeta = *fresh.ObjectMeta.DeepCopy()
			return nil
		}
		if err := r.Client.Patch(ctx, fresh, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
			return client.IgnoreNotFound(err)
		}
		r.writer().Wrote(fresh)
		p.ObjectMeta = *fresh.ObjectMeta.DeepCopy()
		return nil
	})
}

// report sets ConditionSynced on p from the outcome: a problem is the user's
// to fix (retried after a while), another error is retried with backoff.
// Reconcile writes it.
func (r *Reconciler) report(p *platformv1alpha1.Project, summary string, err error) (ctrl.Result, error) {
	cond := metav1.Condition{Type: ConditionSynced, Status: metav1.ConditionTrue, Reason: ReasonSynced, Message: summary,
		ObservedGeneration: p.Generation}
	res := ctrl.Result{RequeueAfter: r.resync()}
	var pr *problem
	switch {
	case errors.As(err, &pr):
		cond.Status, cond.Reason, cond.Message = metav1.ConditionFalse, pr.Reason, pr.Message
		res = ctrl.Result{RequeueAfter: problemRetry}
		err = nil
	case err != nil:
		cond.Status, cond.Reason, cond.Message = metav1.ConditionFalse, ReasonError, err.Error()
		res = ctrl.Result{}
	}
	if cond.Status == metav1.ConditionFalse {
		r.log().Info("Argo CD integration not synced", "project", p.Name, "reason", cond.Reason, "message", cond.Message)
	}
	meta.SetStatusCondition(&p.Status.Conditions, cond)
	return res, err
}

// follow watches what p wrote in Argo CD's cluster, to repair it the moment it
// changes; not while gantry cannot reach or read there (ClusterUnreachable,
// Forbidden): the watch would only fail, and the fix (new credentials, more
// rights) brings a reconcile of its own or the problem's retry.
func (r *Reconciler) follow(p *platformv1alpha1.Project, t target, in *instance) {
	if r.watches == nil {
		return
	}
	if c := meta.FindStatusCondition(p.Status.Conditions, ConditionSynced); c != nil &&
		(c.Reason == ReasonClusterUnreachable || c.Reason == ReasonForbidden) {
		r.watches.unwatch(p.Name)
		return
	}
	r.watches.watch(p.Name, t, in.cfg)
}

func (r *Reconciler) unwatch(proj string) {
	if r.watches != nil {
		r.watches.unwatch(proj)
	}
}

func (r *Reconciler) resync() time.Duration {
	if r.Resync > 0 {
		return r.Resync
	}
	return defaultResync
}

func (r *Reconciler) log() logr.Logger { return r.Logger }
