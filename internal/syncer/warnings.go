package syncer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Reasons of the Warning events (and held pods' statuses) in which the syncer
// tells a tenant what it did not do on the host, besides ReasonPodSecurity.
const (
	// ReasonHostPolicy: the syncer refused an object or left part of it out,
	// because on the host it would reach beyond the virtual cluster (hostpolicy.go).
	ReasonHostPolicy = "HostPolicy"
	// ReasonNameCollision: the object's host name is already another virtual
	// object's copy (collisionError).
	ReasonNameCollision = "NameCollision"
)

// warn records a Warning event about virtual object obj (of kind kind). Its
// name is derived from the object, the reason and the message, so the same
// warning, seen again at every reconcile, is one event.
func (s *syncer) warn(ctx context.Context, obj metav1.Object, kind, reason, msg string) error {
	sum := sha256.Sum256([]byte(string(obj.GetUID()) + "\x00" + msg))
	name := virtualEventName(obj.GetName(), "x."+strings.ToLower(reason)+"-"+hex.EncodeToString(sum[:6]))
	return s.recordWarning(ctx, obj, kind, name, reason, msg)
}

// recordWarning creates the Warning event name about obj unless it exists.
func (s *syncer) recordWarning(ctx context.Context, obj metav1.Object, kind, name, reason, msg string) error {
	now := metav1.Now()
	ev := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{Namespace: obj.GetNamespace(), Name: name},
		InvolvedObject: corev1.ObjectReference{Kind: kind, APIVersion: "v1", Namespace: obj.GetNamespace(), Name: obj.GetName(),
			UID: obj.GetUID(), ResourceVersion: obj.GetResourceVersion()},
		Reason: reason, Message: msg, Type: corev1.EventTypeWarning,
		Source:         corev1.EventSource{Component: ManagedBySyncer},
		FirstTimestamp: now, LastTimestamp: now, Count: 1,
	}
	_, err := s.virtual.CoreV1().Events(obj.GetNamespace()).Create(ctx, ev, metav1.CreateOptions{FieldManager: fieldManager})
	if err == nil || isAlreadyExists(err) || apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
		return nil
	}
	return fmt.Errorf("recording a %s warning about virtual %s %s/%s: %w", reason, kind, obj.GetNamespace(), obj.GetName(), err)
}

// holdPod marks vPod, which is not on the host, Pending with reason and
// message, and unschedulable for that reason.
func (s *syncer) holdPod(ctx context.Context, vPod *corev1.Pod, reason, msg string) error {
	want := vPod.Status.DeepCopy()
	want.Phase = corev1.PodPending
	want.Reason, want.Message = reason, msg
	setPodCondition(want, corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
		Reason: reason, Message: msg})
	if equality.Semantic.DeepEqual(comparablePodStatus(vPod.Status), comparablePodStatus(*want)) {
		return nil
	}
	updated := vPod.DeepCopy()
	updated.Status = *want
	if _, err := s.virtual.CoreV1().Pods(vPod.Namespace).UpdateStatus(ctx, updated, metav1.UpdateOptions{FieldManager: fieldManager}); err != nil {
		return ignoreNotFound(err)
	}
	return nil
}

// setPodCondition replaces or adds c, keeping the transition time of an
// unchanged status.
func setPodCondition(st *corev1.PodStatus, c corev1.PodCondition) {
	for i := range st.Conditions {
		if st.Conditions[i].Type == c.Type {
			if st.Conditions[i].Status == c.Status {
				c.LastTransitionTime = st.Conditions[i].LastTransitionTime
			} else {
				c.LastTransitionTime = metav1.Now()
			}
			st.Conditions[i] = c
			return
		}
	}
	c.LastTransitionTime = metav1.Now()
	st.Conditions = append(st.Conditions, c)
}
