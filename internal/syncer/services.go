package syncer

import (
	"context"
	"fmt"
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
	// (CVE-2020-8554): not something a tenant may set on the host.
	spec.ExternalIPs = nil
	h.Spec = *spec
	return h
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
