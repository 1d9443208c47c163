// Package clusterdns is the DNS server of virtual clusters' pods: what CoreDNS
// is inside a vCluster, run once in gantry's process for all of them.
//
// A pod's question is answered from the view of the virtual cluster it belongs
// to, told by the address it asks from: `web`, `web.shop` and
// `web.shop.svc.cluster.local` name the Service web of namespace shop of that
// virtual cluster, never another's. The host's own pods on the real node (not
// virtual clusters') get the host's view the same way (HostZone), as the
// kubelet's clusterDNS; any other client is refused (no open resolver). Names
// outside the cluster domain are forwarded to the host's resolvers.
//
// Why not CoreDNS pods, as vCluster runs: no image registry is needed, a
// sleeping virtual cluster costs nothing, and the answers come from the
// syncer's informers, which already hold every Service and pod. miekg/dns (the
// library CoreDNS is built on) does the wire format; this package only decides
// the answers, following the Kubernetes DNS specification
// (https://github.com/kubernetes/dns/blob/master/docs/specification.md).
package clusterdns

import (
	"net/netip"
	"sync"
)

// Port is a named port of a Service, for SRV records.
type Port struct {
	Name     string
	Protocol string // "TCP", "UDP" or "SCTP"
	Port     int32
}

// Endpoint is one ready backend of a headless Service.
type Endpoint struct {
	IP netip.Addr
	// Hostname is the pod's hostname when the pod names this Service as its
	// subdomain: <hostname>.<service>.<namespace>.svc.<domain> then resolves.
	Hostname string
}

// Service is what DNS knows of one Service.
type Service struct {
	// ClusterIPs are the addresses that reach the Service (the host copy's,
	// which the host routes); none for a headless Service.
	ClusterIPs []netip.Addr
	// Endpoints of a headless Service (ClusterIPs empty).
	Endpoints []Endpoint
	// ExternalName of a Service of type ExternalName: a CNAME.
	ExternalName string
	Ports        []Port
}

// Zone is one cluster's names: a virtual cluster's, or the host's.
type Zone interface {
	// Service returns the Service namespace/name, or false if there is none.
	Service(namespace, name string) (Service, bool)
	// PodNamespace returns the namespace of the pod with address ip, or false
	// if it is none of this virtual cluster's pods: <a-b-c-d>.<ns>.pod.<domain>
	// resolves only for its own pods (kube-dns's "pods verified").
	PodNamespace(ip netip.Addr) (string, bool)
}

// Member says whether an address is one of a zone's pods. Members of two
// zones must never overlap: the host zone's exclude virtual clusters' pods.
type Member func(netip.Addr) bool

// Registry maps the pods that ask to their cluster's Zone. Syncers register
// their virtual cluster while they run; the platform registers the host.
type Registry struct {
	mu    sync.RWMutex
	zones map[string]entry
}

type entry struct {
	zone   Zone
	member Member
}

// Set registers (or replaces) the zone of virtual cluster key, answering
// clients for which member is true.
func (r *Registry) Set(key string, zone Zone, member Member) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.zones == nil {
		r.zones = map[string]entry{}
	}
	r.zones[key] = entry{zone: zone, member: member}
}

// Delete forgets virtual cluster key.
func (r *Registry) Delete(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.zones, key)
}

// ZoneOf returns the zone of the virtual cluster whose pod has address client.
func (r *Registry) ZoneOf(client netip.Addr) (Zone, bool) {
	_, e, ok := r.owner(client)
	return e.zone, ok
}

// Owner returns the key (as given to Set) of the virtual cluster whose pod
// has address client: other servers for pods (package incluster) tell
// clusters apart the same way DNS does.
func (r *Registry) Owner(client netip.Addr) (string, bool) {
	key, _, ok := r.owner(client)
	return key, ok
}

// owner finds the virtual cluster that claims client. A pod IP belongs to at
// most one pod at a time on the host, so at most one virtual cluster claims it.
func (r *Registry) owner(client netip.Addr) (string, entry, bool) {
	client = client.Unmap()
	r.mu.RLock()
	defer r.mu.RUnlock()
	for key, e := range r.zones {
		if e.member(client) {
			return key, e, true
		}
	}
	return "", entry{}, false
}
