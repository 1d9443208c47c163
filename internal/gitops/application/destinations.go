package application

import (
	"context"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
	"gantry.dev/gantry/internal/gitops/cluster"
)

// A cluster Secret that appears or changes wakes the apps deploying to its
// cluster. An ApplicationSet creates a preview's app the moment its virtual
// cluster runs, while the Registrar writes that cluster's Secret: an app
// compared first finds its destination unknown, and without this it would wait
// for the next poll (a minute by default) to find it.

// isClusterSecret says whether o is a cluster Secret the Registry reads.
func (r *Reconciler) isClusterSecret(o client.Object) bool {
	return o.GetNamespace() == r.Clusters.Namespace && o.GetLabels()[cluster.SecretTypeLabel] == cluster.SecretTypeValue
}

// appsForClusterSecret returns the apps whose destination is the Secret's
// cluster, by name or by server, as Registry.Resolve matches them.
func (r *Reconciler) appsForClusterSecret(ctx context.Context, o client.Object) []reconcile.Request {
	s, ok := o.(*corev1.Secret)
	if !ok {
		return nil
	}
	name := strings.TrimSpace(string(s.Data["name"]))
	server := strings.TrimRight(strings.TrimSpace(string(s.Data["server"])), "/")
	var list gitopsv1alpha1.ApplicationList
	if err := r.Client.List(ctx, &list); err != nil {
		r.Log.Error(err, "listing applications for a changed cluster Secret", "secret", s.Namespace+"/"+s.Name)
		return nil
	}
	var out []reconcile.Request
	for i := range list.Items {
		app := &list.Items[i]
		d := app.Spec.Destination
		if name != "" && d.Name == name || server != "" && strings.TrimRight(d.Server, "/") == server {
			out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: app.Namespace, Name: app.Name}})
		}
	}
	return out
}
