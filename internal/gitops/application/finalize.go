package application

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
	"gantry.dev/gantry/internal/gitops/livestate"
	"gantry.dev/gantry/internal/gitops/policy"
)

// Argo CD's cascade finalizers; the plain one deletes in the foreground.
var cascadeFinalizers = map[string]metav1.DeletionPropagation{
	gitopsv1alpha1.ApplicationFinalizer:                 metav1.DeletePropagationForeground,
	gitopsv1alpha1.ApplicationFinalizer + "/foreground": metav1.DeletePropagationForeground,
	gitopsv1alpha1.ApplicationBackgroundFinalizer:       metav1.DeletePropagationBackground,
}

// finalize deletes the app's resources when it carries a cascade finalizer and
// lets the app go once they are gone. Without one, Kubernetes deletes the app at
// once and its resources stay (orphaned), as in Argo CD.
func (r *Reconciler) finalize(ctx context.Context, app *gitopsv1alpha1.Application) (reconcile.Result, error) {
	var fin string
	var propagation metav1.DeletionPropagation
	for f, p := range cascadeFinalizers {
		if controllerutil.ContainsFinalizer(app, f) {
			fin, propagation = f, p
		}
	}
	if fin == "" {
		return reconcile.Result{}, nil
	}
	conds := newConditions(app)
	defer conds.apply(app)
	// fail keeps the app, saying why its resources are not deleted yet.
	fail := func(err error, wait time.Duration) (reconcile.Result, error) {
		return conds.fail(gitopsv1alpha1.ConditionDeletionError, err, reconcile.Result{RequeueAfter: wait}), nil
	}
	// Deleting is writing: the app's project decides what it may delete.
	sc, cl, err := r.clusterOf(ctx, app)
	if err != nil {
		return fail(fmt.Errorf("cannot delete the app's resources: %w; fix the destination, or remove the finalizer %s to leave them", err, fin), 10*time.Second)
	}
	var gvks []schema.GroupVersionKind
	for _, rs := range app.Status.Resources {
		gvk := schema.GroupVersionKind{Group: rs.Group, Version: rs.Version, Kind: rs.Kind}
		if gvk.Group == appGroup {
			continue // children, on the host
		}
		if _, err := cl.Mapping(gvk); err == nil {
			gvks = append(gvks, gvk)
		}
	}
	if err := cl.Watch(ctx, gvks); err != nil {
		return fail(err, 10*time.Second)
	}
	// The same safety as prune: only what carries this app's tracking id, and
	// only where its project may write; the rest is left where it is.
	var remaining []*unstructured.Unstructured
	for _, o := range cl.Managed(app.Namespace + "/" + app.Name) {
		if !isChild(o) && o.GetAnnotations()[TrackingAnnotation] == trackingID(app.Namespace, app.Name, o) && sc.policy.Reaches(sc.target, o) == nil {
			remaining = append(remaining, o)
		}
	}
	// Its children go the same way (their own finalizers then delete theirs);
	// the ownerReference would delete them too, in the background.
	var apps *livestate.Cluster
	if hasChildren(app) {
		var host policy.Target
		if apps, host, err = r.appsCluster(ctx, true); err != nil {
			return fail(err, 10*time.Second)
		}
		for _, o := range liveChildren(app, sc, apps, host) {
			if o.GetAnnotations()[TrackingAnnotation] == trackingID(app.Namespace, app.Name, o) {
				remaining = append(remaining, o)
			}
		}
	}
	dyn, mapper := routed(cl, apps)
	for _, o := range remaining {
		if o.GetDeletionTimestamp() != nil {
			continue
		}
		m, err := mapper.RESTMapping(o.GroupVersionKind().GroupKind(), o.GroupVersionKind().Version)
		if err != nil {
			continue
		}
		err = dyn.Resource(m.Resource).Namespace(o.GetNamespace()).Delete(ctx, o.GetName(),
			metav1.DeleteOptions{PropagationPolicy: &propagation})
		if client.IgnoreNotFound(err) != nil {
			return fail(fmt.Errorf("deleting %s: %w", keyOf(o), err), 5*time.Second)
		}
	}
	if len(remaining) > 0 {
		// Their deletion events bring us back; this is a safety net.
		return reconcile.Result{RequeueAfter: 2 * time.Second}, nil
	}
	patch := client.MergeFrom(app.DeepCopy())
	controllerutil.RemoveFinalizer(app, fin)
	return reconcile.Result{}, client.IgnoreNotFound(r.Client.Patch(ctx, app, patch))
}
