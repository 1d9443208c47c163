package syncer

import (
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"

	"gantry.dev/gantry/internal/clusterdns"
)

// DNS is cluster DNS for a virtual cluster's pods (Options.DNS): host pods ask
// Server, which answers from this virtual cluster's Services (clusterdns).
type DNS struct {
	// Registry is where the syncer registers its virtual cluster's names while
	// it runs.
	Registry *clusterdns.Registry
	// Server is the address pods send their questions to (port 53).
	Server netip.Addr
	// Domain is the cluster domain; default clusterdns.DefaultDomain.
	Domain string
}

func (d *DNS) domain() string {
	if d.Domain == "" {
		return clusterdns.DefaultDomain
	}
	return d.Domain
}

// podDNS points a host pod at cluster DNS the way the kubelet does for
// dnsPolicy ClusterFirst (search path and ndots of the pod's own namespace,
// inside the virtual cluster), with the pod's own dnsConfig added. Pods that
// chose Default or None keep their choice; so do pods on the host's network.
func (t translator) podDNS(spec *corev1.PodSpec, namespace string) {
	if t.dns == nil || spec.HostNetwork {
		return
	}
	if p := spec.DNSPolicy; p != "" && p != corev1.DNSClusterFirst && p != corev1.DNSClusterFirstWithHostNet {
		return
	}
	d := t.dns.domain()
	own := spec.DNSConfig
	cfg := &corev1.PodDNSConfig{
		Nameservers: []string{t.dns.Server.String()},
		Searches:    []string{namespace + ".svc." + d, "svc." + d, d},
		Options:     []corev1.PodDNSConfigOption{{Name: "ndots", Value: ptr.To("5")}},
	}
	if own != nil {
		// As the kubelet merges: the pod's servers and searches after the
		// cluster's (up to the limits), its options over the cluster's.
		for _, ns := range own.Nameservers {
			if len(cfg.Nameservers) < 3 && !slices.Contains(cfg.Nameservers, ns) {
				cfg.Nameservers = append(cfg.Nameservers, ns)
			}
		}
		for _, s := range own.Searches {
			if len(cfg.Searches) < 32 && !slices.Contains(cfg.Searches, s) {
				cfg.Searches = append(cfg.Searches, s)
			}
		}
		for _, o := range own.Options {
			if i := slices.IndexFunc(cfg.Options, func(c corev1.PodDNSConfigOption) bool { return c.Name == o.Name }); i >= 0 {
				cfg.Options[i] = o
			} else {
				cfg.Options = append(cfg.Options, o)
			}
		}
	}
	spec.DNSPolicy, spec.DNSConfig = corev1.DNSNone, cfg
}

// dnsZone answers clusterdns from the syncer's caches.
type dnsZone struct{ s *syncer }

func (z dnsZone) Service(namespace, name string) (clusterdns.Service, bool) {
	s := z.s
	v, err := s.vf.Core().V1().Services().Lister().Services(namespace).Get(name)
	if err != nil || v.DeletionTimestamp != nil {
		return clusterdns.Service{}, false
	}
	if a := s.opts.APIServer; a != nil && isAPIServerService(namespace, name) {
		return a.kubernetesService(), true
	}
	var slices []*discoveryv1.EndpointSlice
	if v.Spec.ClusterIP == corev1.ClusterIPNone {
		// Headless: the ready pods, by the virtual EndpointSlices (their
		// addresses are the host pods', which the syncer copies back).
		sel := labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: name})
		slices, _ = s.vf.Discovery().V1().EndpointSlices().Lister().EndpointSlices(namespace).List(sel)
	}
	out := clusterdns.ServiceFrom(v, slices)
	if len(out.ClusterIPs) > 0 {
		// The virtual ClusterIP is not routed on the host; its copy's is.
		out.ClusterIPs = nil
		if h, err := s.hf.Core().V1().Services().Lister().Services(s.opts.HostNamespace).Get(s.t.name(name, namespace)); err == nil {
			out.ClusterIPs = clusterdns.ParseIPs(h.Spec.ClusterIPs)
		} // else exists, not copied yet: no address (NODATA)
	}
	return out, true
}

func (z dnsZone) PodNamespace(ip netip.Addr) (string, bool) {
	objs, err := z.s.hPods.GetIndexer().ByIndex(indexPodIP, ip.Unmap().String())
	if err != nil {
		return "", false
	}
	for _, o := range objs {
		if pod, ok := o.(*corev1.Pod); ok && pod.DeletionTimestamp == nil {
			if key, ok := virtualKey(pod); ok {
				ns, _, _ := strings.Cut(key, "/")
				return ns, true
			}
		}
	}
	return "", false
}

// member reports whether ip is one of this virtual cluster's host pods.
func (z dnsZone) member(ip netip.Addr) bool {
	_, ok := z.PodNamespace(ip)
	return ok
}

// setupDNS prepares the caches DNS answers from; run registers the zone once
// they are synced.
func (s *syncer) setupDNS() {
	if _, ok := s.hPods.GetIndexer().GetIndexers()[indexPodIP]; !ok { // endpoints.go's, when Endpoints are synced
		s.addIndexers(s.hPods, cache.Indexers{indexPodIP: podIPIndex})
	}
	// Touched here so that the factories start them.
	s.vf.Core().V1().Services().Informer()
	s.hf.Core().V1().Services().Informer()
	s.vf.Discovery().V1().EndpointSlices().Informer()
}
