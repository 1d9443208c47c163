package health

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// ignoreRestartPolicy on a Pod asks for it to be judged like a long-running Pod
// even though its restartPolicy is Never or OnFailure (a Pod run by an operator
// rather than a hook). Argo CD's annotation, honoured as Argo CD does.
const ignoreRestartPolicy = "argocd.argoproj.io/ignore-restart-policy"

// imagePullFailures are the kubelet's reasons for a container whose image its
// node lacks; gantry's real node usually reaches no registry, so the message
// says how to give it the image (Argo CD shows the kubelet's message alone).
var imagePullFailures = map[string]bool{"ErrImagePull": true, "ImagePullBackOff": true, "ErrImageNeverPull": true}

const imagePullHint = "; fix: load the image with `gantry image load <archive>` (`gantry image list` shows what the node has) or make its registry reachable"

func podHealth(obj *unstructured.Unstructured) (*Status, error) {
	pod, err := typed[corev1.Pod](obj)
	if err != nil {
		return nil, err
	}
	// A crash-looping or image-pulling container makes a long-running Pod Degraded
	// at once. Not for Never/OnFailure Pods: those are usually hooks, and failing a
	// hook on a transient ImagePullBackOff would end the sync early.
	if pod.Spec.RestartPolicy == corev1.RestartPolicyAlways {
		var msgs []string
		pull := false
		for _, cs := range pod.Status.ContainerStatuses {
			w := cs.State.Waiting
			if w != nil && (strings.HasPrefix(w.Reason, "Err") || strings.HasSuffix(w.Reason, "Error") || strings.HasSuffix(w.Reason, "BackOff")) {
				msgs = append(msgs, w.Message)
				pull = pull || imagePullFailures[w.Reason]
			}
		}
		if msgs != nil {
			msg := strings.Join(msgs, ", ")
			if pull {
				msg += imagePullHint
			}
			return &Status{Status: Degraded, Message: msg}, nil
		}
	}

	msg := pod.Status.Message
	switch pod.Status.Phase {
	case corev1.PodPending:
		return &Status{Status: Progressing, Message: msg}, nil
	case corev1.PodSucceeded:
		return &Status{Status: Healthy, Message: msg}, nil
	case corev1.PodFailed:
		if msg != "" {
			return &Status{Status: Degraded, Message: msg}, nil
		}
		for _, cs := range append(pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses...) {
			if m := failMessage(cs); m != "" {
				return &Status{Status: Degraded, Message: m}, nil
			}
		}
		return &Status{Status: Degraded}, nil
	case corev1.PodRunning:
		_, ignore := pod.Annotations[ignoreRestartPolicy]
		switch {
		case ignore || pod.Spec.RestartPolicy == corev1.RestartPolicyAlways:
			if podReady(pod) {
				return &Status{Status: Healthy, Message: msg}, nil
			}
			// Not ready after a container already died once: it is failing, not starting.
			for _, cs := range pod.Status.ContainerStatuses {
				if cs.LastTerminationState.Terminated != nil {
					return &Status{Status: Degraded, Message: msg}, nil
				}
			}
			return &Status{Status: Progressing, Message: msg}, nil
		case pod.Spec.RestartPolicy == corev1.RestartPolicyOnFailure || pod.Spec.RestartPolicy == corev1.RestartPolicyNever:
			// A finite Pod (typically a hook) is not done while it runs.
			return &Status{Status: Progressing, Message: msg}, nil
		}
	}
	return &Status{Status: Unknown, Message: msg}, nil
}

func failMessage(cs corev1.ContainerStatus) string {
	t := cs.State.Terminated
	switch {
	case t == nil:
		return ""
	case t.Message != "":
		return t.Message
	case t.Reason == "OOMKilled":
		return t.Reason
	case t.ExitCode != 0:
		return fmt.Sprintf("container %q failed with exit code %d", cs.Name, t.ExitCode)
	}
	return ""
}

// podReady is kubectl's podutils.IsPodReady, which is not worth the kubectl module.
func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
