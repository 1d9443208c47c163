package syncer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
)

// Indexes on the virtual pod cache: which pods use a ConfigMap, Secret or
// ServiceAccount ("namespace/name"), and which pods run on a node. The host pod
// cache has the node index too.
const (
	indexConfigMaps      = "configmaps"
	indexSecrets         = "secrets"
	indexServiceAccounts = "serviceaccounts"
	indexNode            = "node"
)

func podIndexers() cache.Indexers {
	refs := func(kind refKind) cache.IndexFunc {
		return func(obj any) ([]string, error) {
			pod, ok := obj.(*corev1.Pod)
			if !ok {
				return nil, nil
			}
			var keys []string
			for _, name := range podRefs(pod, kind) {
				keys = append(keys, pod.Namespace+"/"+name)
			}
			return keys, nil
		}
	}
	return cache.Indexers{
		indexConfigMaps: refs(refConfigMap),
		indexSecrets:    refs(refSecret),
		indexServiceAccounts: func(obj any) ([]string, error) {
			if pod, ok := obj.(*corev1.Pod); ok {
				return []string{pod.Namespace + "/" + serviceAccountOf(pod)}, nil
			}
			return nil, nil
		},
		indexNode: nodeIndex,
	}
}

func nodeIndex(obj any) ([]string, error) {
	if pod, ok := obj.(*corev1.Pod); ok && pod.Spec.NodeName != "" {
		return []string{pod.Spec.NodeName}, nil
	}
	return nil, nil
}

func (s *syncer) setupPods() *controller {
	c := newController(s.log, "pods", 2, s.reconcilePod)
	s.handle(s.vPods, c.on(objectKey))
	s.handle(s.hPods, c.on(hostObjectKey))
	// A token Secret deleted behind the syncer's back is made again.
	s.handle(s.hf.Core().V1().Secrets().Informer(), c.on(func(obj any) []string {
		if sec, ok := obj.(*corev1.Secret); ok && sec.Annotations[AnnotationPodToken] == "true" {
			return hostObjectKey(obj)
		}
		return nil
	}))
	return c
}

// reconcilePod handles one virtual pod, whichever side changed: it is the one place
// that decides between creating, updating and deleting on either side.
func (s *syncer) reconcilePod(ctx context.Context, key string) (time.Duration, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return 0, nil
	}
	vPod, err := getOrNil(s.vPodLister.Pods(ns).Get(name))
	if err != nil {
		return 0, err
	}
	hName := s.t.name(name, ns)
	hPod, err := getOrNil(s.hPodLister.Pods(s.opts.HostNamespace).Get(hName))
	if err != nil {
		return 0, err
	}
	if err := s.pods.checkOrigin(hPod, key); err != nil && vPod != nil && vPod.DeletionTimestamp == nil {
		// Another virtual pod's copy holds the host name: it is neither replaced nor deleted.
		if herr := s.holdColliding(ctx, vPod, err); herr != nil {
			return 0, herr
		}
		return 0, err
	}
	hPod = s.pods.copyOf(hPod, key)

	switch {
	case vPod == nil:
		// The virtual pod is gone: its host copy and token go too.
		if hPod != nil {
			return 0, s.deleteHostPod(ctx, hPod, nil)
		}
		return 0, s.deleteTokenSecret(ctx, key, hName)

	case hPod != nil && hPod.Annotations[AnnotationUID] != string(vPod.UID):
		// A host pod left by an earlier virtual pod of the same name (a StatefulSet
		// replica being replaced); its deletion event brings the new one here again.
		return 0, s.deleteHostPod(ctx, hPod, nil)

	case vPod.DeletionTimestamp != nil:
		if hPod != nil {
			return 0, s.deleteHostPod(ctx, hPod, vPod.DeletionGracePeriodSeconds)
		}
		// No kubelet inside the virtual cluster confirms the deletion of a bound pod:
		// the host pod being gone is the confirmation.
		if err := s.deleteVirtualPod(ctx, vPod, ptr.To[int64](0)); err != nil {
			return 0, err
		}
		return 0, s.deleteTokenSecret(ctx, key, hName)

	case hPod == nil:
		if vPod.Status.StartTime != nil {
			// It ran on the host and its host pod is gone, deleted behind the syncer's
			// back. As vCluster does, the virtual pod goes too and its controller
			// makes a new one; re-creating this one would revive a stale node and IP.
			s.log.Info("host pod disappeared; deleting the virtual pod", "pod", key)
			return 0, s.deleteVirtualPod(ctx, vPod, ptr.To[int64](0))
		}
		return s.createHostPod(ctx, vPod)

	case hPod.DeletionTimestamp != nil:
		// The host is deleting the pod (eviction, drain, an admin): the virtual pod
		// follows with the same grace period, its status showing the termination.
		if err := s.syncPodStatus(ctx, vPod, hPod); err != nil {
			return 0, err
		}
		return 0, s.deleteVirtualPod(ctx, vPod, hPod.DeletionGracePeriodSeconds)
	}

	renew, err := s.ensureTokenSecret(ctx, vPod, tokenSecretName(hName))
	if err != nil {
		return 0, err
	}
	desired := s.t.hostPod(vPod, s.podOptions(hName))
	if r := s.refusal(vPod, desired); r != nil {
		// Running from before the level (or a host rule) was tightened: left
		// running, not updated.
		if err := s.warnRunning(ctx, vPod, *r); err != nil {
			return 0, err
		}
	} else if _, err := s.pods.apply(ctx, hPod, desired, mergePod); err != nil {
		return 0, err
	}
	return renew, s.syncPodUp(ctx, vPod, hPod)
}

func (s *syncer) podOptions(hostName string) podOptions {
	return podOptions{syncServiceAccounts: s.opts.syncs(KindServiceAccounts), tokenSecret: tokenSecretName(hostName)}
}

// createHostPod creates the host copy of vPod after what it needs: the ConfigMaps,
// Secrets and ServiceAccount it uses and its token. A pod whose dependency is blocked
// by a foreign host object is not created, so it cannot mount someone else's data.
func (s *syncer) createHostPod(ctx context.Context, vPod *corev1.Pod) (time.Duration, error) {
	hName := s.t.name(vPod.Name, vPod.Namespace)
	// Checked before anything is written for it: a refused pod leaves nothing on the host.
	desired := s.t.hostPod(vPod, s.podOptions(hName))
	if r := s.refusal(vPod, desired); r != nil {
		s.log.Info("pod refused; not creating it on the host", "pod", vPod.Namespace+"/"+vPod.Name, "reason", r.reason, "violation", r.why)
		return 0, s.refusePod(ctx, vPod, *r)
	}
	if left := s.t.podNotes(vPod); len(left) > 0 {
		msg := fmt.Sprintf("pod %s runs on the host without %s: tenants' pods may tolerate only node-condition taints "+
			"and those a gantry administrator allows, and the host binds claims itself", vPod.Name, strings.Join(left, ", "))
		if err := s.warn(ctx, vPod, "Pod", ReasonHostPolicy, msg); err != nil {
			return 0, err
		}
	}
	deps := []struct {
		kind      string
		names     []string
		reconcile reconcileFunc
	}{
		{KindConfigMaps, podRefs(vPod, refConfigMap), s.reconcileConfigMap},
		{KindSecrets, podRefs(vPod, refSecret), s.reconcileSecret},
		{KindServiceAccounts, []string{serviceAccountOf(vPod)}, s.reconcileServiceAccount},
	}
	for _, d := range deps {
		if !s.opts.syncs(d.kind) {
			continue
		}
		for _, name := range d.names {
			if _, err := d.reconcile(ctx, vPod.Namespace+"/"+name); err != nil {
				err = fmt.Errorf("pod %s/%s needs %s %s: %w", vPod.Namespace, vPod.Name, d.kind, name, err)
				return 0, errors.Join(s.holdColliding(ctx, vPod, err), err)
			}
		}
	}
	renew, err := s.ensureTokenSecret(ctx, vPod, tokenSecretName(hName))
	if err != nil {
		return 0, errors.Join(s.holdColliding(ctx, vPod, err), err)
	}
	// Logged as an attempt: with the host cache behind, this may find the pod made
	// a moment ago, which apply then adopts.
	s.log.V(1).Info("creating host pod", "pod", vPod.Namespace+"/"+vPod.Name, "hostPod", hName)
	if _, err := s.pods.apply(ctx, nil, desired, mergePod); err != nil {
		if why := hostPodSecurityRefusal(err); why != "" {
			return 0, s.refusePod(ctx, vPod, podRefusal{ReasonPodSecurity, why})
		}
		return 0, errors.Join(s.holdColliding(ctx, vPod, err), err)
	}
	return renew, nil
}

// holdColliding holds vPod back with a NameCollision warning when err is a
// collisionError: its host name, or the host name of something it uses, is
// another virtual object's copy. Other errors are left to the caller.
func (s *syncer) holdColliding(ctx context.Context, vPod *corev1.Pod, err error) error {
	var c *collisionError
	if !errors.As(err, &c) {
		return nil
	}
	msg := "not created on the host: " + err.Error()
	if werr := s.warn(ctx, vPod, "Pod", ReasonNameCollision, msg); werr != nil {
		return werr
	}
	return s.holdPod(ctx, vPod, ReasonNameCollision, msg)
}

// mergePod brings a live host pod to desired as far as a pod can change: labels,
// annotations, container images and the active deadline (vCluster syncs the same).
func mergePod(existing, desired *corev1.Pod) bool {
	changed := mergeMeta(&existing.ObjectMeta, desired.ObjectMeta)
	images := func(have, want []corev1.Container) {
		for i := range have {
			if i < len(want) && have[i].Image != want[i].Image {
				have[i].Image = want[i].Image
				changed = true
			}
		}
	}
	images(existing.Spec.Containers, desired.Spec.Containers)
	images(existing.Spec.InitContainers, desired.Spec.InitContainers)
	if desired.Spec.ActiveDeadlineSeconds != nil && !ptr.Equal(existing.Spec.ActiveDeadlineSeconds, desired.Spec.ActiveDeadlineSeconds) {
		existing.Spec.ActiveDeadlineSeconds = desired.Spec.ActiveDeadlineSeconds
		changed = true
	}
	return changed
}

// deleteHostPod deletes a host pod unless it is already terminating.
func (s *syncer) deleteHostPod(ctx context.Context, hPod *corev1.Pod, grace *int64) error {
	if hPod.DeletionTimestamp != nil {
		return nil
	}
	return s.pods.delete(ctx, hPod, metav1.DeleteOptions{GracePeriodSeconds: grace})
}

// deleteVirtualPod deletes a virtual pod; a graceful deletion is sent once.
func (s *syncer) deleteVirtualPod(ctx context.Context, vPod *corev1.Pod, grace *int64) error {
	force := grace != nil && *grace == 0
	if vPod.DeletionTimestamp != nil && !force {
		return nil
	}
	uid := vPod.UID
	err := s.virtual.CoreV1().Pods(vPod.Namespace).Delete(ctx, vPod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: grace, Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("deleting virtual pod %s/%s: %w", vPod.Namespace, vPod.Name, err)
	}
	return nil
}
