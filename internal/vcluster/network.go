package vcluster

import (
	"context"
	"fmt"

	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
)

// NetworkPolicyName names the NetworkPolicy gantry keeps in each virtual
// cluster's host namespace.
const NetworkPolicyName = "gantry-isolation"

// defaultSystemNamespace is gantry's namespace on the host (platform.SystemNamespace).
const defaultSystemNamespace = "gantry-system"

// isolationPolicy admits ingress to every pod of a host namespace only from
// pods of that namespace (the same virtual cluster) and from gantry's
// namespace. Egress is left alone: DNS and the world stay reachable.
func isolationPolicy(systemNamespace string) networkingv1.NetworkPolicySpec {
	return networkingv1.NetworkPolicySpec{
		PodSelector: metav1.LabelSelector{},
		PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
		Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{
			{PodSelector: &metav1.LabelSelector{}},
			{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": systemNamespace}}},
		}}},
	}
}

// ensureNetworkPolicy keeps the isolation policy in vc's host namespace, or
// removes it (only gantry's own) when the project opens ingress. A policy of
// that name that gantry did not make is reported and left alone.
func (r *Reconciler) ensureNetworkPolicy(ctx context.Context, vc *platformv1alpha1.VirtualCluster, open bool) error {
	ns := vc.Status.HostNamespace
	np := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: NetworkPolicyName, Namespace: ns}}
	ours := func() bool { return np.Labels[LabelManagedBy] == managedBy && np.Labels[LabelVCluster] == vc.Name }
	if open {
		err := r.Client.Get(ctx, client.ObjectKeyFromObject(np), np)
		if apierrors.IsNotFound(err) || err == nil && !ours() {
			return nil
		}
		if err != nil {
			return err
		}
		if err := r.Client.Delete(ctx, np, client.Preconditions{UID: &np.UID}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("removing NetworkPolicy %s/%s (project opens ingress): %w", ns, NetworkPolicyName, err)
		}
		return nil
	}
	system := r.SystemNamespace
	if system == "" {
		system = defaultSystemNamespace
	}
	_, err := controllerutil.CreateOrUpdate(ctx, r.Client, np, func() error {
		if np.ResourceVersion != "" && !ours() {
			return fmt.Errorf("NetworkPolicy %s/%s exists and was not made by gantry (it lacks the labels %s=%s, %s=%s); gantry leaves it alone: delete or rename it",
				ns, NetworkPolicyName, LabelManagedBy, managedBy, LabelVCluster, vc.Name)
		}
		if np.Labels == nil {
			np.Labels = map[string]string{}
		}
		np.Labels[LabelManagedBy], np.Labels[LabelVCluster] = managedBy, vc.Name
		np.Spec = isolationPolicy(system)
		return nil
	})
	if err != nil {
		return fmt.Errorf("isolating host namespace %s: %w", ns, err)
	}
	return nil
}
