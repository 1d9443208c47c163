package clusterdns

import (
	"context"
	"net/netip"
	"slices"
	"testing"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"
)

const tenantLabel = "gantry.dev/vcluster"

func hostObjects() []runtime.Object {
	pod := func(ns, name, ip, node string, labels map[string]string, hostNet bool) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
			Spec:   corev1.PodSpec{NodeName: node, HostNetwork: hostNet},
			Status: corev1.PodStatus{PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}}}
	}
	return []runtime.Object{
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"},
			Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.20", ClusterIPs: []string{"10.96.0.20"},
				Ports: []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 8080}}}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "db"},
			Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, ClusterIPs: []string{corev1.ClusterIPNone},
				Ports: []corev1.ServicePort{{Name: "pg", Protocol: corev1.ProtocolTCP, Port: 5432}}}},
		&discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "db-abc",
			Labels: map[string]string{discoveryv1.LabelServiceName: "db"}}, AddressType: discoveryv1.AddressTypeIPv4,
			Endpoints: []discoveryv1.Endpoint{
				{Addresses: []string{"10.88.0.9"}, Hostname: ptr.To("db-0"), Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}},
				{Addresses: []string{"10.88.0.11"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(false)}}}},
		// A virtual cluster's Service copy, in its host namespace.
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "p-a-dev", Name: "api-x-shop-x-dev"},
			Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.30", ClusterIPs: []string{"10.96.0.30"}}},
		pod("shop", "client", "10.88.0.7", "real-node-1", nil, false),
		pod("p-a-dev", "web-x-shop-x-dev", "10.88.0.8", "real-node-1", map[string]string{tenantLabel: "dev"}, false),
		pod("p-a-dev", "sleeping-x-shop-x-dev", "10.88.0.12", "real-node-1", map[string]string{tenantLabel: "sleepy"}, false),
		pod("kube-system", "proxy", "10.88.0.99", "real-node-1", nil, true),
		pod("shop", "simulated", "10.244.0.5", "sim-node-0", nil, false),
	}
}

// startHostZone runs a HostZone over a fake host API with hostObjects.
func startHostZone(t *testing.T) *HostZone {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	z, err := NewHostZone(fake.NewClientset(hostObjects()...), "real-node-1", func(p *corev1.Pod) bool {
		_, ok := p.Labels[tenantLabel]
		return ok
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := z.Run(ctx); err != nil {
		t.Fatal(err)
	}
	return z
}

// A host pod on the real node asks with the host's view: the host's Services
// by every name Kubernetes gives them, headless ones by their ready pods, SRV
// records by named port.
func TestHostPodsSeeTheHost(t *testing.T) {
	z := startHostZone(t)
	client := netip.MustParseAddr("10.88.0.7")
	if ns, ok := z.PodNamespace(client); !ok || ns != "shop" {
		t.Fatalf("the host pod's namespace: %q %v", ns, ok)
	}
	r := &Registry{}
	r.Set("host", z, func(netip.Addr) bool { return z.Member(client) }) // the test asks from loopback, as client
	addr := serve(t, &Server{Registry: r})
	for _, c := range []struct {
		name  string
		qtype uint16
		want  []string
		rcode int
	}{
		{"web.shop.svc.cluster.local", dns.TypeA, []string{"10.96.0.20"}, dns.RcodeSuccess},
		{"db.shop.svc.cluster.local", dns.TypeA, []string{"10.88.0.9"}, dns.RcodeSuccess}, // the not-ready endpoint is left out
		{"db-0.db.shop.svc.cluster.local", dns.TypeA, []string{"10.88.0.9"}, dns.RcodeSuccess},
		{"_http._tcp.web.shop.svc.cluster.local", dns.TypeSRV, []string{"SRV web.shop.svc.cluster.local. 8080"}, dns.RcodeSuccess},
		{"api-x-shop-x-dev.p-a-dev.svc.cluster.local", dns.TypeA, []string{"10.96.0.30"}, dns.RcodeSuccess},
		{"10-88-0-7.shop.pod.cluster.local", dns.TypeA, []string{"10.88.0.7"}, dns.RcodeSuccess},
		{"10-88-0-8.p-a-dev.pod.cluster.local", dns.TypeA, nil, dns.RcodeNameError}, // a tenant's pod is not the host's
		{"nope.shop.svc.cluster.local", dns.TypeA, nil, dns.RcodeNameError},
	} {
		got := ask(t, addr, "udp", c.name, c.qtype)
		if got.Rcode != c.rcode || !slices.Equal(answers(got), c.want) {
			t.Errorf("%s %s: rcode %s, answers %v; want %s, %v", c.name, dns.TypeToString[c.qtype],
				dns.RcodeToString[got.Rcode], answers(got), dns.RcodeToString[c.rcode], c.want)
		}
	}
}

// The boundary: a virtual cluster's pod on the same node is never a member of
// the host zone, whether its own cluster's zone is registered (it sees only
// that) or not (a sleeping or starting syncer: REFUSED, not the host's names).
// Nor are pods on the host's network (the node's address is anybody's) or on
// other nodes.
func TestTenantsNeverSeeTheHost(t *testing.T) {
	z := startHostZone(t)
	for _, ip := range []string{"10.88.0.8", "10.88.0.12", "10.88.0.99", "10.244.0.5", "10.88.0.200"} {
		if z.Member(netip.MustParseAddr(ip)) {
			t.Errorf("%s is answered with the host's names", ip)
		}
	}

	tenant := netip.MustParseAddr("10.88.0.8")
	r := &Registry{}
	r.Set("host", z, z.Member)
	r.Set("p-a/dev", shopZone(), func(ip netip.Addr) bool { return ip == tenant })
	if zone, ok := r.ZoneOf(tenant); !ok || zone == Zone(z) {
		t.Errorf("the tenant's pod is answered by %T (%v), want its own cluster's zone", zone, ok)
	}
	if _, ok := r.ZoneOf(netip.MustParseAddr("10.88.0.12")); ok {
		t.Error("a pod of a virtual cluster whose syncer is not registered is answered; want REFUSED")
	}
	if zone, ok := r.ZoneOf(netip.MustParseAddr("10.88.0.7")); !ok || zone != Zone(z) {
		t.Errorf("the host's pod is answered by %T (%v), want the host zone", zone, ok)
	}
}
