package syncer

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"gantry.dev/gantry/internal/podsecurity"
)

// Pod Security, in depth: the virtual cluster's own admission enforces its level
// already, but a tenant with cluster-admin inside can label a namespace
// privileged there. So every host pod is checked against the level again,
// after translation and before it is written: a pod that fails is never
// created on the host, its virtual pod stays Pending with reason PodSecurity,
// and a Warning event on it says which checks failed and who can change the
// level. A host pod that runs already (made under a looser level before an
// administrator tightened it) keeps running, as pods do in Kubernetes when a
// namespace's level is tightened, but is no longer updated; its replacement
// is refused.

// ReasonPodSecurity is the reason of the virtual pod's status and events when
// its pod is held back from the host.
const ReasonPodSecurity = "PodSecurity"

// podSecurityLevel is the level the syncer enforces: Options.PodSecurity, or
// podsecurity.Default when unset (never nothing).
func (o Options) podSecurityLevel() podsecurity.Level {
	if o.PodSecurity == "" {
		return podsecurity.Default
	}
	return o.PodSecurity
}

// podSecurityViolation checks the host copy of a pod against the level.
func (s *syncer) podSecurityViolation(hPod *corev1.Pod) *podsecurity.Violation {
	return s.checker.Check(s.opts.podSecurityLevel(), hPod)
}

// howToChange tells the tenant where the level comes from and who changes it.
func (s *syncer) howToChange() string {
	return fmt.Sprintf("virtual cluster %s/%s enforces Pod Security level %q (spec.podSecurity of the VirtualCluster, "+
		"else of its Project, else baseline); only a gantry administrator can loosen it", s.opts.Namespace, s.opts.VCluster, s.opts.podSecurityLevel())
}

// refusePod records that vPod will not run on the host: a Warning event and a
// Pending status with reason PodSecurity. why is the violation as the syncer or
// the host's own admission worded it.
func (s *syncer) refusePod(ctx context.Context, vPod *corev1.Pod, why string) error {
	msg := fmt.Sprintf("not created on the host: pod %s %s; %s", vPod.Name, why, s.howToChange())
	if err := s.podSecurityEvent(ctx, vPod, "refused", msg); err != nil {
		return err
	}
	want := vPod.Status.DeepCopy()
	want.Phase = corev1.PodPending
	want.Reason, want.Message = ReasonPodSecurity, msg
	setPodCondition(want, corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
		Reason: ReasonPodSecurity, Message: msg})
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

// warnRunning records, once per pod, that a host pod runs which its level would
// refuse now.
func (s *syncer) warnRunning(ctx context.Context, vPod *corev1.Pod, v *podsecurity.Violation) error {
	msg := fmt.Sprintf("runs on the host from before, but pod %s now %v: gantry no longer updates it, and a replacement "+
		"will not be created; delete it to apply the level; %s", vPod.Name, v, s.howToChange())
	return s.podSecurityEvent(ctx, vPod, "running", msg)
}

// podSecurityEvent writes a Warning event about vPod. Its name is fixed per
// pod and kind of message, so the same refusal, seen again at every
// reconcile, is one event.
func (s *syncer) podSecurityEvent(ctx context.Context, vPod *corev1.Pod, kind, msg string) error {
	now := metav1.Now()
	ev := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{Namespace: vPod.Namespace,
			Name: virtualEventName(vPod.Name, "x.podsecurity-"+kind+"-"+string(vPod.UID))},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: vPod.Namespace, Name: vPod.Name,
			UID: vPod.UID, ResourceVersion: vPod.ResourceVersion},
		Reason: ReasonPodSecurity, Message: msg, Type: corev1.EventTypeWarning,
		Source:         corev1.EventSource{Component: ManagedBySyncer},
		FirstTimestamp: now, LastTimestamp: now, Count: 1,
	}
	_, err := s.virtual.CoreV1().Events(vPod.Namespace).Create(ctx, ev, metav1.CreateOptions{FieldManager: fieldManager})
	if err == nil || isAlreadyExists(err) || apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
		return nil
	}
	return fmt.Errorf("recording why virtual pod %s/%s does not run: %w", vPod.Namespace, vPod.Name, err)
}

// hostPodSecurityRefusal returns the host's own Pod Security admission's
// words when it refused a pod, or "": the host namespace's level may be
// stricter than the syncer's (set by the host's administrator).
func hostPodSecurityRefusal(err error) string {
	if !apierrors.IsForbidden(err) {
		return ""
	}
	msg := err.Error()
	i := strings.Index(msg, "violates PodSecurity")
	if i < 0 {
		return ""
	}
	return msg[i:] + " (refused by the host cluster)"
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
