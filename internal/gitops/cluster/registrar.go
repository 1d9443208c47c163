package cluster

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/project"
)

// Labels on the cluster Secrets the Registrar writes, so it recognises its own and
// a user can find a virtual cluster's.
const (
	LabelVCluster          = "platform.gantry.dev/vcluster"
	LabelVClusterNamespace = "platform.gantry.dev/vcluster-namespace"
)

// Registrar keeps one cluster Secret per running virtual cluster, named after it,
// with the virtual API server's URL and the admin client certificate from its
// kubeconfig Secret. It is level-based: it derives the Secret from the
// VirtualCluster's status each time and deletes it once the VirtualCluster is gone.
type Registrar struct {
	Client    client.Client
	Namespace string
}

// SecretName is the cluster Secret of a virtual cluster; deterministic so that a
// deleted VirtualCluster's Secret is found without a lookup.
func SecretName(vcNamespace, vcName string) string {
	return "vcluster-" + vcNamespace + "-" + vcName
}

// ClusterName is the name apps use as destination.name: <project namespace>/<vcluster>.
func ClusterName(vcNamespace, vcName string) string { return vcNamespace + "/" + vcName }

// SetupWithManager registers the Registrar, watching VirtualClusters and the
// kubeconfig Secrets they own.
func (r *Registrar) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("cluster-registrar").
		For(&platformv1alpha1.VirtualCluster{}).
		Watches(&corev1.Secret{}, handler.EnqueueRequestForOwner(mgr.GetScheme(), mgr.GetRESTMapper(),
			&platformv1alpha1.VirtualCluster{})).
		Complete(r)
}

// Reconcile writes or deletes the cluster Secret of one virtual cluster.
func (r *Registrar) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	secretKey := types.NamespacedName{Namespace: r.Namespace, Name: SecretName(req.Namespace, req.Name)}
	vc := &platformv1alpha1.VirtualCluster{}
	err := r.Client.Get(ctx, req.NamespacedName, vc)
	if apierrors.IsNotFound(err) || err == nil && !vc.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, r.deleteSecret(ctx, secretKey, req.NamespacedName)
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	if vc.Status.Endpoint == "" || vc.Status.KubeconfigSecret == "" {
		return ctrl.Result{}, nil // not deployed yet; its status update brings us back
	}
	kc := &corev1.Secret{}
	if err := r.Client.Get(ctx, types.NamespacedName{Namespace: vc.Namespace, Name: vc.Status.KubeconfigSecret}, kc); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	want, err := Secret(r.Namespace, secretKey.Name,
		// The cluster belongs to the virtual cluster's project: only that
		// project's apps deploy to it (gitops/policy).
		Cluster{Name: ClusterName(vc.Namespace, vc.Name), Server: vc.Status.Endpoint, Project: projectOf(vc.Namespace)},
		Config{TLSClientConfig: TLSClientConfig{
			CAData:   kc.Data["certificate-authority"],
			CertData: kc.Data["client-certificate"],
			KeyData:  kc.Data["client-key"],
		}},
		map[string]string{LabelVCluster: vc.Name, LabelVClusterNamespace: vc.Namespace})
	if err != nil {
		return ctrl.Result{}, err
	}
	got := &corev1.Secret{}
	err = r.Client.Get(ctx, secretKey, got)
	switch {
	case apierrors.IsNotFound(err):
		return ctrl.Result{}, r.Client.Create(ctx, want)
	case err != nil:
		return ctrl.Result{}, err
	case !ours(got, req.NamespacedName):
		return ctrl.Result{}, fmt.Errorf("secret %s exists and was not made for virtual cluster %s: gantry leaves it alone; delete or rename it", secretKey, req.NamespacedName)
	}
	if equality.Semantic.DeepEqual(got.Data, want.Data) && equality.Semantic.DeepEqual(got.Labels, want.Labels) {
		return ctrl.Result{}, nil
	}
	got.Labels, got.Data = want.Labels, want.Data
	return ctrl.Result{}, r.Client.Update(ctx, got)
}

func (r *Registrar) deleteSecret(ctx context.Context, key, vc types.NamespacedName) error {
	got := &corev1.Secret{}
	if err := r.Client.Get(ctx, key, got); err != nil {
		return client.IgnoreNotFound(err)
	}
	if !ours(got, vc) {
		return nil
	}
	return client.IgnoreNotFound(r.Client.Delete(ctx, got))
}

func ours(s *corev1.Secret, vc types.NamespacedName) bool {
	return s.Labels[LabelVCluster] == vc.Name && s.Labels[LabelVClusterNamespace] == vc.Namespace
}

// projectOf is the project whose namespace holds a virtual cluster ("" outside
// project namespaces, which no project's apps may then claim).
func projectOf(namespace string) string {
	p, _ := project.FromNamespace(namespace)
	return p
}
