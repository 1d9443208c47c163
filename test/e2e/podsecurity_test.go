package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/utils/ptr"
)

// rootOnTheNode is the pod of issue 15: privileged, the host's PID and network
// namespaces, and the node's root file system mounted.
func rootOnTheNode() corev1.PodSpec {
	return corev1.PodSpec{
		HostPID: true, HostNetwork: true,
		Volumes: []corev1.Volume{{Name: "root", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}}},
		Containers: []corev1.Container{{Name: "sh", Image: "busybox", Command: []string{"sleep", "infinity"},
			SecurityContext: &corev1.SecurityContext{Privileged: ptr.To(true)},
			VolumeMounts:    []corev1.VolumeMount{{Name: "root", MountPath: "/host"}}}},
	}
}

// TestPodSecurity: what a tenant tries in order to get root on a node is
// refused, by the virtual cluster itself (kubectl's answer), by gantry's syncer
// when the tenant switches the virtual cluster's own check off, and by the
// host namespace's labels; the REST API keeps members from loosening the
// level; compliant workloads still run; the host namespace is isolated unless
// the project opens it.
func TestPodSecurity(t *testing.T) {
	parallel(t)
	dataDir := t.TempDir()
	g := startGantry(t, dataDir, "--nodes", "1")
	g.waitReady(2 * time.Minute)
	ctx := context.Background()
	host := g.client()
	admin := adminTokenOf(t, g)
	const hostNS = "vc-p-default-v1"

	// mallory, a member of project default, may not choose a looser level.
	for _, call := range [][3]string{
		{"POST", "/api/v1/users", `{"name":"mallory","password":"mallory-secret-pw"}`},
		{"POST", "/api/v1/projects/default/members", `{"kind":"User","name":"mallory","role":"project-member"}`},
	} {
		if code, resp := g.apiCall(t, call[0], call[1], admin, call[2]); code/100 != 2 {
			t.Fatalf("%s %s: %d %v", call[0], call[1], code, resp)
		}
	}
	mallory := g.login(t, "mallory", "mallory-secret-pw")
	eventually(t, 20*time.Second, "mallory refused a privileged virtual cluster", func() error {
		code, resp := g.apiCall(t, "POST", "/api/v1/virtualclusters/default", mallory, `{"name":"mine","podSecurity":"privileged"}`)
		if code != 403 || !strings.Contains(fmt.Sprint(resp["message"]), "only a gantry administrator may set it") {
			return fmt.Errorf("%d %v", code, resp)
		}
		return nil
	})
	if _, err := host.CoreV1().Namespaces().Get(ctx, "vc-p-default-mine", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the refused virtual cluster left a host namespace: %v", err)
	}

	createVCluster(t, dataDir, "v1")
	v := vclusterClient(t, dataDir, "v1")

	t.Run("the host namespace enforces baseline and is isolated", func(t *testing.T) {
		ns, err := host.CoreV1().Namespaces().Get(ctx, hostNS, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if ns.Labels["pod-security.kubernetes.io/enforce"] != "baseline" || ns.Labels["pod-security.kubernetes.io/enforce-version"] != "latest" {
			t.Errorf("host namespace labels %v", ns.Labels)
		}
		np, err := host.NetworkingV1().NetworkPolicies(hostNS).Get(ctx, "gantry-isolation", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(np.Spec.Ingress) != 1 || len(np.Spec.Ingress[0].From) != 2 || np.Spec.Ingress[0].From[0].PodSelector == nil ||
			np.Spec.Ingress[0].From[1].NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] != "gantry-system" {
			t.Errorf("NetworkPolicy %+v", np.Spec)
		}
		// The host's own admission refuses the pod too, were anything to send it.
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "direct"}, Spec: rootOnTheNode()}
		_, err = host.CoreV1().Pods(hostNS).Create(ctx, pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `violates PodSecurity "baseline:latest"`) {
			t.Errorf("the host admitted the pod into %s: %v", hostNS, err)
		}
	})

	// kubectl apply of the pod: the virtual cluster answers with Kubernetes' reason.
	_, err := v.CoreV1().Pods("default").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "root"}, Spec: rootOnTheNode()}, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `violates PodSecurity "baseline:latest": host namespaces (hostNetwork=true, hostPID=true)`) {
		t.Fatalf("creating the root pod in the virtual cluster: %v; want it forbidden by Pod Security", err)
	}

	// The same through a Deployment whose template mounts /: its ReplicaSet is refused.
	mount := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "mount"}, Spec: appsv1.DeploymentSpec{
		Replicas: ptr.To[int32](2),
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "mount"}},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "mount"}}, Spec: corev1.PodSpec{
			Volumes:    []corev1.Volume{{Name: "root", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}}},
			Containers: []corev1.Container{{Name: "c", Image: "busybox", VolumeMounts: []corev1.VolumeMount{{Name: "root", MountPath: "/host"}}}},
		}}}}
	if _, err := v.AppsV1().Deployments("default").Create(ctx, mount, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the ReplicaSet of mount refused by Pod Security", func() error {
		evs, err := v.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "reason=FailedCreate"})
		if err != nil {
			return err
		}
		for _, e := range evs.Items {
			if strings.HasPrefix(e.InvolvedObject.Name, "mount-") && strings.Contains(e.Message, `hostPath volumes (volume "root")`) {
				return nil
			}
		}
		return fmt.Errorf("%d FailedCreate events, none about mount's hostPath", len(evs.Items))
	})

	// The tenant, cluster-admin inside, switches the virtual cluster's check off
	// for a namespace: the pod is admitted there, and gantry's syncer holds it back.
	sneaky := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "sneaky", Labels: map[string]string{"pod-security.kubernetes.io/enforce": "privileged"}}}
	if _, err := v.CoreV1().Namespaces().Create(ctx, sneaky, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the default ServiceAccount of sneaky", func() error {
		_, err := v.CoreV1().ServiceAccounts("sneaky").Get(ctx, "default", metav1.GetOptions{})
		return err
	})
	if _, err := v.CoreV1().Pods("sneaky").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "root"}, Spec: rootOnTheNode()}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("the tenant's own privileged namespace refused the pod: %v", err)
	}
	eventually(t, 30*time.Second, "the syncer's PodSecurity event on sneaky/root", func() error {
		evs, err := v.CoreV1().Events("sneaky").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=root,reason=PodSecurity"})
		if err != nil {
			return err
		}
		if len(evs.Items) != 1 || evs.Items[0].Type != corev1.EventTypeWarning ||
			!strings.Contains(evs.Items[0].Message, `violates PodSecurity "baseline:latest"`) ||
			!strings.Contains(evs.Items[0].Message, "only a gantry administrator can loosen it") {
			return fmt.Errorf("events %+v", evs.Items)
		}
		return nil
	})
	// The event is written before the status: wait for the status too.
	eventually(t, 10*time.Second, "virtual pod sneaky/root Pending with reason PodSecurity", func() error {
		root, err := v.CoreV1().Pods("sneaky").Get(ctx, "root", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if root.Status.Phase != corev1.PodPending || root.Status.Reason != "PodSecurity" {
			return fmt.Errorf("phase %s, reason %q", root.Status.Phase, root.Status.Reason)
		}
		return nil
	})

	// A compliant workload runs as ever.
	deployWeb(t, v, "default")
	assertWebRuns(t, v, host, "default", "v1", hostNS)

	// Nothing of the refused pods is on the host: only web's two pods.
	pods, err := host.CoreV1().Pods(hostNS).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if p.Labels["app"] != "web" || p.Spec.HostPID || p.Spec.HostNetwork || len(p.Spec.Volumes) > 0 && p.Spec.Volumes[0].HostPath != nil {
			t.Errorf("host pod %s should not be there: %+v", p.Name, p.Spec)
		}
	}
	if len(pods.Items) != 2 {
		t.Errorf("%d host pods in %s, want web's 2", len(pods.Items), hostNS)
	}

	// An administrator opens the project's ingress: the policy goes; closed, it is back.
	dyn := dynamic.NewForConfigOrDie(g.restConfig(t))
	projects := dyn.Resource(schema.GroupVersionResource{Group: "platform.gantry.dev", Version: "v1alpha1", Resource: "projects"})
	setOpen := func(open bool) {
		t.Helper()
		patch := fmt.Sprintf(`{"spec":{"network":{"openIngress":%v}}}`, open)
		if _, err := projects.Patch(ctx, "default", types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	policy := func(want bool) {
		t.Helper()
		eventually(t, 30*time.Second, fmt.Sprintf("NetworkPolicy gantry-isolation present=%v", want), func() error {
			_, err := host.NetworkingV1().NetworkPolicies(hostNS).Get(ctx, "gantry-isolation", metav1.GetOptions{})
			if want == (err == nil) && (err == nil || apierrors.IsNotFound(err)) {
				return nil
			}
			return fmt.Errorf("get: %v", err)
		})
	}
	setOpen(true)
	policy(false)
	setOpen(false)
	policy(true)
}
