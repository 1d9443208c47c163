package syncer

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// Endpoints are copied only for Services without a selector, whose endpoints a user
// (or an operator) writes by hand. A Service with a selector gets its host endpoints
// from the host's own controllers, from the host pods; its virtual Endpoints and
// EndpointSlices are the virtual controller-manager's, computed from the pod status
// the syncer reports back (podstatus.go). The host mirrors the copied Endpoints into
// EndpointSlices itself (endpointslicemirroring).

func (s *syncer) setupEndpoints() *controller {
	c := newController(s.log, "endpoints", 1, s.reconcileEndpoints)
	s.endpoints = newWriter[corev1.Endpoints]("Endpoints", s.host.CoreV1().Endpoints(s.opts.HostNamespace), s.opts.VCluster)
	s.handle(s.vf.Core().V1().Endpoints().Informer(), c.on(objectKey))
	s.handle(s.hf.Core().V1().Endpoints().Informer(), c.on(hostObjectKey))
	// A Service gaining or losing its selector decides whether its Endpoints are copied.
	s.handle(s.vf.Core().V1().Services().Informer(), c.on(objectKey))
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
	wanted := v != nil && v.DeletionTimestamp == nil && svc != nil && len(svc.Spec.Selector) == 0 &&
		svc.Spec.Type != corev1.ServiceTypeExternalName && !isAPIServerService(ns, name)
	if !wanted {
		if h != nil {
			return 0, s.endpoints.delete(ctx, h, metav1.DeleteOptions{})
		}
		return 0, nil
	}
	desired := &corev1.Endpoints{ObjectMeta: s.t.hostMeta(v), Subsets: s.t.hostSubsets(v.Subsets)}
	_, err = s.endpoints.apply(ctx, h, desired, func(existing, desired *corev1.Endpoints) bool {
		changed := mergeMeta(&existing.ObjectMeta, desired.ObjectMeta)
		if !equality.Semantic.DeepEqual(existing.Subsets, desired.Subsets) {
			existing.Subsets = desired.Subsets
			changed = true
		}
		return changed
	})
	return 0, err
}

// hostSubsets copies endpoint subsets, pointing pod references at the host pods.
func (t translator) hostSubsets(in []corev1.EndpointSubset) []corev1.EndpointSubset {
	out := make([]corev1.EndpointSubset, len(in))
	for i := range in {
		in[i].DeepCopyInto(&out[i])
		for _, addrs := range [][]corev1.EndpointAddress{out[i].Addresses, out[i].NotReadyAddresses} {
			for j := range addrs {
				if ref := addrs[j].TargetRef; ref != nil && ref.Kind == "Pod" {
					addrs[j].TargetRef = &corev1.ObjectReference{Kind: "Pod", APIVersion: ref.APIVersion,
						Namespace: t.hostNamespace, Name: t.name(ref.Name, ref.Namespace)}
				}
			}
		}
	}
	return out
}
