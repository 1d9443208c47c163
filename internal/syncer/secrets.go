package syncer

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// Secrets, like ConfigMaps, go to the host only while a virtual pod uses them
// (volumes, environment, image pull secrets).

func (s *syncer) setupSecrets() *controller {
	c := newController(s.log, "secrets", 1, s.reconcileSecret)
	s.handle(s.vf.Core().V1().Secrets().Informer(), c.on(objectKey))
	s.handle(s.hf.Core().V1().Secrets().Informer(), c.on(func(obj any) []string {
		if sec, ok := obj.(*corev1.Secret); ok && sec.Annotations[AnnotationPodToken] == "true" {
			return nil // a pod's token: pods.go keeps those
		}
		return hostObjectKey(obj)
	}))
	s.handle(s.vPods, c.on(podRefKeys(refSecret)))
	return c
}

func (s *syncer) reconcileSecret(ctx context.Context, key string) (time.Duration, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return 0, nil
	}
	v, err := getOrNil(s.vf.Core().V1().Secrets().Lister().Secrets(ns).Get(name))
	if err != nil {
		return 0, err
	}
	h, err := getOrNil(s.hSecretLister.Secrets(s.opts.HostNamespace).Get(s.t.name(name, ns)))
	if err != nil {
		return 0, err
	}
	if h != nil && h.Annotations[AnnotationPodToken] == "true" {
		// Only a contrived name collides with a pod's token Secret; never overwrite it.
		return 0, s.secrets.foreign(h)
	}
	// Another virtual object's copy under the same name is, for this one, not
	// there: it is not deleted, and writing over it fails (collisionError).
	h = s.secrets.copyOf(h, key)
	if v == nil || v.DeletionTimestamp != nil || !s.usedByPods(indexSecrets, key) {
		if h != nil {
			return 0, s.secrets.delete(ctx, h, metav1.DeleteOptions{})
		}
		return 0, nil
	}
	desired := &corev1.Secret{ObjectMeta: s.t.hostMeta(v), Type: hostSecretType(v.Type), Data: v.Data}
	if h != nil && h.Type != desired.Type {
		// The type of a Secret cannot change; its deletion event brings it back here.
		return 0, s.secrets.delete(ctx, h, metav1.DeleteOptions{})
	}
	_, err = s.secrets.apply(ctx, h, desired, func(existing, desired *corev1.Secret) bool {
		changed := mergeMeta(&existing.ObjectMeta, desired.ObjectMeta)
		if !equality.Semantic.DeepEqual(existing.Data, desired.Data) {
			existing.Data = desired.Data
			changed = true
		}
		return changed
	})
	return 0, err
}

// hostSecretType is the type of a Secret's host copy. A service-account token
// Secret becomes Opaque: as such, the host's token controller would fill or delete it
// for a host service account; the tenant's token is plain data there.
func hostSecretType(t corev1.SecretType) corev1.SecretType {
	if t == corev1.SecretTypeServiceAccountToken {
		return corev1.SecretTypeOpaque
	}
	return t
}
