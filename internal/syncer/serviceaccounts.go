package syncer

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
)

// ServiceAccounts used by virtual pods get a host copy, and host pods run as it (as
// vCluster does with service-account sync on): host-side identity integrations
// (workload identity annotations, image pull credentials of the host) then see which
// tenant account a pod has. The copy never gets a host token: pods mount the token
// the virtual API server issues (tokens.go).

func (s *syncer) setupServiceAccounts() *controller {
	c := newController(s.log, "serviceaccounts", 1, s.reconcileServiceAccount)
	s.serviceAccounts = newWriter[corev1.ServiceAccount]("ServiceAccount", s.host.CoreV1().ServiceAccounts(s.opts.HostNamespace), s.opts.VCluster)
	s.handle(s.vf.Core().V1().ServiceAccounts().Informer(), c.on(objectKey))
	s.handle(s.hf.Core().V1().ServiceAccounts().Informer(), c.on(hostObjectKey))
	s.handle(s.vPods, c.on(func(obj any) []string {
		if pod, ok := obj.(*corev1.Pod); ok {
			return []string{pod.Namespace + "/" + serviceAccountOf(pod)}
		}
		return nil
	}))
	return c
}

func (s *syncer) reconcileServiceAccount(ctx context.Context, key string) (time.Duration, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return 0, nil
	}
	v, err := getOrNil(s.vf.Core().V1().ServiceAccounts().Lister().ServiceAccounts(ns).Get(name))
	if err != nil {
		return 0, err
	}
	h, err := getOrNil(s.hf.Core().V1().ServiceAccounts().Lister().ServiceAccounts(s.opts.HostNamespace).Get(s.t.name(name, ns)))
	if err != nil {
		return 0, err
	}
	// Another virtual object's copy under the same name is, for this one, not
	// there: it is not deleted, and writing over it fails (collisionError).
	h = s.serviceAccounts.copyOf(h, key)
	if v == nil || v.DeletionTimestamp != nil || !s.usedByPods(indexServiceAccounts, key) {
		if h != nil {
			return 0, s.serviceAccounts.delete(ctx, h, metav1.DeleteOptions{})
		}
		return 0, nil
	}
	desired := &corev1.ServiceAccount{ObjectMeta: s.t.hostMeta(v), AutomountServiceAccountToken: ptr.To(false)}
	_, err = s.serviceAccounts.apply(ctx, h, desired, func(existing, desired *corev1.ServiceAccount) bool {
		changed := mergeMeta(&existing.ObjectMeta, desired.ObjectMeta)
		if !ptr.Equal(existing.AutomountServiceAccountToken, desired.AutomountServiceAccountToken) {
			existing.AutomountServiceAccountToken = desired.AutomountServiceAccountToken
			changed = true
		}
		return changed
	})
	return 0, err
}
