package vcluster

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/kubetest"
)

func TestMain(m *testing.M) { os.Exit(kubetest.Main(m)) }

// within polls cond every 100 ms until it returns nil or timeout passes.
func within(t *testing.T, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s, %s: %v", timeout, what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

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

func plainPod(name string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx"}}}}
}

// A virtual cluster's own API server enforces its Pod Security level, which
// follows its project and its own spec; the control plane restarts to apply a
// change. Its host namespace carries the level and, unless the project opens
// it, a NetworkPolicy admitting only itself and gantry.
func TestPodSecurityOfAVirtualCluster(t *testing.T) {
	env := kubetest.Shared(t, kubetest.Options{CRDs: true})
	bins := binaries(t)
	ctx := context.Background()
	c := env.Client

	proj := &platformv1alpha1.Project{ObjectMeta: metav1.ObjectMeta{Name: "sec"}}
	if err := c.Create(ctx, proj); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Delete(context.Background(), proj) })
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "p-sec"}} // the project reconciler's job, not running here
	if err := c.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Delete(context.Background(), ns) })

	rt := NewRuntime(RuntimeOptions{DataDir: t.TempDir(), Binaries: bins, Logger: logr.Discard(), SparesAfter: -1})
	rt.preparing = true // no spare control planes: this test needs none, and they cost a start each
	env.Manager(t, func(mgr ctrl.Manager) error {
		return (&Reconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Runtime: rt,
			Recorder: mgr.GetEventRecorderFor("gantry")}).SetupWithManager(mgr)
	})
	vc := &platformv1alpha1.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Name: "v1", Namespace: "p-sec"}}
	if err := c.Create(ctx, vc); err != nil {
		t.Fatal(err)
	}
	key := types.NamespacedName{Namespace: vc.Namespace, Name: vc.Name}
	t.Cleanup(func() {
		c.Delete(context.Background(), vc)
		within(t, 60*time.Second, "the virtual cluster to be deleted", func() error {
			err := c.Get(context.Background(), key, &platformv1alpha1.VirtualCluster{})
			if apierrors.IsNotFound(err) {
				return nil
			}
			return fmt.Errorf("still there (%v)", err)
		})
	})
	hostNS := HostNamespace(vc.Namespace, vc.Name)

	// runningAt waits until the cluster runs with level and its host namespace says so.
	runningAt := func(level string) kubernetes.Interface {
		t.Helper()
		within(t, 90*time.Second, "virtual cluster running at level "+level, func() error {
			got := &platformv1alpha1.VirtualCluster{}
			if err := c.Get(ctx, key, got); err != nil {
				return err
			}
			cfg, ok := rt.Running(key)
			if got.Status.Phase != platformv1alpha1.PhaseRunning || !ok || string(cfg.PodSecurity) != level {
				return fmt.Errorf("phase %s, control plane running %v with level %q", got.Status.Phase, ok, cfg.PodSecurity)
			}
			n := &corev1.Namespace{}
			if err := c.Get(ctx, client.ObjectKey{Name: hostNS}, n); err != nil {
				return err
			}
			if n.Labels["pod-security.kubernetes.io/enforce"] != level || n.Labels["pod-security.kubernetes.io/enforce-version"] != "latest" {
				return fmt.Errorf("host namespace labels %v", n.Labels)
			}
			return nil
		})
		v := kubernetes.NewForConfigOrDie(rt.ControlPlane(key).RESTConfig())
		// Running means a pod can be created at once: no waiting for the
		// controller manager to make the default ServiceAccount.
		if _, err := v.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{}); err != nil {
			t.Fatalf("the cluster runs, but its default ServiceAccount: %v", err)
		}
		return v
	}
	refused := func(v kubernetes.Interface, pod *corev1.Pod, want ...string) {
		t.Helper()
		_, err := v.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{})
		if !apierrors.IsForbidden(err) {
			t.Fatalf("creating pod %s: %v; want it forbidden", pod.Name, err)
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("refusal of pod %s %q does not say %q", pod.Name, err, w)
			}
		}
	}

	v := runningAt("baseline")
	t.Run("nothing runs inside that would need an exemption", func(t *testing.T) {
		pods, err := v.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
		if err != nil || len(pods.Items) > 0 {
			t.Fatalf("pods in a new virtual cluster: %v (%v)", pods, err)
		}
	})
	refused(v, rootPod("root"), `violates PodSecurity "baseline:latest"`, "host namespaces (hostNetwork=true, hostPID=true)",
		`hostPath volumes (volume "root")`, `privileged (container "sh" must not set securityContext.privileged=true)`)
	if _, err := v.CoreV1().Pods("default").Create(ctx, plainPod("plain"), metav1.CreateOptions{}); err != nil {
		t.Fatalf("a baseline pod is refused at baseline: %v", err)
	}
	// A Deployment's pods are pods: the ReplicaSet controller is refused and says so.
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "mount"}, Spec: appsv1.DeploymentSpec{
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "mount"}},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "mount"}}, Spec: rootPod("").Spec}}}
	if _, err := v.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	within(t, 30*time.Second, "the ReplicaSet's FailedCreate event naming Pod Security", func() error {
		evs, err := v.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "reason=FailedCreate"})
		if err != nil {
			return err
		}
		for _, e := range evs.Items {
			if e.InvolvedObject.Kind == "ReplicaSet" && strings.Contains(e.Message, `violates PodSecurity "baseline:latest"`) {
				return nil
			}
		}
		return fmt.Errorf("%d FailedCreate events, none about Pod Security", len(evs.Items))
	})

	t.Run("host namespace isolated", func(t *testing.T) {
		np := &networkingv1.NetworkPolicy{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: hostNS, Name: NetworkPolicyName}, np); err != nil {
			t.Fatal(err)
		}
		if np.Labels[LabelManagedBy] != "gantry" || np.Labels[LabelVCluster] != "v1" {
			t.Errorf("labels %v", np.Labels)
		}
		want := isolationPolicy("gantry-system")
		if !equality.Semantic.DeepEqual(np.Spec, want) {
			t.Errorf("spec %+v, want %+v", np.Spec, want)
		}
	})

	// The project tightens: the control plane restarts and enforces restricted.
	patch := client.MergeFrom(proj.DeepCopy())
	proj.Spec.PodSecurity = platformv1alpha1.PodSecurityRestricted
	if err := c.Patch(ctx, proj, patch); err != nil {
		t.Fatal(err)
	}
	v = runningAt("restricted")
	refused(v, plainPod("plain2"), `violates PodSecurity "restricted:latest"`, "allowPrivilegeEscalation != false")

	// The cluster's own level wins over the project's (set by an administrator:
	// the REST API checks who may).
	vcPatch := client.MergeFrom(vc.DeepCopy())
	vc.Spec.PodSecurity = platformv1alpha1.PodSecurityPrivileged
	if err := c.Patch(ctx, vc, vcPatch); err != nil {
		t.Fatal(err)
	}
	v = runningAt("privileged")
	if _, err := v.CoreV1().Pods("default").Create(ctx, rootPod("root"), metav1.CreateOptions{}); err != nil {
		t.Fatalf("a privileged pod is refused at privileged: %v", err)
	}

	// Opening the project's ingress removes the policy; closing it restores it.
	npGone := func(gone bool) {
		t.Helper()
		within(t, 30*time.Second, fmt.Sprintf("NetworkPolicy gone=%v", gone), func() error {
			err := c.Get(ctx, client.ObjectKey{Namespace: hostNS, Name: NetworkPolicyName}, &networkingv1.NetworkPolicy{})
			if gone == apierrors.IsNotFound(err) {
				return nil
			}
			return fmt.Errorf("get: %v", err)
		})
	}
	patch = client.MergeFrom(proj.DeepCopy())
	proj.Spec.Network.OpenIngress = true
	if err := c.Patch(ctx, proj, patch); err != nil {
		t.Fatal(err)
	}
	npGone(true)
	patch = client.MergeFrom(proj.DeepCopy())
	proj.Spec.Network.OpenIngress = false
	if err := c.Patch(ctx, proj, patch); err != nil {
		t.Fatal(err)
	}
	npGone(false)
}
