package platform

import (
	"context"
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
)

// ensureHostService makes (or updates) the Service name of gantry's namespace
// without a selector, and its EndpointSlice pointing at ip on each port's
// TargetPort: the way pods reach a server in gantry's process (cluster DNS,
// the in-cluster API relay) through kube-proxy on the node, as kube-dns's
// Service does for CoreDNS. It returns the Service's ClusterIP: serviceIP
// when that is set (an address named before the Service exists).
func ensureHostService(ctx context.Context, c client.Client, name string, ip, serviceIP netip.Addr, ports []corev1.ServicePort) (netip.Addr, error) {
	labels := map[string]string{"app.kubernetes.io/managed-by": "gantry", "app.kubernetes.io/name": name}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: SystemNamespace, Labels: labels}}
	err := c.Get(ctx, client.ObjectKeyFromObject(svc), svc)
	if err == nil && serviceIP.IsValid() && svc.Spec.ClusterIP != serviceIP.String() {
		// Made by a gantry before the address was reserved: a ClusterIP is
		// immutable, so the Service is made again. Pods created with the old
		// address reach it again once they are recreated.
		if err := c.Delete(ctx, svc); err != nil && !apierrors.IsNotFound(err) {
			return netip.Addr{}, fmt.Errorf("replacing Service %s/%s (ClusterIP %s, want %s): %w", SystemNamespace, name, svc.Spec.ClusterIP, serviceIP, err)
		}
		svc = &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: SystemNamespace, Labels: labels}}
		err = apierrors.NewNotFound(corev1.Resource("services"), name)
	}
	switch {
	case apierrors.IsNotFound(err):
		svc.Spec = corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, Ports: ports}
		if serviceIP.IsValid() {
			svc.Spec.ClusterIP = serviceIP.String()
		}
		if err := c.Create(ctx, svc); err != nil {
			return netip.Addr{}, fmt.Errorf("creating Service %s/%s: %w", SystemNamespace, name, err)
		}
	case err != nil:
		return netip.Addr{}, fmt.Errorf("reading Service %s/%s: %w", SystemNamespace, name, err)
	default:
		// The ClusterIP stays (pods were created with it); the ports follow
		// the listener, which changes with every start.
		svc.Spec.Selector, svc.Spec.Ports = nil, ports
		if err := c.Update(ctx, svc); err != nil {
			return netip.Addr{}, fmt.Errorf("updating Service %s/%s: %w", SystemNamespace, name, err)
		}
	}
	clusterIP, err := netip.ParseAddr(svc.Spec.ClusterIP)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("Service %s/%s has no ClusterIP (%q): delete it and restart gantry", SystemNamespace, name, svc.Spec.ClusterIP)
	}
	family := discoveryv1.AddressTypeIPv4
	if ip.Is6() {
		family = discoveryv1.AddressTypeIPv6
	}
	slice := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: SystemNamespace}}
	_, err = controllerutil.CreateOrUpdate(ctx, c, slice, func() error {
		slice.Labels = map[string]string{discoveryv1.LabelServiceName: name, discoveryv1.LabelManagedBy: "gantry.dev"}
		slice.AddressType = family
		slice.Endpoints = []discoveryv1.Endpoint{{Addresses: []string{ip.String()}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}}
		slice.Ports = nil
		for _, p := range ports {
			slice.Ports = append(slice.Ports, discoveryv1.EndpointPort{Name: ptr.To(p.Name), Protocol: ptr.To(p.Protocol), Port: ptr.To(p.TargetPort.IntVal)})
		}
		return nil
	})
	if err != nil {
		return netip.Addr{}, fmt.Errorf("writing EndpointSlice %s/%s: %w", SystemNamespace, name, err)
	}
	return clusterIP, nil
}
