package syncer

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
)

// A container that waits for an image its node cannot pull gets one Warning
// on the virtual pod per image, naming the fix (gantry image load), however
// often the kubelet updates the status while it backs off.
func TestImagePullFailureNamesTheFix(t *testing.T) {
	e := env(t)
	ctx := context.Background()
	ns := newNamespace(t, e, "pull")
	const web, sidecar = "gantry.invalid/web:1", "gantry.invalid/sidecar:1"
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: corev1.PodSpec{Containers: []corev1.Container{
		{Name: "web", Image: web}, {Name: "sidecar", Image: sidecar}}}}
	if _, err := e.vKube.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	hostName := HostName("web", ns, testVCluster)
	hostPods := e.hostKube.CoreV1().Pods(testHostNS)
	eventually(t, 30*time.Second, "the host pod to run on a simulated node", func(ctx context.Context) (bool, error) {
		p, err := hostPods.Get(ctx, hostName, metav1.GetOptions{})
		return err == nil && p.Status.Phase == corev1.PodRunning, err
	})

	// The kubelet's statuses while it fails and backs off. The phase stays
	// Running (a restarted container whose image is gone), so that the
	// simulated node, which plays only Pending pods, leaves them alone.
	pulling := func(reason, msg string) corev1.ContainerState {
		return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}}
	}
	const lookup = `failed to pull and unpack image "gantry.invalid/web:1": failed to resolve reference "gantry.invalid/web:1": ` +
		`failed to do request: Head "https://gantry.invalid/v2/web/manifests/1": dial tcp: lookup gantry.invalid on 10.0.0.1:53: no such host`
	running := corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}
	steps := []struct{ web, sidecar corev1.ContainerState }{
		{pulling("ErrImagePull", lookup), running},
		{pulling("ImagePullBackOff", `Back-off pulling image "gantry.invalid/web:1": ErrImagePull: `+lookup), running},
		{pulling("ErrImagePull", strings.Replace(lookup, "10.0.0.1", "10.0.0.2", 1)),
			pulling("ErrImagePull", `failed to pull and unpack image "gantry.invalid/sidecar:1": not found`)},
		{pulling("ImagePullBackOff", `Back-off pulling image "gantry.invalid/web:1"`),
			pulling("ImagePullBackOff", `Back-off pulling image "gantry.invalid/sidecar:1"`)},
	}
	var node string
	for i, st := range steps {
		h, err := hostPods.Get(ctx, hostName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		node = h.Spec.NodeName
		h.Status.ContainerStatuses = []corev1.ContainerStatus{
			{Name: "web", Image: web, State: st.web}, {Name: "sidecar", Image: sidecar, State: st.sidecar}}
		setPodCondition(&h.Status, corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionFalse, Reason: "ContainersNotReady"})
		if _, err := hostPods.UpdateStatus(ctx, h, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, 30*time.Second, "the virtual pod to show step "+string(rune('1'+i)), func(ctx context.Context) (bool, error) {
			v, err := e.vKube.CoreV1().Pods(ns).Get(ctx, "web", metav1.GetOptions{})
			if err != nil || len(v.Status.ContainerStatuses) != 2 {
				return false, err
			}
			w := v.Status.ContainerStatuses[0].State.Waiting
			return w != nil && w.Message == st.web.Waiting.Message, nil
		})
	}

	list, err := e.vKube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: fields.Set{
		"involvedObject.name": "web", "reason": ReasonImageNotLoaded}.String()})
	if err != nil {
		t.Fatal(err)
	}
	perImage := map[string]int{}
	for _, ev := range list.Items {
		if ev.Type != corev1.EventTypeWarning || ev.InvolvedObject.Kind != "Pod" {
			t.Errorf("event %s: type %s about %s, want a Warning about the Pod", ev.Name, ev.Type, ev.InvolvedObject.Kind)
		}
		for _, img := range []string{web, sidecar} {
			if strings.Contains(ev.Message, `"`+img+`"`) {
				perImage[img]++
			}
		}
		for _, says := range []string{"gantry image load", "gantry image list", "registry reachable", "node " + node} {
			if !strings.Contains(ev.Message, says) {
				t.Errorf("warning %q does not say %q", ev.Message, says)
			}
		}
	}
	if len(list.Items) != 2 || perImage[web] != 1 || perImage[sidecar] != 1 {
		t.Errorf("%d %s warnings, per image %v; want exactly one for each of the two images", len(list.Items), ReasonImageNotLoaded, perImage)
	}
	for _, ev := range list.Items {
		if strings.Contains(ev.Message, web) && !strings.Contains(ev.Message, "(lookup gantry.invalid on 10.0.0.1:53: no such host)") {
			t.Errorf("warning %q does not give the kubelet's reason in short", ev.Message)
		}
	}
}

func TestShortPullError(t *testing.T) {
	for in, want := range map[string]string{
		"": "no reason given",
		`Container image "x:1" is not present with pull policy of Never`:                                                             `Container image "x:1" is not present with pull policy of Never`,
		`rpc error: code = NotFound desc = failed to pull and unpack image "x:1": failed to resolve reference "x:1": x:1: not found`: `x:1: not found`,
	} {
		if got := shortPullError(in); got != want {
			t.Errorf("shortPullError(%q) = %q, want %q", in, got, want)
		}
	}
}
