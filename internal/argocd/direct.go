package argocd

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
)

// Inside a virtual cluster reached directly, Argo CD authenticates as
// ServiceAccount kube-system/argocd-manager bound to cluster-admin, with the
// token of a service-account-token Secret: what `argocd cluster add` makes,
// and a credential the virtual kube-apiserver accepts itself.
const (
	managerNamespace = "kube-system"
	managerName      = "argocd-manager"
	managerToken     = "argocd-manager-token"
	managerBinding   = "argocd-manager-role-binding"
)

// errTokenPending: the token controller has not filled the token Secret yet.
var errTokenPending = errors.New("the argocd-manager token is not issued yet")

// kubeconfigSecret is the Secret holding vc's admin kubeconfig.
func kubeconfigSecret(vc *platformv1alpha1.VirtualCluster) string {
	if vc.Status.KubeconfigSecret != "" {
		return vc.Status.KubeconfigSecret
	}
	return "vc-" + vc.Name
}

// virtualClusterCA is the CA of vc's own API server, from its kubeconfig Secret.
func (r *Reconciler) virtualClusterCA(ctx context.Context, vc *platformv1alpha1.VirtualCluster) ([]byte, error) {
	sec := &corev1.Secret{}
	key := client.ObjectKey{Namespace: vc.Namespace, Name: kubeconfigSecret(vc)}
	if err := r.Client.Get(ctx, key, sec); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, problemf(ReasonClusterUnreachable, "virtual cluster %s has no kubeconfig Secret %s yet: wait until it runs, or turn spec.argoCD.direct off", vc.Name, key.Name)
		}
		return nil, err
	}
	if ca := sec.Data["certificate-authority"]; len(ca) > 0 {
		return ca, nil
	}
	cfg, err := clientcmd.RESTConfigFromKubeConfig(sec.Data["config"])
	if err != nil {
		return nil, problemf(ReasonClusterUnreachable, "the kubeconfig in Secret %s/%s does not parse (%v): delete the Secret so gantry writes it again", vc.Namespace, key.Name, err)
	}
	return cfg.CAData, nil
}

// virtualClient is an admin client of vc's own API server.
func (r *Reconciler) virtualClient(ctx context.Context, vc *platformv1alpha1.VirtualCluster) (client.Client, error) {
	sec := &corev1.Secret{}
	key := client.ObjectKey{Namespace: vc.Namespace, Name: kubeconfigSecret(vc)}
	if err := r.Client.Get(ctx, key, sec); err != nil {
		return nil, fmt.Errorf("reading the kubeconfig of virtual cluster %s: %w", vc.Name, err)
	}
	cfg, err := clientcmd.RESTConfigFromKubeConfig(sec.Data["config"])
	if err != nil {
		return nil, fmt.Errorf("the kubeconfig in Secret %s/%s does not parse: %w", vc.Namespace, key.Name, err)
	}
	cfg.Timeout = 15 * time.Second
	return client.New(cfg, client.Options{})
}

// serviceAccountToken makes sure argocd-manager exists in vc with
// cluster-admin and returns its token, or errTokenPending.
func (r *Reconciler) serviceAccountToken(ctx context.Context, vc *platformv1alpha1.VirtualCluster) (string, error) {
	c, err := r.virtualClient(ctx, vc)
	if err != nil {
		return "", err
	}
	unreachable := func(err error) error {
		return problemf(ReasonClusterUnreachable, "virtual cluster %s does not answer (%v): wait until it runs, or turn spec.argoCD.direct off", vc.Name, err)
	}
	labels := map[string]string{LabelManagedBy: ManagedBy}
	objs := []client.Object{
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: managerName, Namespace: managerNamespace, Labels: labels}},
		&rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: managerBinding, Labels: labels},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: managerName, Namespace: managerNamespace}},
		},
		&corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: managerToken, Namespace: managerNamespace, Labels: labels,
				Annotations: map[string]string{corev1.ServiceAccountNameKey: managerName}},
			Type: corev1.SecretTypeServiceAccountToken,
		},
	}
	for _, o := range objs {
		if err := c.Create(ctx, o); err != nil && !apierrors.IsAlreadyExists(err) {
			return "", unreachable(err)
		}
	}
	// The token controller fills the Secret within a moment of its creation.
	tok := &corev1.Secret{}
	for range 20 {
		if err := c.Get(ctx, client.ObjectKey{Namespace: managerNamespace, Name: managerToken}, tok); err != nil {
			return "", unreachable(err)
		}
		if t := tok.Data[corev1.ServiceAccountTokenKey]; len(t) > 0 {
			return string(t), nil
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	return "", errTokenPending
}

// removeServiceAccount deletes what serviceAccountToken made, as far as vc
// answers: a sleeping or gone virtual cluster keeps (or lost) them anyway.
func (r *Reconciler) removeServiceAccount(ctx context.Context, vc *platformv1alpha1.VirtualCluster) {
	c, err := r.virtualClient(ctx, vc)
	if err != nil {
		return
	}
	for _, o := range []client.Object{
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: managerToken, Namespace: managerNamespace}},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: managerBinding}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: managerName, Namespace: managerNamespace}},
	} {
		if err := c.Get(ctx, client.ObjectKeyFromObject(o), o); err != nil || o.GetLabels()[LabelManagedBy] != ManagedBy {
			continue // gone, or someone else's (e.g. made by `argocd cluster add`)
		}
		if err := c.Delete(ctx, o); err != nil && !apierrors.IsNotFound(err) {
			r.log().Info("could not remove Argo CD's ServiceAccount from a virtual cluster", "vcluster", vc.Name, "error", err.Error())
		}
	}
}
