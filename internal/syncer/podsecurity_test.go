package syncer

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/podsecurity"
)

// restrictedContainer meets the restricted standard.
func restrictedContainer(c *corev1.Container) {
	c.SecurityContext = &corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(false), RunAsNonRoot: ptr.To(true),
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		Capabilities:   &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}}
}

// The syncer checks the host copy, after translation: what the host would
// run. An admitted pod (with its projected service-account token, which the
// translation turns into a Secret projection) keeps its level, and nothing a
// tenant writes gets past the level by being translated.
func TestHostPodCheckedAfterTranslation(t *testing.T) {
	checker, err := podsecurity.NewChecker()
	if err != nil {
		t.Fatal(err)
	}
	const (
		privileged = platformv1alpha1.PodSecurityPrivileged
		baseline   = platformv1alpha1.PodSecurityBaseline
		restricted = platformv1alpha1.PodSecurityRestricted
	)
	hostPathRoot := corev1.Volume{Name: "root", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}}
	for _, c := range []struct {
		name    string
		modify  func(*corev1.Pod)
		level   podsecurity.Level
		refused string // what the refusal names; "" when allowed
	}{
		{"privileged container, baseline", func(p *corev1.Pod) {
			p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: ptr.To(true)}
		}, baseline, `privileged (container "web" must not set securityContext.privileged=true)`},
		{"hostPID, baseline", func(p *corev1.Pod) { p.Spec.HostPID = true }, baseline, "host namespaces (hostPID=true)"},
		{"hostNetwork, baseline", func(p *corev1.Pod) { p.Spec.HostNetwork = true }, baseline, "host namespaces (hostNetwork=true)"},
		{"hostPath /, baseline", func(p *corev1.Pod) { p.Spec.Volumes = append(p.Spec.Volumes, hostPathRoot) }, baseline, `hostPath volumes (volume "root")`},
		{"SYS_ADMIN, baseline", func(p *corev1.Pod) {
			p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"SYS_ADMIN"}}}
		}, baseline, `non-default capabilities (container "web" must not include "SYS_ADMIN"`},
		{"privileged everything, privileged", func(p *corev1.Pod) {
			p.Spec.HostPID, p.Spec.HostNetwork = true, true
			p.Spec.Volumes = append(p.Spec.Volumes, hostPathRoot)
			p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: ptr.To(true)}
		}, privileged, ""},
		{"plain admitted pod, baseline", nil, baseline, ""},
		{"plain admitted pod, restricted", nil, restricted, "allowPrivilegeEscalation != false"},
		{"restricted pod with its token, restricted", func(p *corev1.Pod) {
			for i := range p.Spec.Containers {
				restrictedContainer(&p.Spec.Containers[i])
			}
			for i := range p.Spec.InitContainers {
				restrictedContainer(&p.Spec.InitContainers[i])
			}
		}, restricted, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := admittedPod()
			if c.modify != nil {
				c.modify(v)
			}
			h := testTranslator.hostPod(v, podOptions{tokenSecret: "t"})
			got := checker.Check(c.level, h)
			switch {
			case c.refused == "" && got != nil:
				t.Errorf("refused: %v", got)
			case c.refused != "" && got == nil:
				t.Errorf("allowed; want refused for %s", c.refused)
			case c.refused != "" && !strings.Contains(got.Error(), c.refused):
				t.Errorf("refusal %q does not name %q", got, c.refused)
			}
		})
	}
}

// rootPod is the pod of the issue: everything that makes it root on the node.
func rootPod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{
			HostPID: true, HostNetwork: true,
			Volumes: []corev1.Volume{{Name: "root", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}}},
			Containers: []corev1.Container{{Name: "sh", Image: "busybox", SecurityContext: &corev1.SecurityContext{Privileged: ptr.To(true)},
				VolumeMounts: []corev1.VolumeMount{{Name: "root", MountPath: "/host"}}}},
		},
	}
}

// podSecurityEvent returns the message of the syncer's PodSecurity event about a virtual pod, or "".
func podSecurityEvent(ctx context.Context, e *testEnv, ns, pod string) (string, error) {
	l, err := e.vKube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + pod})
	if err != nil {
		return "", err
	}
	for _, ev := range l.Items {
		if ev.Reason == ReasonPodSecurity && ev.Type == corev1.EventTypeWarning {
			return ev.Message, nil
		}
	}
	return "", nil
}

// hostPodExists reports whether the virtual pod ns/name has a host copy.
func hostPodExists(ctx context.Context, e *testEnv, ns, name string) (bool, error) {
	_, err := e.hostKube.CoreV1().Pods(testHostNS).Get(ctx, HostName(name, ns, testVCluster), metav1.GetOptions{})
	if isNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

// The test environment's virtual cluster runs no Pod Security admission of its
// own (as if a tenant had labelled its namespaces privileged): the syncer alone
// keeps the pods from the host, at its default level, baseline.
func TestPodSecurityHoldsPodsBack(t *testing.T) {
	e := env(t)
	ctx := context.Background()
	ns := newNamespace(t, e, "psa")
	eventually(t, 30*time.Second, "the default ServiceAccount of "+ns, func(ctx context.Context) (bool, error) {
		_, err := e.vKube.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
	if _, err := e.vKube.CoreV1().Pods(ns).Create(ctx, rootPod("root"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	d := deployment("mount", 2, "")
	d.Spec.Template.Spec.Volumes = []corev1.Volume{{Name: "root", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}}}
	if _, err := e.vKube.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ok := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "ok"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx"}}}}
	if _, err := e.vKube.CoreV1().Pods(ns).Create(ctx, ok, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	eventually(t, 60*time.Second, "the compliant pod to run", func(ctx context.Context) (bool, error) {
		p, err := e.vKube.CoreV1().Pods(ns).Get(ctx, "ok", metav1.GetOptions{})
		return err == nil && p.Status.Phase == corev1.PodRunning, err
	})
	eventually(t, 30*time.Second, "PodSecurity events on root and on both pods of mount", func(ctx context.Context) (bool, error) {
		pods, err := e.vKube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		refused := 0
		for _, p := range pods.Items {
			if p.Name == "ok" {
				continue
			}
			if msg, err := podSecurityEvent(ctx, e, ns, p.Name); err != nil || msg == "" {
				return false, err
			}
			refused++
		}
		return refused == 3, nil
	})

	root, err := e.vKube.CoreV1().Pods(ns).Get(ctx, "root", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := podSecurityEvent(ctx, e, ns, "root")
	for _, want := range []string{`violates PodSecurity "baseline:latest"`, "host namespaces (hostNetwork=true, hostPID=true)",
		`hostPath volumes (volume "root")`, "privileged (container \"sh\"", "virtual cluster " + testProject + "/" + testVCluster,
		"gantry administrator"} {
		if !strings.Contains(msg, want) {
			t.Errorf("event message %q does not say %q", msg, want)
		}
	}
	if root.Status.Phase != corev1.PodPending || root.Status.Reason != ReasonPodSecurity || root.Status.Message != msg || root.Spec.NodeName != "" {
		t.Errorf("virtual pod root: phase %s, reason %q, message %q, node %q; want Pending, PodSecurity and the event's message, unbound",
			root.Status.Phase, root.Status.Reason, root.Status.Message, root.Spec.NodeName)
	}
	scheduled := false
	for _, c := range root.Status.Conditions {
		scheduled = scheduled || c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == ReasonPodSecurity
	}
	if !scheduled {
		t.Errorf("virtual pod root has no PodScheduled=False condition with reason PodSecurity: %+v", root.Status.Conditions)
	}
	if msg, _ := podSecurityEvent(ctx, e, ns, "ok"); msg != "" {
		t.Errorf("the compliant pod got a PodSecurity event: %s", msg)
	}

	// Nothing of the refused pods is on the host: no pod, no token Secret.
	pods, err := e.vKube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if p.Name == "ok" {
			continue
		}
		if exists, err := hostPodExists(ctx, e, ns, p.Name); err != nil || exists {
			t.Errorf("virtual pod %s has a host copy (%v)", p.Name, err)
		}
		token := tokenSecretName(HostName(p.Name, ns, testVCluster))
		if _, err := e.hostKube.CoreV1().Secrets(testHostNS).Get(ctx, token, metav1.GetOptions{}); !isNotFound(err) {
			t.Errorf("host token Secret %s of refused pod %s: %v", token, p.Name, err)
		}
	}
	if err := e.vKube.AppsV1().Deployments(ns).Delete(ctx, "mount", metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)}); err != nil {
		t.Fatal(err)
	}
}

// A pod the syncer allows but the host's own Pod Security admission refuses
// (its namespace labelled stricter) is reported the same way; a host pod made
// under a looser level keeps running when the level is tightened, and its
// virtual pod is told so.
func TestPodSecurityHostRefusalAndTightening(t *testing.T) {
	e := env(t)
	ctx := context.Background()
	ns := newNamespace(t, e, "tighten")
	eventually(t, 30*time.Second, "the default ServiceAccount of "+ns, func(ctx context.Context) (bool, error) {
		_, err := e.vKube.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
	restart := func(level podsecurity.Level) {
		t.Helper()
		if err := e.stopSyncerNow(); err != nil {
			t.Fatal(err)
		}
		if err := e.startSyncer(func(o *Options) { o.PodSecurity = level }); err != nil {
			t.Fatal(err)
		}
	}
	labelHostNS := func(level string) {
		t.Helper()
		patch := fmt.Sprintf(`{"metadata":{"labels":{"pod-security.kubernetes.io/enforce":%s}}}`, level)
		if _, err := e.hostKube.CoreV1().Namespaces().Patch(ctx, testHostNS, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		labelHostNS("null")
		if err := e.stopSyncerNow(); err != nil {
			t.Error(err)
		}
		if err := e.startSyncer(); err != nil {
			t.Error(err)
		}
	})

	restart(platformv1alpha1.PodSecurityPrivileged)
	if _, err := e.vKube.CoreV1().Pods(ns).Create(ctx, rootPod("before"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "pod before to run on the host under level privileged", func(ctx context.Context) (bool, error) {
		p, err := e.vKube.CoreV1().Pods(ns).Get(ctx, "before", metav1.GetOptions{})
		return err == nil && p.Status.Phase == corev1.PodRunning, err
	})

	labelHostNS(`"baseline"`)
	if _, err := e.vKube.CoreV1().Pods(ns).Create(ctx, rootPod("after"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the host's refusal of pod after on the virtual pod", func(ctx context.Context) (bool, error) {
		msg, err := podSecurityEvent(ctx, e, ns, "after")
		return strings.Contains(msg, `violates PodSecurity "baseline:latest"`) && strings.Contains(msg, "refused by the host cluster"), err
	})
	if exists, err := hostPodExists(ctx, e, ns, "after"); err != nil || exists {
		t.Errorf("pod after is on the host (%v)", err)
	}

	labelHostNS("null")
	hostBefore, err := e.hostKube.CoreV1().Pods(testHostNS).Get(ctx, HostName("before", ns, testVCluster), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	restart(platformv1alpha1.PodSecurityBaseline)
	eventually(t, 30*time.Second, "a warning on pod before, which runs from before the tightening", func(ctx context.Context) (bool, error) {
		msg, err := podSecurityEvent(ctx, e, ns, "before")
		return strings.Contains(msg, "runs on the host from before") && strings.Contains(msg, "delete it to apply the level"), err
	})
	still, err := e.hostKube.CoreV1().Pods(testHostNS).Get(ctx, hostBefore.Name, metav1.GetOptions{})
	if err != nil || still.UID != hostBefore.UID || still.DeletionTimestamp != nil {
		t.Fatalf("the running host pod was not left alone: %v", err)
	}
	// Deleted, it is gone for good: its replacement (none for a bare pod) would be refused.
	if err := e.vKube.CoreV1().Pods(ns).Delete(ctx, "before", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "pod before to leave the host", func(ctx context.Context) (bool, error) {
		exists, err := hostPodExists(ctx, e, ns, "before")
		return !exists, err
	})
}
