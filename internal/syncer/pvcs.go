package syncer

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// PersistentVolumeClaims are all copied: storage is provisioned and bound on the
// host (the virtual controller-manager runs no volume binder), and the host claim's
// status (phase, capacity, conditions) is reported back. A claim may not pick a
// host volume (volumeName and selector are left out) nor clone anything but a
// claim of its own namespace (hostpolicy.go). Storage classes are the tenant's
// choice, as in any namespace; a platform team limits them with the host
// namespace's quota (<class>.storageclass.storage.k8s.io/requests.storage).

func (s *syncer) setupPVCs() *controller {
	c := newController(s.log, "persistentvolumeclaims", 1, s.reconcilePVC)
	s.pvcs = newWriter[corev1.PersistentVolumeClaim]("PersistentVolumeClaim", s.host.CoreV1().PersistentVolumeClaims(s.opts.HostNamespace), s.opts.VCluster)
	s.handle(s.vf.Core().V1().PersistentVolumeClaims().Informer(), c.on(objectKey))
	s.handle(s.hf.Core().V1().PersistentVolumeClaims().Informer(), c.on(hostObjectKey))
	return c
}

func (s *syncer) reconcilePVC(ctx context.Context, key string) (time.Duration, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return 0, nil
	}
	v, err := getOrNil(s.vf.Core().V1().PersistentVolumeClaims().Lister().PersistentVolumeClaims(ns).Get(name))
	if err != nil {
		return 0, err
	}
	h, err := getOrNil(s.hf.Core().V1().PersistentVolumeClaims().Lister().PersistentVolumeClaims(s.opts.HostNamespace).Get(s.t.name(name, ns)))
	if err != nil {
		return 0, err
	}
	// Another virtual object's copy under the same name is, for this one, not
	// there: it is not deleted, and writing over it fails (collisionError).
	h = s.pvcs.copyOf(h, key)
	if v == nil || v.DeletionTimestamp != nil {
		// A claim being deleted inside waits there for its pods (pvc-protection); the
		// host copy does the same on the host.
		if h != nil && h.DeletionTimestamp == nil {
			return 0, s.pvcs.delete(ctx, h, metav1.DeleteOptions{})
		}
		return 0, nil
	}
	if why := claimSourceRefusal(&v.Spec, ns); why != "" {
		// Refused: a copy made before stays (its data source cannot change anyway).
		msg := fmt.Sprintf("not created on the host: claim %s: %s", name, why)
		return 0, s.warn(ctx, v, "PersistentVolumeClaim", ReasonHostPolicy, msg)
	}
	desired, left := s.t.hostPVC(v)
	live, err := s.pvcs.apply(ctx, h, desired, mergePVC)
	if err != nil {
		return 0, err
	}
	if len(left) > 0 {
		msg := fmt.Sprintf("the host copy of claim %s leaves out %s", name, strings.Join(left, ", "))
		if err := s.warn(ctx, v, "PersistentVolumeClaim", ReasonHostPolicy, msg); err != nil {
			return 0, err
		}
	}
	if !equality.Semantic.DeepEqual(v.Status, live.Status) {
		updated := v.DeepCopy()
		updated.Status = live.Status
		if _, err := s.virtual.CoreV1().PersistentVolumeClaims(ns).UpdateStatus(ctx, updated, metav1.UpdateOptions{FieldManager: fieldManager}); err != nil {
			return 0, fmt.Errorf("updating status of virtual claim %s: %w", key, err)
		}
	}
	return 0, nil
}

// hostPVC is the host copy of virtual claim v (hostClaimSpec), and what it
// leaves out. Its data sources must have passed claimSourceRefusal.
func (t translator) hostPVC(v *corev1.PersistentVolumeClaim) (*corev1.PersistentVolumeClaim, []string) {
	h := &corev1.PersistentVolumeClaim{ObjectMeta: t.hostMeta(v)}
	spec := v.Spec.DeepCopy()
	left := t.hostClaimSpec(spec, v.Annotations, v.Namespace)
	h.Spec = *spec
	return h, left
}

// mergePVC brings a live host claim to desired as far as a claim can change: labels,
// annotations, the requested size (expansion) and the volume attributes class.
func mergePVC(existing, desired *corev1.PersistentVolumeClaim) bool {
	changed := mergeMeta(&existing.ObjectMeta, desired.ObjectMeta)
	if !equality.Semantic.DeepEqual(existing.Spec.Resources.Requests, desired.Spec.Resources.Requests) {
		existing.Spec.Resources.Requests = desired.Spec.Resources.Requests
		changed = true
	}
	if desired.Spec.VolumeAttributesClassName != nil && !equality.Semantic.DeepEqual(existing.Spec.VolumeAttributesClassName, desired.Spec.VolumeAttributesClassName) {
		existing.Spec.VolumeAttributesClassName = desired.Spec.VolumeAttributesClassName
		changed = true
	}
	return changed
}
