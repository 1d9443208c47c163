package syncer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// ReasonImageNotLoaded: a container of the pod waits for an image that its node
// does not have and could not pull. gantry's real node usually reaches no
// registry, so the Warning says how to give the node the image.
const ReasonImageNotLoaded = "ImageNotLoaded"

// pullFailures are the kubelet's waiting reasons of a container whose image is
// missing: the pull failed, is backing off, or is not allowed (pull policy Never).
var pullFailures = map[string]bool{"ErrImagePull": true, "ImagePullBackOff": true, "ErrImageNeverPull": true}

// warnImagePulls records, once per pod and image, a Warning about each image
// the host pod's containers wait for in vain. Only what is new since the
// virtual pod's status (which the caller is about to replace) is looked at, so
// a pod backing off for minutes costs no request per status update; the
// event's name, from the pod's UID and the image, keeps it one event across
// restarts of the syncer too.
func (s *syncer) warnImagePulls(ctx context.Context, vPod, hPod *corev1.Pod) error {
	seen := map[string]bool{}
	for _, cs := range allContainerStatuses(vPod.Status) {
		if w := cs.State.Waiting; w != nil && pullFailures[w.Reason] {
			seen[cs.Image] = true
		}
	}
	for _, cs := range allContainerStatuses(hPod.Status) {
		w := cs.State.Waiting
		if w == nil || !pullFailures[w.Reason] || seen[cs.Image] {
			continue
		}
		seen[cs.Image] = true
		sum := sha256.Sum256([]byte(string(vPod.UID) + "\x00" + cs.Image))
		name := virtualEventName(vPod.Name, "x.imagenotloaded-"+hex.EncodeToString(sum[:6]))
		msg := imageNotLoadedMessage(cs.Image, hPod.Spec.NodeName, w.Message)
		if err := s.recordWarning(ctx, vPod, "Pod", name, ReasonImageNotLoaded, msg); err != nil {
			return err
		}
	}
	return nil
}

func allContainerStatuses(st corev1.PodStatus) []corev1.ContainerStatus {
	out := append([]corev1.ContainerStatus(nil), st.InitContainerStatuses...)
	out = append(out, st.ContainerStatuses...)
	return append(out, st.EphemeralContainerStatuses...)
}

// imageNotLoadedMessage says what failed, in short, and the two fixes.
func imageNotLoadedMessage(image, node, kubelet string) string {
	where := "its node"
	if node != "" {
		where = "node " + node
	}
	return fmt.Sprintf("image %q is not on %s and could not be pulled (%s); fix: load it with `gantry image load <archive>` "+
		"(a `docker save` or OCI archive; `gantry image list` shows what the node has), or make its registry reachable from this machine",
		image, where, shortPullError(kubelet))
}

// shortPullError keeps the end of the kubelet's message, where the cause is:
// "failed to pull and unpack image ...: failed to resolve reference ...: ...:
// dial tcp: lookup gantry.invalid: no such host" becomes "lookup
// gantry.invalid: no such host".
func shortPullError(msg string) string {
	msg = strings.TrimSpace(msg)
	if msg == "" {
		return "no reason given"
	}
	parts := strings.Split(msg, ": ")
	if len(parts) > 2 {
		parts = parts[len(parts)-2:]
	}
	short := strings.Join(parts, ": ")
	if len(short) > 200 {
		short = "…" + short[len(short)-200:]
	}
	return short
}
