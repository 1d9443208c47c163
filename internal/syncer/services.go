package syncer

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// Services get a host copy whose selector picks the host copies of the pods the
// virtual Service selects. The host allocates the copy its own ClusterIP (and node
// ports); the virtual Service keeps the ClusterIP the virtual API server gave it, and
// that is the one tenants see, in kubectl and in the virtual EndpointSlices. The two
// are different addresses of the same backends.
//
// Every type is copied, NodePort and LoadBalancer included (as vCluster does): they
// are how a tenant exposes a workload, and a platform team limits them with the
// host namespace's quota (services.nodeports, services.loadbalancers; the
// VirtualCluster's spec.resourceQuota). What a tenant may not choose on the host
// is an address or a port: cluster IPs, node ports and load-balancer IPs are
// allocated by the host, and external IPs are left out; a Warning event on the
// virtual Service says what was.

func (s *syncer) setupServices() *controller {
	c := newController(s.log, "services", 1, s.reconcileService)
	s.services = newWriter[corev1.Service]("Service", s.host.CoreV1().Services(s.opts.HostNamespace), s.opts.VCluster)
	s.handle(s.vf.Core().V1().Services().Informer(), c.on(objectKey))
	s.handle(s.hf.Core().V1().Services().Informer(), c.on(hostObjectKey))
	return c
}

// isAPIServerService reports the virtual API server's own Service, default/kubernetes:
// it stands for the virtual API server, which the host cannot route to by a copy.
func isAPIServerService(namespace, name string) bool {
	return namespace == metav1.NamespaceDefault && name == "kubernetes"
}

func (s *syncer) reconcileService(ctx context.Context, key string) (time.Duration, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return 0, nil
	}
	v, err := getOrNil(s.vf.Core().V1().Services().Lister().Services(ns).Get(name))
	if err != nil {
		return 0, err
	}
	h, err := getOrNil(s.hf.Core().V1().Services().Lister().Services(s.opts.HostNamespace).Get(s.t.name(name, ns)))
	if err != nil {
		return 0, err
	}
	// Another virtual object's copy under the same name is, for this one, not
	// there: it is not deleted, and writing over it fails (collisionError).
	h = s.services.copyOf(h, key)
	if v == nil || v.DeletionTimestamp != nil || isAPIServerService(ns, name) {
		if h != nil {
			return 0, s.services.delete(ctx, h, metav1.DeleteOptions{})
		}
		return 0, nil
	}
	live, err := s.services.apply(ctx, h, s.t.hostService(v), mergeService)
	if err != nil {
		return 0, err
	}
	if left := serviceNotes(v); len(left) > 0 {
		msg := fmt.Sprintf("the host copy of service %s leaves out %s: on the host, addresses and ports are the host's "+
			"to allocate, and keys in the kubernetes.io, k8s.io and gantry.dev domains configure host components",
			name, strings.Join(left, ", "))
		if err := s.warn(ctx, v, "Service", ReasonHostPolicy, msg); err != nil {
			return 0, err
		}
	}
	// A load balancer is the host's: its address is what the tenant gets.
	if v.Spec.Type == corev1.ServiceTypeLoadBalancer && !equality.Semantic.DeepEqual(v.Status.LoadBalancer, live.Status.LoadBalancer) {
		updated := v.DeepCopy()
		updated.Status.LoadBalancer = live.Status.LoadBalancer
		if _, err := s.virtual.CoreV1().Services(ns).UpdateStatus(ctx, updated, metav1.UpdateOptions{FieldManager: fieldManager}); err != nil {
			return 0, fmt.Errorf("updating status of virtual service %s: %w", key, err)
		}
	}
	return 0, nil
}

// hostService is the host copy of virtual Service v, without what the host allocates.
func (t translator) hostService(v *corev1.Service) *corev1.Service {
	h := &corev1.Service{ObjectMeta: t.hostMeta(v)}
	spec := v.Spec.DeepCopy()
	if spec.ClusterIP != corev1.ClusterIPNone {
		spec.ClusterIP, spec.ClusterIPs = "", nil
	}
	spec.IPFamilies = nil
	spec.HealthCheckNodePort = 0
	for i := range spec.Ports {
		spec.Ports[i].NodePort = 0
	}
	spec.Selector = t.hostSelector(spec.Selector, v.Namespace)
	// External IPs make the host's nodes capture traffic to any address
	// (CVE-2020-8554): not something a tenant may set on the host. A requested
	// load-balancer address could be one another team's DNS points at.
	spec.ExternalIPs = nil
	spec.LoadBalancerIP = ""
	if spec.Type == "" || spec.Type == corev1.ServiceTypeClusterIP {
		// Without its external IPs a ClusterIP Service is internal: the
		// externalTrafficPolicy the virtual API server defaulted for them
		// would make the host refuse the copy.
		spec.ExternalTrafficPolicy = ""
	}
	h.Spec = *spec
	return h
}

// serviceNotes describes what the host copy of virtual Service v leaves out of
// what its tenant wrote (cluster IPs and node ports are allocated inside, so
// their host values differing is no news).
func serviceNotes(v *corev1.Service) []string {
	var left []string
	if len(v.Spec.ExternalIPs) > 0 {
		left = append(left, fmt.Sprintf("externalIPs %s (CVE-2020-8554)", strings.Join(v.Spec.ExternalIPs, ", ")))
	}
	if v.Spec.LoadBalancerIP != "" {
		left = append(left, fmt.Sprintf("loadBalancerIP %s", v.Spec.LoadBalancerIP))
	}
	if _, keys := hostKeys(v.Labels); len(keys) > 0 {
		left = append(left, "labels "+strings.Join(keys, ", "))
	}
	if _, keys := hostKeys(v.Annotations); len(keys) > 0 {
		keys = slices.DeleteFunc(keys, func(k string) bool { return slices.Contains(skippedAnnotations, k) })
		if len(keys) > 0 {
			left = append(left, "annotations "+strings.Join(keys, ", "))
		}
	}
	return left
}

// mergeService brings a live host Service to desired, keeping what the host
// allocated: cluster IPs, IP families, node ports, the health-check port.
func mergeService(existing, desired *corev1.Service) bool {
	changed := mergeMeta(&existing.ObjectMeta, desired.ObjectMeta)
	want := desired.Spec.DeepCopy()
	if want.Type != corev1.ServiceTypeExternalName {
		want.ClusterIP, want.ClusterIPs = existing.Spec.ClusterIP, existing.Spec.ClusterIPs
		want.IPFamilies = existing.Spec.IPFamilies
	}
	if want.IPFamilyPolicy == nil {
		want.IPFamilyPolicy = existing.Spec.IPFamilyPolicy
	}
	if want.HealthCheckNodePort == 0 {
		want.HealthCheckNodePort = existing.Spec.HealthCheckNodePort
	}
	for i := range want.Ports {
		for _, p := range existing.Spec.Ports {
			if p.Port == want.Ports[i].Port && p.Protocol == want.Ports[i].Protocol && want.Ports[i].NodePort == 0 {
				want.Ports[i].NodePort = p.NodePort
			}
		}
	}
	if !equality.Semantic.DeepEqual(existing.Spec, *want) {
		existing.Spec = *want
		changed = true
	}
	return changed
}
