package syncer

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

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
// is refused. The host's own rules (hostpolicy.go) are checked and reported
// the same way, with reason HostPolicy.

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

// podRefusal is why the host must not run a pod: its reason (ReasonPodSecurity
// or ReasonHostPolicy) and the words of the failed checks.
type podRefusal struct{ reason, why string }

// refusal checks a pod before its host copy hPod is written: Pod Security on
// the host copy, then the host's own rules (hostpolicy.go) on the virtual pod.
func (s *syncer) refusal(vPod, hPod *corev1.Pod) *podRefusal {
	if v := s.podSecurityViolation(hPod); v != nil {
		return &podRefusal{ReasonPodSecurity, v.Error()}
	}
	if r := podRefusals(vPod, s.opts.podSecurityLevel()); len(r) > 0 {
		return &podRefusal{ReasonHostPolicy, "asks the host for what a virtual cluster's pod may not have: " + strings.Join(r, "; ")}
	}
	return nil
}

// refusePod records that vPod will not run on the host: a Warning event and a
// Pending status with the refusal's reason.
func (s *syncer) refusePod(ctx context.Context, vPod *corev1.Pod, r podRefusal) error {
	msg := fmt.Sprintf("not created on the host: pod %s %s; %s", vPod.Name, r.why, s.howToChange())
	if err := s.podWarning(ctx, vPod, r.reason, "refused", msg); err != nil {
		return err
	}
	return s.holdPod(ctx, vPod, r.reason, msg)
}

// warnRunning records, once per pod, that a host pod runs which would be
// refused now.
func (s *syncer) warnRunning(ctx context.Context, vPod *corev1.Pod, r podRefusal) error {
	msg := fmt.Sprintf("runs on the host from before, but pod %s now %s: gantry no longer updates it, and a replacement "+
		"will not be created; delete it to apply the level; %s", vPod.Name, r.why, s.howToChange())
	return s.podWarning(ctx, vPod, r.reason, "running", msg)
}

// podWarning writes a Warning event about vPod. Its name is fixed per pod,
// reason and kind of message, so the same refusal, seen again at every
// reconcile, is one event.
func (s *syncer) podWarning(ctx context.Context, vPod *corev1.Pod, reason, kind, msg string) error {
	name := virtualEventName(vPod.Name, "x."+strings.ToLower(reason)+"-"+kind+"-"+string(vPod.UID))
	return s.recordWarning(ctx, vPod, "Pod", name, reason, msg)
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
