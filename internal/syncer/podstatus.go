package syncer

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// syncPodUp reports the host pod back into the virtual cluster: once the host has
// bound it, the virtual pod is bound to the virtual Node of the same name (made
// first); then the host pod's status becomes the virtual pod's.
func (s *syncer) syncPodUp(ctx context.Context, vPod, hPod *corev1.Pod) error {
	node := hPod.Spec.NodeName
	switch {
	case node == "":
		// Not scheduled yet: the status (Pending, maybe Unschedulable) still matters.
	case vPod.Spec.NodeName == "":
		// The Node must exist before the binding, or the virtual pod garbage
		// collector deletes the pod as orphaned.
		if err := s.ensureVirtualNode(ctx, node); err != nil {
			return err
		}
		err := s.virtual.CoreV1().Pods(vPod.Namespace).Bind(ctx, &corev1.Binding{
			ObjectMeta: metav1.ObjectMeta{Name: vPod.Name, Namespace: vPod.Namespace, UID: vPod.UID},
			Target:     corev1.ObjectReference{Kind: "Node", Name: node},
		}, metav1.CreateOptions{FieldManager: fieldManager})
		if err != nil {
			return fmt.Errorf("binding virtual pod %s/%s to node %s: %w", vPod.Namespace, vPod.Name, node, err)
		}
		// The binding changed the pod; its update event brings it back, with a
		// current resourceVersion, for the status.
		return nil
	case vPod.Spec.NodeName != node:
		// Bound inside to another node than the host chose: the two cannot agree any
		// more, so the virtual pod goes and its controller makes a new one (vCluster).
		s.log.Info("virtual and host pod are on different nodes; deleting the virtual pod",
			"pod", vPod.Namespace+"/"+vPod.Name, "virtualNode", vPod.Spec.NodeName, "hostNode", node)
		return s.deleteVirtualPod(ctx, vPod, nil)
	}
	return s.syncPodStatus(ctx, vPod, hPod)
}

// syncPodStatus writes the host pod's status to the virtual pod's status subresource.
// From it the virtual controller-manager computes everything else: ReplicaSet and
// Deployment availability, Endpoints and EndpointSlices.
func (s *syncer) syncPodStatus(ctx context.Context, vPod, hPod *corev1.Pod) error {
	want := virtualPodStatus(vPod, hPod)
	if equality.Semantic.DeepEqual(comparablePodStatus(vPod.Status), want) {
		return nil
	}
	// Before the status: once it is written, the failure is no longer new.
	if err := s.warnImagePulls(ctx, vPod, hPod); err != nil {
		return err
	}
	updated := vPod.DeepCopy()
	updated.Status = want
	if _, err := s.virtual.CoreV1().Pods(vPod.Namespace).UpdateStatus(ctx, updated, metav1.UpdateOptions{FieldManager: fieldManager}); err != nil {
		return fmt.Errorf("updating status of virtual pod %s/%s: %w", vPod.Namespace, vPod.Name, err)
	}
	return nil
}

// virtualPodStatus is the host pod's status (phase, conditions, IPs, host IP,
// container statuses, start time...) minus what describes the host object rather
// than the workload.
func virtualPodStatus(vPod, hPod *corev1.Pod) corev1.PodStatus {
	st := *hPod.Status.DeepCopy()
	// Immutable since Kubernetes 1.32, and the same spec gives the same class.
	st.QOSClass = vPod.Status.QOSClass
	// A host scheduler's preemption plan.
	st.NominatedNodeName = ""
	return comparablePodStatus(st)
}

// comparablePodStatus drops observed generations: they count the host pod's spec
// updates, not the virtual pod's.
func comparablePodStatus(st corev1.PodStatus) corev1.PodStatus {
	st.ObservedGeneration = 0
	if len(st.Conditions) > 0 {
		st.Conditions = append([]corev1.PodCondition(nil), st.Conditions...)
		for i := range st.Conditions {
			st.Conditions[i].ObservedGeneration = 0
		}
	}
	return st
}
