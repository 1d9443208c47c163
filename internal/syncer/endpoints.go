package syncer

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
)

// Endpoints are copied only for Services without a selector, whose endpoints a user
// (or an operator) writes by hand. A Service with a selector gets its host endpoints
// from the host's own controllers, from the host pods; its virtual Endpoints and
// EndpointSlices are the virtual controller-manager's, computed from the pod status
// the syncer reports back (podstatus.go). The host mirrors the copied Endpoints into
// EndpointSlices itself (endpointslicemirroring).
//
// On the host, hand-written endpoints would make the host Service, and whatever
// trusts it, send traffic anywhere: the host's API server, a node, a metadata
// service, another team's pods (CVE-2021-25740). So the host copy keeps only the
// addresses that are IPs of this virtual cluster's own running pods on the host
// (looked up by IP, and pointing at that pod), and a Warning event on the virtual
// Endpoints names the addresses left out. vCluster copies them as written.

// Indexes by IP: of virtual Endpoints, the IPs they list; of host pods, the IPs
// they serve on.
const (
	indexEndpointsIP = "endpoints-ip"
	indexPodIP       = "pod-ip"
)

func (s *syncer) setupEndpoints() *controller {
	c := newController(s.log, "endpoints", 1, s.reconcileEndpoints)
	s.endpoints = newWriter[corev1.Endpoints]("Endpoints", s.host.CoreV1().Endpoints(s.opts.HostNamespace), s.opts.VCluster)
	vEndpoints := s.vf.Core().V1().Endpoints().Informer()
	s.addIndexers(vEndpoints, cache.Indexers{indexEndpointsIP: endpointsIPs})
	s.addIndexers(s.hPods, cache.Indexers{indexPodIP: podIPIndex})
	s.handle(vEndpoints, c.on(objectKey))
	s.handle(s.hf.Core().V1().Endpoints().Informer(), c.on(hostObjectKey))
	// A Service gaining or losing its selector decides whether its Endpoints are copied.
	s.handle(s.vf.Core().V1().Services().Informer(), c.on(objectKey))
	// A pod getting or losing its IP decides whether Endpoints listing it may keep it.
	s.handle(s.hPods, c.on(func(obj any) []string {
		ips, _ := podIPIndex(obj)
		var keys []string
		for _, ip := range ips {
			objs, _ := vEndpoints.GetIndexer().ByIndex(indexEndpointsIP, ip)
			for _, o := range objs {
				keys = append(keys, objectKey(o)...)
			}
		}
		return keys
	}))
	return c
}

func (s *syncer) reconcileEndpoints(ctx context.Context, key string) (time.Duration, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return 0, nil
	}
	v, err := getOrNil(s.vf.Core().V1().Endpoints().Lister().Endpoints(ns).Get(name))
	if err != nil {
		return 0, err
	}
	svc, err := getOrNil(s.vf.Core().V1().Services().Lister().Services(ns).Get(name))
	if err != nil {
		return 0, err
	}
	h, err := getOrNil(s.hf.Core().V1().Endpoints().Lister().Endpoints(s.opts.HostNamespace).Get(s.t.name(name, ns)))
	if err != nil {
		return 0, err
	}
	// Another virtual object's copy under the same name is, for this one, not
	// there: it is not deleted, and writing over it fails (collisionError).
	h = s.endpoints.copyOf(h, key)
	wanted := v != nil && v.DeletionTimestamp == nil && svc != nil && len(svc.Spec.Selector) == 0 &&
		svc.Spec.Type != corev1.ServiceTypeExternalName && !isAPIServerService(ns, name)
	if !wanted {
		if h != nil {
			return 0, s.endpoints.delete(ctx, h, metav1.DeleteOptions{})
		}
		return 0, nil
	}
	subsets, left := hostSubsets(v.Subsets, s.hostPodByIP)
	desired := &corev1.Endpoints{ObjectMeta: s.t.hostMeta(v), Subsets: subsets}
	_, err = s.endpoints.apply(ctx, h, desired, func(existing, desired *corev1.Endpoints) bool {
		changed := mergeMeta(&existing.ObjectMeta, desired.ObjectMeta)
		if !equality.Semantic.DeepEqual(existing.Subsets, desired.Subsets) {
			existing.Subsets = desired.Subsets
			changed = true
		}
		return changed
	})
	if err != nil || len(left) == 0 {
		return 0, err
	}
	msg := fmt.Sprintf("the host copy of endpoints %s leaves out %s (not the IP of a running pod of this virtual cluster): "+
		"on the host, a Service without a selector may send traffic only to the virtual cluster's own pods (CVE-2021-25740); "+
		"to reach another address, connect to it directly or use a Service of type ExternalName", name, strings.Join(left, ", "))
	return 0, s.warn(ctx, v, "Endpoints", ReasonHostPolicy, msg)
}

// hostPodByIP is the running host pod of this virtual cluster serving on ip, or nil.
func (s *syncer) hostPodByIP(ip string) *corev1.Pod {
	objs, err := s.hPods.GetIndexer().ByIndex(indexPodIP, ip)
	if err != nil || len(objs) == 0 {
		return nil
	}
	pod, _ := objs[0].(*corev1.Pod)
	return pod
}

// hostSubsets copies endpoint subsets for the host, keeping the addresses that
// podByIP finds a host pod for (pointing at that pod) and returning the others,
// sorted and once each. Subsets left without addresses go.
func hostSubsets(in []corev1.EndpointSubset, podByIP func(ip string) *corev1.Pod) (out []corev1.EndpointSubset, left []string) {
	keep := func(addrs []corev1.EndpointAddress) []corev1.EndpointAddress {
		var kept []corev1.EndpointAddress
		for _, a := range addrs {
			ip := canonicalIP(a.IP)
			pod := podByIP(ip)
			if pod == nil {
				left = append(left, a.IP)
				continue
			}
			h := corev1.EndpointAddress{IP: ip, Hostname: a.Hostname,
				TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID}}
			if pod.Spec.NodeName != "" {
				h.NodeName = ptr.To(pod.Spec.NodeName)
			}
			kept = append(kept, h)
		}
		return kept
	}
	for _, sub := range in {
		h := corev1.EndpointSubset{Addresses: keep(sub.Addresses), NotReadyAddresses: keep(sub.NotReadyAddresses),
			Ports: slices.Clone(sub.Ports)}
		if len(h.Addresses) > 0 || len(h.NotReadyAddresses) > 0 {
			out = append(out, h)
		}
	}
	slices.Sort(left)
	return out, slices.Compact(left)
}

// endpointsIPs indexes virtual Endpoints by the IPs they list.
func endpointsIPs(obj any) ([]string, error) {
	ep, ok := obj.(*corev1.Endpoints)
	if !ok {
		return nil, nil
	}
	var ips []string
	for _, sub := range ep.Subsets {
		for _, addrs := range [][]corev1.EndpointAddress{sub.Addresses, sub.NotReadyAddresses} {
			for _, a := range addrs {
				ips = append(ips, canonicalIP(a.IP))
			}
		}
	}
	slices.Sort(ips)
	return slices.Compact(ips), nil
}

// podIPIndex indexes host pods by the IPs they serve on: none for a finished pod
// (its IP may already be someone else's) or one on the host network (its IP is
// the node's).
func podIPIndex(obj any) ([]string, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok || pod.Spec.HostNetwork || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return nil, nil
	}
	var ips []string
	for _, ip := range pod.Status.PodIPs {
		ips = append(ips, canonicalIP(ip.IP))
	}
	return ips, nil
}

// canonicalIP writes an IP one way, so that one address compares equal however
// it was written; anything else is kept as is.
func canonicalIP(s string) string {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().String()
	}
	return s
}
