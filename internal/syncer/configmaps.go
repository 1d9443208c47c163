package syncer

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// ConfigMaps go to the host only while some virtual pod uses them (vCluster's
// default): the host gets what its pods mount, not the tenant's whole configuration.

func (s *syncer) setupConfigMaps() *controller {
	c := newController(s.log, "configmaps", 1, s.reconcileConfigMap)
	s.handle(s.vf.Core().V1().ConfigMaps().Informer(), c.on(objectKey))
	s.handle(s.hf.Core().V1().ConfigMaps().Informer(), c.on(hostObjectKey))
	s.handle(s.vPods, c.on(podRefKeys(refConfigMap)))
	return c
}

// podRefKeys returns the "namespace/name" keys of the objects of kind a pod uses.
func podRefKeys(kind refKind) func(obj any) []string {
	return func(obj any) []string {
		pod, ok := obj.(*corev1.Pod)
		if !ok {
			return nil
		}
		var keys []string
		for _, name := range podRefs(pod, kind) {
			keys = append(keys, pod.Namespace+"/"+name)
		}
		return keys
	}
}

func (s *syncer) reconcileConfigMap(ctx context.Context, key string) (time.Duration, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return 0, nil
	}
	v, err := getOrNil(s.vf.Core().V1().ConfigMaps().Lister().ConfigMaps(ns).Get(name))
	if err != nil {
		return 0, err
	}
	h, err := getOrNil(s.hf.Core().V1().ConfigMaps().Lister().ConfigMaps(s.opts.HostNamespace).Get(s.t.name(name, ns)))
	if err != nil {
		return 0, err
	}
	// Another virtual object's copy under the same name is, for this one, not
	// there: it is not deleted, and writing over it fails (collisionError).
	h = s.configMaps.copyOf(h, key)
	if v == nil || v.DeletionTimestamp != nil || !s.usedByPods(indexConfigMaps, key) {
		if h != nil {
			return 0, s.configMaps.delete(ctx, h, metav1.DeleteOptions{})
		}
		return 0, nil
	}
	// Not marked immutable on the host even when it is inside: a virtual ConfigMap
	// deleted and made again under the same name must be able to update the copy.
	desired := &corev1.ConfigMap{ObjectMeta: s.t.hostMeta(v), Data: v.Data, BinaryData: v.BinaryData}
	_, err = s.configMaps.apply(ctx, h, desired, func(existing, desired *corev1.ConfigMap) bool {
		changed := mergeMeta(&existing.ObjectMeta, desired.ObjectMeta)
		if !equality.Semantic.DeepEqual(existing.Data, desired.Data) || !equality.Semantic.DeepEqual(existing.BinaryData, desired.BinaryData) {
			existing.Data, existing.BinaryData = desired.Data, desired.BinaryData
			changed = true
		}
		return changed
	})
	return 0, err
}
