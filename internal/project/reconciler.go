package project

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/podsecurity"
	"gantry.dev/gantry/internal/statuswrite"
)

// LabelProject marks a project's namespace with the project's name.
const LabelProject = "platform.gantry.dev/project"

// Namespace is the namespace of a project.
func Namespace(project string) string { return "p-" + project }

// FromNamespace returns the project whose namespace ns is, if it is one.
func FromNamespace(ns string) (string, bool) {
	p, ok := strings.CutPrefix(ns, "p-")
	return p, ok && p != ""
}

// Condition types and reasons on Project.status.conditions.
const (
	ConditionReady          = "Ready"
	ReasonNamespaceReady    = "NamespaceReady"
	ReasonNamespaceConflict = "NamespaceConflict"
	ReasonNamespaceInvalid  = "NamespaceInvalid"
	ConditionWithinQuota    = "WithinQuota"
	ReasonWithinQuota       = "WithinQuota"
	ReasonQuotaExceeded     = "QuotaExceeded"
)

// Reconciler keeps each Project's namespace and usage.
type Reconciler struct {
	Client client.Client
	// APIReader reads past the manager's cache when it has not caught up with
	// the reconciler's own status writes. Default: the manager's (SetupWithManager).
	APIReader client.Reader
	// OnChange, when set, is called after every reconcile with all projects, so
	// the authorizer's project policies follow the members.
	OnChange func(projects []platformv1alpha1.Project)

	statusOnce sync.Once
	status     *statuswrite.Writer
}

// writer returns the status writer, made on first use.
func (r *Reconciler) writer() *statuswrite.Writer {
	r.statusOnce.Do(func() { r.status = &statuswrite.Writer{Client: r.Client, Reader: r.APIReader} })
	return r.status
}

// SetupWithManager registers the reconciler; virtual clusters and applications
// coming and going update their project's usage.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	toProject := handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
		if p, ok := FromNamespace(o.GetNamespace()); ok {
			return []reconcile.Request{{NamespacedName: types.NamespacedName{Name: p}}}
		}
		return nil
	})
	return ctrl.NewControllerManagedBy(mgr).
		For(&platformv1alpha1.Project{}).
		Owns(&corev1.Namespace{}).
		// Usage counts virtual clusters (running or not) and applications:
		// only their coming and going, and a cluster's phase, change it. An
		// app's status changes many times a sync; a thousand apps syncing made
		// this reconciler a quarter of gantry's CPU.
		Watches(&platformv1alpha1.VirtualCluster{}, toProject, builder.WithPredicates(predicate.Funcs{
			UpdateFunc: func(e event.UpdateEvent) bool {
				o, ok1 := e.ObjectOld.(*platformv1alpha1.VirtualCluster)
				n, ok2 := e.ObjectNew.(*platformv1alpha1.VirtualCluster)
				return !ok1 || !ok2 || o.Status.Phase != n.Status.Phase
			}})).
		// A thousand apps created at once (kubectl apply -f) wrote the
		// project's status a thousand times, each write a request to the API
		// server the user's own apply waited behind: their count is taken
		// once the burst has paused for a second.
		Watches(&gitopsv1alpha1.Application{}, handler.Funcs{
			CreateFunc: func(_ context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
				enqueueLater(q, e.Object)
			},
			DeleteFunc: func(_ context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
				enqueueLater(q, e.Object)
			}}).
		Complete(r)
}

// appCountDelay is how long the count of a project's apps waits for more
// apps to come or go.
const appCountDelay = time.Second

func enqueueLater(q workqueue.TypedRateLimitingInterface[reconcile.Request], o client.Object) {
	if p, ok := FromNamespace(o.GetNamespace()); ok {
		q.AddAfter(reconcile.Request{NamespacedName: types.NamespacedName{Name: p}}, appCountDelay)
	}
}

// Reconcile makes the namespace, counts usage and reports quotas. Status is
// patched once, with the changes the steps made (the Argo CD integration
// writes a condition of its own to the same status).
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	p := &platformv1alpha1.Project{}
	if err := r.writer().Get(ctx, req.NamespacedName, p); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, r.notify(ctx)
		}
		return ctrl.Result{}, err
	}
	if !p.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, r.notify(ctx) // the namespace goes by garbage collection (owner reference)
	}
	before := p.DeepCopy()
	err := r.ensureNamespace(ctx, p)
	if err == nil {
		err = r.usage(ctx, p)
	}
	if err == nil {
		p.Status.ObservedGeneration = p.Generation
	}
	serr := statuswrite.Patch(ctx, r.writer(), before, p, func(server, desired *platformv1alpha1.Project) bool {
		return !equality.Semantic.DeepEqual(server.Status, desired.Status)
	})
	if serr != nil {
		serr = fmt.Errorf("writing the status of project %s: %w", p.Name, serr)
	}
	return ctrl.Result{}, errors.Join(err, serr, r.notify(ctx))
}

// ensureNamespace creates p-<name> owned by the project, or adopts one that no
// other controller owns (made before projects were objects); one owned by
// something else is a conflict, reported and left alone.
func (r *Reconciler) ensureNamespace(ctx context.Context, p *platformv1alpha1.Project) error {
	name := Namespace(p.Name)
	if msgs := validation.IsDNS1123Label(name); len(msgs) > 0 {
		r.setCondition(p, ConditionReady, false, ReasonNamespaceInvalid,
			fmt.Sprintf("project name %q cannot make namespace %s (%s): use at most 61 lower-case letters, digits and '-'", p.Name, name, msgs[0]))
		return nil
	}
	ns := &corev1.Namespace{}
	err := r.Client.Get(ctx, client.ObjectKey{Name: name}, ns)
	switch {
	case apierrors.IsNotFound(err):
		ns = &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{LabelProject: p.Name}}}
		podsecurity.SetNamespaceLabels(&ns.Labels, podsecurity.ProjectLevel(p))
		if err := controllerutil.SetControllerReference(p, ns, r.Client.Scheme()); err != nil {
			return err
		}
		if err := r.Client.Create(ctx, ns); err != nil {
			return fmt.Errorf("creating namespace %s: %w", name, err)
		}
	case err != nil:
		return err
	default:
		if owner := metav1.GetControllerOf(ns); owner != nil && owner.UID != p.UID {
			r.setCondition(p, ConditionReady, false, ReasonNamespaceConflict,
				fmt.Sprintf("namespace %s belongs to %s %s: rename the project or free the namespace", name, owner.Kind, owner.Name))
			return nil
		}
		patch := client.MergeFrom(ns.DeepCopy())
		// The project's Pod Security level holds for what its apps deploy to its
		// namespace on the host, as for its virtual clusters.
		changed := podsecurity.SetNamespaceLabels(&ns.Labels, podsecurity.ProjectLevel(p))
		if metav1.GetControllerOf(ns) == nil || ns.Labels[LabelProject] != p.Name {
			ns.Labels[LabelProject] = p.Name
			if err := controllerutil.SetControllerReference(p, ns, r.Client.Scheme()); err != nil {
				return err
			}
			changed = true
		}
		if changed {
			if err := r.Client.Patch(ctx, ns, patch); err != nil {
				return fmt.Errorf("adopting or labelling namespace %s: %w", name, err)
			}
		}
	}
	p.Status.Namespace = name
	r.setCondition(p, ConditionReady, true, ReasonNamespaceReady, "namespace "+name+" is ready")
	return nil
}

// usage counts what the project holds and compares it with its quotas.
func (r *Reconciler) usage(ctx context.Context, p *platformv1alpha1.Project) error {
	ns := Namespace(p.Name)
	// Counted, never changed: the cache's own objects, not copies.
	var vcs platformv1alpha1.VirtualClusterList
	if err := r.Client.List(ctx, &vcs, client.InNamespace(ns), client.UnsafeDisableDeepCopy); err != nil {
		return err
	}
	var apps gitopsv1alpha1.ApplicationList
	if err := r.Client.List(ctx, &apps, client.InNamespace(ns), client.UnsafeDisableDeepCopy); err != nil {
		return err
	}
	u := platformv1alpha1.ProjectUsage{VirtualClusters: int32(len(vcs.Items)), Applications: int32(len(apps.Items))}
	for _, vc := range vcs.Items {
		if vc.Status.Phase == platformv1alpha1.PhaseRunning || vc.Status.Phase == platformv1alpha1.PhaseStarting {
			u.RunningVirtualClusters++
		}
	}
	p.Status.Usage = u
	var over []string
	q := p.Spec.Quotas
	check := func(what string, used int32, limit *int32) {
		if limit != nil && used > *limit {
			over = append(over, fmt.Sprintf("%s %d of %d", what, used, *limit))
		}
	}
	check("virtual clusters", u.VirtualClusters, q.VirtualClusters)
	check("running virtual clusters", u.RunningVirtualClusters, q.RunningVirtualClusters)
	check("applications", u.Applications, q.Applications)
	if len(over) > 0 {
		r.setCondition(p, ConditionWithinQuota, false, ReasonQuotaExceeded, fmt.Sprintf("over quota: %v", over))
	} else {
		r.setCondition(p, ConditionWithinQuota, true, ReasonWithinQuota, "within quota")
	}
	return nil
}

// Exceeds says whether adding one more of kind ("virtualClusters",
// "runningVirtualClusters" or "applications") would go over the project's quota,
// and returns the message to refuse it with.
func Exceeds(p *platformv1alpha1.Project, kind string) (bool, string) {
	var used int32
	var limit *int32
	switch kind {
	case "virtualClusters":
		used, limit = p.Status.Usage.VirtualClusters, p.Spec.Quotas.VirtualClusters
	case "runningVirtualClusters":
		used, limit = p.Status.Usage.RunningVirtualClusters, p.Spec.Quotas.RunningVirtualClusters
	case "applications":
		used, limit = p.Status.Usage.Applications, p.Spec.Quotas.Applications
	}
	if limit == nil || used < *limit {
		return false, ""
	}
	return true, fmt.Sprintf("project %s is at its quota of %d %s: raise spec.quotas.%s or remove one", p.Name, *limit, kind, kind)
}

func (r *Reconciler) setCondition(p *platformv1alpha1.Project, t string, ok bool, reason, msg string) {
	s := metav1.ConditionFalse
	if ok {
		s = metav1.ConditionTrue
	}
	meta.SetStatusCondition(&p.Status.Conditions, metav1.Condition{Type: t, Status: s, Reason: reason, Message: msg, ObservedGeneration: p.Generation})
}

func (r *Reconciler) notify(ctx context.Context) error {
	if r.OnChange == nil {
		return nil
	}
	var list platformv1alpha1.ProjectList
	if err := r.Client.List(ctx, &list); err != nil {
		return err
	}
	r.OnChange(list.Items)
	return nil
}
