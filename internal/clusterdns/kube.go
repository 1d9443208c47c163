package clusterdns

import (
	"context"
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// ServiceFrom is what DNS knows of svc: its ports, its ClusterIPs, its
// ExternalName, or for a headless Service the ready endpoints of slices (the
// EndpointSlices labelled with its name). Virtual clusters' zones and the
// host's share it.
func ServiceFrom(svc *corev1.Service, slices []*discoveryv1.EndpointSlice) Service {
	out := Service{}
	for _, p := range svc.Spec.Ports {
		out.Ports = append(out.Ports, Port{Name: p.Name, Protocol: string(p.Protocol), Port: p.Port})
	}
	switch {
	case svc.Spec.Type == corev1.ServiceTypeExternalName:
		out.ExternalName = svc.Spec.ExternalName
	case svc.Spec.ClusterIP == corev1.ClusterIPNone:
		out.Endpoints = readyEndpoints(slices)
	default:
		out.ClusterIPs = ParseIPs(svc.Spec.ClusterIPs)
	}
	return out
}

// ParseIPs parses the addresses of ips, skipping what is not one.
func ParseIPs(ips []string) []netip.Addr {
	var out []netip.Addr
	for _, ip := range ips {
		if a, err := netip.ParseAddr(ip); err == nil {
			out = append(out, a)
		}
	}
	return out
}

func readyEndpoints(slices []*discoveryv1.EndpointSlice) []Endpoint {
	var out []Endpoint
	for _, sl := range slices {
		for _, e := range sl.Endpoints {
			if e.Conditions.Ready != nil && !*e.Conditions.Ready {
				continue
			}
			host := ""
			if e.Hostname != nil {
				host = *e.Hostname
			}
			for _, a := range ParseIPs(e.Addresses) {
				out = append(out, Endpoint{IP: a, Hostname: host})
			}
		}
	}
	return out
}

// HostZone is the host cluster's names, for the host's own pods on a node
// whose kubelet sends them to gantry's DNS server (the real node): the host's
// Services, as CoreDNS in any cluster answers them. Pods of virtual clusters
// run on that node too; Tenant tells them apart, and they are never the host
// zone's: they see their own cluster or nothing.
type HostZone struct {
	services cache.SharedIndexInformer
	slices   cache.SharedIndexInformer
	pods     cache.SharedIndexInformer
	tenant   func(*corev1.Pod) bool
	factory  informers.SharedInformerFactory
	podsOf   informers.SharedInformerFactory
}

var _ Zone = (*HostZone)(nil)

const indexPodIP = "pod-ip"

// NewHostZone watches the host's Services and EndpointSlices, and the pods of
// node (the only ones that ask). tenant reports whether a pod is a virtual
// cluster's. Start it with Run.
func NewHostZone(client kubernetes.Interface, node string, tenant func(*corev1.Pod) bool) (*HostZone, error) {
	f := informers.NewSharedInformerFactory(client, 0)
	pf := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", node).String()
	}))
	z := &HostZone{services: f.Core().V1().Services().Informer(), slices: f.Discovery().V1().EndpointSlices().Informer(),
		pods: pf.Core().V1().Pods().Informer(), tenant: tenant, factory: f, podsOf: pf}
	err := z.pods.AddIndexers(cache.Indexers{indexPodIP: func(obj any) ([]string, error) {
		pod, ok := obj.(*corev1.Pod)
		// The node's address is anybody's on the machine: not a pod's.
		if !ok || pod.Spec.HostNetwork || pod.Spec.NodeName != node {
			return nil, nil
		}
		var ips []string
		for _, ip := range pod.Status.PodIPs {
			ips = append(ips, ip.IP)
		}
		return ips, nil
	}})
	if err != nil {
		return nil, err
	}
	return z, nil
}

// Run starts the watches and returns once they are synced, or ctx ended.
func (z *HostZone) Run(ctx context.Context) error {
	z.factory.Start(ctx.Done())
	z.podsOf.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), z.services.HasSynced, z.slices.HasSynced, z.pods.HasSynced) {
		return fmt.Errorf("host DNS: the host's Services and pods did not sync: %w", ctx.Err())
	}
	return nil
}

// Service is the host's Service namespace/name.
func (z *HostZone) Service(namespace, name string) (Service, bool) {
	obj, ok, err := z.services.GetStore().GetByKey(namespace + "/" + name)
	if err != nil || !ok {
		return Service{}, false
	}
	svc := obj.(*corev1.Service)
	if svc.DeletionTimestamp != nil {
		return Service{}, false
	}
	var slices []*discoveryv1.EndpointSlice
	if svc.Spec.ClusterIP == corev1.ClusterIPNone {
		sel := labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: name})
		_ = cache.ListAllByNamespace(z.slices.GetIndexer(), namespace, sel, func(o any) {
			slices = append(slices, o.(*discoveryv1.EndpointSlice))
		})
	}
	return ServiceFrom(svc, slices), true
}

// PodNamespace is the namespace of the host's own pod with address ip.
func (z *HostZone) PodNamespace(ip netip.Addr) (string, bool) {
	objs, err := z.pods.GetIndexer().ByIndex(indexPodIP, ip.Unmap().String())
	if err != nil {
		return "", false
	}
	for _, o := range objs {
		if pod, ok := o.(*corev1.Pod); ok && pod.DeletionTimestamp == nil && !z.tenant(pod) {
			return pod.Namespace, true
		}
	}
	return "", false
}

// Member reports whether ip is one of the host's own pods (the Registry's
// Member for this zone).
func (z *HostZone) Member(ip netip.Addr) bool {
	_, ok := z.PodNamespace(ip)
	return ok
}
