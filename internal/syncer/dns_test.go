package syncer

import (
	"context"
	"net/netip"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"gantry.dev/gantry/internal/clusterdns"
)

// TestClusterDNS runs the syncer with cluster DNS: host pods ask gantry's DNS
// with their virtual namespace's search path, and the names they ask for are
// answered from this virtual cluster: a Service by its host copy's ClusterIP
// (the address the host routes), a headless one by its pods.
func TestClusterDNS(t *testing.T) {
	e := env(t)
	ctx := context.Background()
	ns := newNamespace(t, e, "dns")
	reg := &clusterdns.Registry{}
	server := netip.MustParseAddr("192.0.2.53")
	if err := e.stopSyncerNow(); err != nil {
		t.Fatal(err)
	}
	api := netip.MustParseAddr("192.0.2.44")
	if err := e.startSyncer(func(o *Options) {
		o.DNS = &DNS{Registry: reg, Server: server}
		o.APIServer = &APIServer{Address: api}
	}); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := e.stopSyncerNow(); err != nil {
			t.Error(err)
		}
		if _, ok := reg.ZoneOf(netip.MustParseAddr("10.244.0.1")); ok {
			t.Error("a stopped syncer's virtual cluster still answers DNS")
		}
		if err := e.startSyncer(); err != nil {
			t.Error(err)
		}
	}()

	if _, err := e.vKube.CoreV1().Services(ns).Create(ctx, service("web"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	headless := service("web-pods")
	headless.Spec.ClusterIP = corev1.ClusterIPNone
	headless.Spec.Selector = map[string]string{"app": "web"}
	if _, err := e.vKube.CoreV1().Services(ns).Create(ctx, headless, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	d := deployment("web", 1, "")
	d.Spec.Template.Spec.DNSConfig = &corev1.PodDNSConfig{Searches: []string{"corp.example"}, Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: ptr.To("2")}}}
	if _, err := e.vKube.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "web to be Available", func(ctx context.Context) (bool, error) { return available(ctx, e, ns, "web", 1) })

	pods, err := hostPods(ctx, e, ns, "web")
	if err != nil || len(pods) != 1 {
		t.Fatalf("host pods of web: %d (%v)", len(pods), err)
	}
	hp := pods[0]
	cfg := hp.Spec.DNSConfig
	if hp.Spec.DNSPolicy != corev1.DNSNone || cfg == nil || !slices.Equal(cfg.Nameservers, []string{"192.0.2.53"}) ||
		!slices.Equal(cfg.Searches, []string{ns + ".svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example"}) ||
		len(cfg.Options) != 1 || cfg.Options[0].Name != "ndots" || *cfg.Options[0].Value != "2" {
		t.Fatalf("host pod's DNS: policy %s, config %+v; want None with gantry's server, the virtual namespace's search path "+
			"and the pod's own search and ndots", hp.Spec.DNSPolicy, cfg)
	}

	podIP := netip.MustParseAddr(hp.Status.PodIP)
	zone, ok := reg.ZoneOf(podIP)
	if !ok {
		t.Fatalf("the pod's address %s is no virtual cluster's", podIP)
	}
	hostSvc, err := e.hostKube.CoreV1().Services(testHostNS).Get(ctx, HostName("web", ns, testVCluster), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	svc, ok := zone.Service(ns, "web")
	if !ok || len(svc.ClusterIPs) != 1 || svc.ClusterIPs[0].String() != hostSvc.Spec.ClusterIP {
		t.Errorf("web: %+v (%v); want the host copy's ClusterIP %s", svc, ok, hostSvc.Spec.ClusterIP)
	}
	if len(svc.Ports) != 1 || svc.Ports[0] != (clusterdns.Port{Name: "http", Protocol: "TCP", Port: 80}) {
		t.Errorf("web's ports: %+v", svc.Ports)
	}
	eventually(t, 30*time.Second, "the headless Service to list the pod", func(context.Context) (bool, error) {
		s, ok := zone.Service(ns, "web-pods")
		return ok && len(s.ClusterIPs) == 0 && len(s.Endpoints) == 1 && s.Endpoints[0].IP == podIP, nil
	})
	if got, ok := zone.PodNamespace(podIP); !ok || got != ns {
		t.Errorf("PodNamespace(%s) = %q, %v; want %s", podIP, got, ok, ns)
	}
	// In-cluster configuration: kubernetes.default and the variables name
	// the Service that relays to this virtual cluster's API server.
	if s, ok := zone.Service("default", "kubernetes"); !ok || !slices.Equal(s.ClusterIPs, []netip.Addr{api}) ||
		len(s.Ports) != 1 || s.Ports[0].Port != 443 {
		t.Errorf("kubernetes.default: %+v (%v); want %s:443", s, ok, api)
	}
	if c := hp.Spec.Containers[0]; !slices.Contains(c.Env, corev1.EnvVar{Name: "KUBERNETES_SERVICE_HOST", Value: api.String()}) ||
		!slices.Contains(c.Env, corev1.EnvVar{Name: "KUBERNETES_SERVICE_PORT", Value: "443"}) {
		t.Errorf("host pod's env: %v; want KUBERNETES_SERVICE_HOST=%s and _PORT=443", c.Env, api)
	}
	if _, ok := zone.Service(ns, "nope"); ok {
		t.Error("a Service that does not exist resolves")
	}
	if _, ok := zone.Service("kube-system", "kube-dns"); ok {
		t.Error("a Service of another namespace resolves")
	}
	if _, ok := reg.ZoneOf(netip.MustParseAddr("203.0.113.9")); ok {
		t.Error("an address that is no pod's has a zone")
	}
}

// Pods that chose their DNS keep it; so do pods on the host's network.
func TestPodDNSPolicies(t *testing.T) {
	tr := translator{vcluster: "vc", hostNamespace: "h", dns: &DNS{Server: netip.MustParseAddr("10.96.0.10"), Domain: "corp.local"}}
	for _, c := range []struct {
		policy  corev1.DNSPolicy
		hostNet bool
		want    corev1.DNSPolicy
	}{
		{"", false, corev1.DNSNone},
		{corev1.DNSClusterFirst, false, corev1.DNSNone},
		{corev1.DNSClusterFirstWithHostNet, false, corev1.DNSNone},
		{corev1.DNSDefault, false, corev1.DNSDefault},
		{corev1.DNSNone, false, corev1.DNSNone},
		{corev1.DNSClusterFirst, true, corev1.DNSClusterFirst},
	} {
		spec := &corev1.PodSpec{DNSPolicy: c.policy, HostNetwork: c.hostNet}
		if c.policy == corev1.DNSNone {
			spec.DNSConfig = &corev1.PodDNSConfig{Nameservers: []string{"1.1.1.1"}}
		}
		tr.podDNS(spec, "shop")
		if spec.DNSPolicy != c.want {
			t.Errorf("policy %q hostNetwork %v: %q, want %q", c.policy, c.hostNet, spec.DNSPolicy, c.want)
		}
		if c.policy == corev1.DNSNone && !slices.Equal(spec.DNSConfig.Nameservers, []string{"1.1.1.1"}) {
			t.Errorf("a pod's own DNS (policy None) was changed: %+v", spec.DNSConfig)
		}
		if c.want == corev1.DNSNone && c.policy != corev1.DNSNone &&
			!slices.Equal(spec.DNSConfig.Searches, []string{"shop.svc.corp.local", "svc.corp.local", "corp.local"}) {
			t.Errorf("policy %q: searches %v", c.policy, spec.DNSConfig.Searches)
		}
	}
	off := translator{vcluster: "vc", hostNamespace: "h"}
	spec := &corev1.PodSpec{}
	off.podDNS(spec, "shop")
	if spec.DNSPolicy != "" || spec.DNSConfig != nil {
		t.Errorf("without cluster DNS a pod's DNS changed: %q %+v", spec.DNSPolicy, spec.DNSConfig)
	}
}
