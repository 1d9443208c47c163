package platform

import (
	"context"
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"gantry.dev/gantry/internal/kubetest"
)

// The Service pods ask (gantry-dns, port 53) points at wherever gantry's DNS
// listens this time, and keeps its ClusterIP across restarts: pods made
// earlier were given that address.
func TestDNSService(t *testing.T) {
	env := kubetest.Shared(t, kubetest.Options{CRDs: true})
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: SystemNamespace}}
	if err := env.Client.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	pc, l, err := listenDNS(netip.MustParseAddr("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	pc.Close()
	l.Close()
	listen := netip.MustParseAddr("192.0.2.10") // an EndpointSlice may not point at loopback
	first, err := ensureDNSService(ctx, env.Client, listen, 10053, netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}
	again, err := ensureDNSService(ctx, env.Client, listen, 20053, netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}
	if !first.IsValid() || again != first {
		t.Fatalf("ClusterIP %s, then %s after a restart; want one address kept", first, again)
	}
	svc, err := env.Kube.CoreV1().Services(SystemNamespace).Get(ctx, DNSService, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(svc.Spec.Ports) != 2 || svc.Spec.Ports[0].Port != 53 || svc.Spec.Ports[0].TargetPort.IntVal != 20053 || len(svc.Spec.Selector) != 0 {
		t.Errorf("Service %s: ports %+v, selector %v; want 53 → 20053 for UDP and TCP, no selector", DNSService, svc.Spec.Ports, svc.Spec.Selector)
	}
	slice, err := env.Kube.DiscoveryV1().EndpointSlices(SystemNamespace).Get(ctx, DNSService, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if slice.Labels[discoveryv1.LabelServiceName] != DNSService || len(slice.Endpoints) != 1 || slice.Endpoints[0].Addresses[0] != "192.0.2.10" ||
		len(slice.Ports) != 2 || *slice.Ports[0].Port != 20053 || *slice.Ports[1].Port != 20053 {
		t.Errorf("EndpointSlice %s: %+v; want 192.0.2.10:20053 for Service %s", DNSService, slice, DNSService)
	}
}

// With the real node, gantry-dns has the address its kubelet was configured
// with before the Service existed (host.DNSServiceIP): a Service made earlier
// with another address is made again with it, and then kept.
func TestDNSServiceReservedAddress(t *testing.T) {
	env := kubetest.Shared(t, kubetest.Options{CRDs: true})
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: SystemNamespace}}
	if err := env.Client.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	listen := netip.MustParseAddr("192.0.2.10")
	if _, err := ensureDNSService(ctx, env.Client, listen, 10053, netip.Addr{}); err != nil { // an allocated address
		t.Fatal(err)
	}
	reserved := netip.MustParseAddr("10.96.0.10") // in the test API server's default range, 10.96.0.0/16
	for _, port := range []int32{20053, 30053} {
		got, err := ensureDNSService(ctx, env.Client, listen, port, reserved)
		if err != nil {
			t.Fatal(err)
		}
		svc, err := env.Kube.CoreV1().Services(SystemNamespace).Get(ctx, DNSService, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got != reserved || svc.Spec.ClusterIP != reserved.String() || svc.Spec.Ports[0].TargetPort.IntVal != port {
			t.Errorf("ClusterIP %s (Service: %s, target port %d); want %s → %d", got, svc.Spec.ClusterIP, svc.Spec.Ports[0].TargetPort.IntVal, reserved, port)
		}
	}
}
