package vcluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/identity/authn"
	"gantry.dev/gantry/internal/kubebin"
)

// The reconciler's tests run it against the package's real API server with
// a fake runtime (fakeruntime_test.go): what they check is what a user sees
// of a virtual cluster, phase, conditions, events and the host objects, in
// seconds. TestPodSecurityOfAVirtualCluster runs real control planes.

// A new virtual cluster gets the finalizer and starts; once its API server
// answers it runs, with its host namespace, kubeconfig Secret, isolation,
// RBAC and syncer, and its status says where to reach it.
func TestCreateThenReady(t *testing.T) {
	h := newHarness(t, platformv1alpha1.ProjectSpec{})
	key := h.create("dev", nil)

	vc := h.phase(key, platformv1alpha1.PhaseStarting)
	if !slices.Contains(vc.Finalizers, platformv1alpha1.VirtualClusterFinalizer) {
		t.Errorf("finalizers %v, want %s", vc.Finalizers, platformv1alpha1.VirtualClusterFinalizer)
	}
	condition(t, vc, platformv1alpha1.ConditionDeployed, metav1.ConditionTrue, platformv1alpha1.ReasonDeployed)
	condition(t, vc, platformv1alpha1.ConditionReady, metav1.ConditionFalse, platformv1alpha1.ReasonAPIServerNotReady)
	hostNS := HostNamespace(key.Namespace, key.Name)
	if vc.Status.HostNamespace != hostNS || vc.Status.Endpoint != "" {
		t.Errorf("starting: host namespace %q, endpoint %q", vc.Status.HostNamespace, vc.Status.Endpoint)
	}
	started, _, _, _, _ := h.rt.seen(key)
	if len(started) != 1 || started[0].PodSecurity != "baseline" || started[0].Storage != "" {
		t.Fatalf("control planes started: %+v, want one at baseline on its own SQLite", started)
	}

	h.rt.ready(t, key)
	vc = h.phase(key, platformv1alpha1.PhaseRunning)
	endpoint, _ := h.rt.Endpoint(key)
	for _, c := range []struct{ typ, reason string }{
		{platformv1alpha1.ConditionDeployed, platformv1alpha1.ReasonDeployed},
		{platformv1alpha1.ConditionReady, platformv1alpha1.ReasonAPIServerReady},
		{platformv1alpha1.ConditionOnline, platformv1alpha1.ReasonAPIServerReady},
	} {
		if got := condition(t, vc, c.typ, metav1.ConditionTrue, c.reason); got.ObservedGeneration != vc.Generation {
			t.Errorf("condition %s observed generation %d of %d", c.typ, got.ObservedGeneration, vc.Generation)
		}
	}
	if vc.Status.Endpoint != endpoint || vc.Status.KubeconfigSecret != "vc-dev" || vc.Status.KubernetesVersion != kubebin.Version ||
		vc.Status.LastActivityTime == nil {
		t.Errorf("running: endpoint %q (want %q), kubeconfig Secret %q, version %q, last activity %v",
			vc.Status.Endpoint, endpoint, vc.Status.KubeconfigSecret, vc.Status.KubernetesVersion, vc.Status.LastActivityTime)
	}

	ns := &corev1.Namespace{}
	if err := h.c.Get(context.Background(), client.ObjectKey{Name: hostNS}, ns); err != nil {
		t.Fatalf("host namespace: %v", err)
	}
	if ns.Labels[LabelVCluster] != "dev" || ns.Labels[LabelVClusterNamespace] != h.ns || ns.Labels["pod-security.kubernetes.io/enforce"] != "baseline" {
		t.Errorf("host namespace labels %v", ns.Labels)
	}
	np := &networkingv1.NetworkPolicy{}
	if err := h.c.Get(context.Background(), client.ObjectKey{Namespace: hostNS, Name: NetworkPolicyName}, np); err != nil {
		t.Errorf("isolation policy: %v", err)
	}

	secret := &corev1.Secret{}
	if err := h.c.Get(context.Background(), client.ObjectKey{Namespace: h.ns, Name: "vc-dev"}, secret); err != nil {
		t.Fatalf("kubeconfig Secret: %v", err)
	}
	if owner := metav1.GetControllerOf(secret); owner == nil || owner.Kind != "VirtualCluster" || owner.UID != vc.UID {
		t.Errorf("kubeconfig Secret's controller %+v, want the VirtualCluster", owner)
	}
	kc, err := clientcmd.Load(secret.Data["config"])
	if err != nil {
		t.Fatalf("kubeconfig in the Secret: %v", err)
	}
	if c := kc.Clusters[kc.Contexts[kc.CurrentContext].Cluster]; c == nil || c.Server != endpoint || string(c.CertificateAuthorityData) != "ca of "+key.String() {
		t.Errorf("kubeconfig's cluster %+v, want server %s", c, endpoint)
	}
	if string(secret.Data["client-key"]) != "key" || string(secret.Data["certificate-authority"]) != "ca of "+key.String() {
		t.Errorf("Secret keys %v", secret.Data)
	}

	_, _, _, rbac, syncer := h.rt.seen(key)
	if rbac != h.project || syncer != hostNS {
		t.Errorf("RBAC bound for project %q (want %q), syncer into %q (want %q)", rbac, h.project, syncer, hostNS)
	}
}

// A control plane that fails makes the cluster Failed with the reason and the
// runtime's error, once as a Warning event; a later start recovers it.
func TestStartFails(t *testing.T) {
	h := newHarness(t, platformv1alpha1.ProjectSpec{})
	key := h.create("broken", nil)
	h.phase(key, platformv1alpha1.PhaseStarting)
	h.rt.fail(t, key, errors.New("kube-apiserver exited: address already in use"))

	vc := h.phase(key, platformv1alpha1.PhaseFailed)
	c := condition(t, vc, platformv1alpha1.ConditionDeployed, metav1.ConditionFalse, platformv1alpha1.ReasonDeployFailed)
	if !strings.Contains(c.Message, "address already in use") {
		t.Errorf("Deployed message %q does not carry the runtime's error", c.Message)
	}
	condition(t, vc, platformv1alpha1.ConditionReady, metav1.ConditionFalse, platformv1alpha1.ReasonDeployFailed)
	e := h.event(key, corev1.EventTypeWarning, platformv1alpha1.ReasonDeployFailed)
	if !strings.Contains(e.Message, "address already in use") {
		t.Errorf("event message %q", e.Message)
	}

	// The runtime retries (after RetryFailedAfter in the real one).
	h.rt.Stop(key)
	h.update(key, func(vc *platformv1alpha1.VirtualCluster) { vc.Spec.Labels = map[string]string{"retry": "1"} })
	h.phase(key, platformv1alpha1.PhaseStarting)
	h.rt.ready(t, key)
	h.phase(key, platformv1alpha1.PhaseRunning)
}

// A cluster beyond its project's quota of virtual clusters is not started:
// Failed, QuotaExceeded, saying what to do, as a Warning event.
func TestOverQuotaIsNotStarted(t *testing.T) {
	h := newHarness(t, platformv1alpha1.ProjectSpec{Quotas: platformv1alpha1.ProjectQuotas{VirtualClusters: ptr.To[int32](1)}})
	first := h.create("first", nil)
	h.phase(first, platformv1alpha1.PhaseStarting)
	second := h.create("second", nil)

	vc := h.phase(second, platformv1alpha1.PhaseFailed)
	c := condition(t, vc, platformv1alpha1.ConditionDeployed, metav1.ConditionFalse, platformv1alpha1.ReasonQuotaExceeded)
	if !strings.Contains(c.Message, "allows 1 virtual clusters") || !strings.Contains(c.Message, "delete one or raise the quota") {
		t.Errorf("message %q does not say the quota and the fix", c.Message)
	}
	condition(t, vc, platformv1alpha1.ConditionReady, metav1.ConditionFalse, platformv1alpha1.ReasonQuotaExceeded)
	h.event(second, corev1.EventTypeWarning, platformv1alpha1.ReasonQuotaExceeded)
	if started, _, _, _, _ := h.rt.seen(second); len(started) != 0 {
		t.Errorf("a control plane was started over quota: %+v", started)
	}
}

// Deleting a virtual cluster removes its control plane and data, its host
// workloads and namespace, its kubeconfig Secret, and then the finalizer.
func TestDelete(t *testing.T) {
	h := newHarness(t, platformv1alpha1.ProjectSpec{})
	key := h.create("doomed", nil)
	h.phase(key, platformv1alpha1.PhaseStarting)
	h.rt.ready(t, key)
	h.phase(key, platformv1alpha1.PhaseRunning)
	hostNS := HostNamespace(key.Namespace, key.Name)

	if err := h.c.Delete(context.Background(), h.get(key)); err != nil {
		t.Fatal(err)
	}
	h.gone(key)
	if _, _, removed, _, _ := h.rt.seen(key); !removed {
		t.Error("the control plane's data was not removed")
	}
	if got := h.cleanups(); len(got) != 1 || got[0] != hostNS {
		t.Errorf("host workloads cleaned up in %v, want [%s]", got, hostNS)
	}
	err := h.c.Get(context.Background(), client.ObjectKey{Namespace: h.ns, Name: "vc-doomed"}, &corev1.Secret{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("kubeconfig Secret after deletion: %v", err)
	}
	ns := &corev1.Namespace{}
	if err := h.c.Get(context.Background(), client.ObjectKey{Name: hostNS}, ns); err == nil && ns.DeletionTimestamp.IsZero() {
		t.Errorf("host namespace %s is not being deleted", hostNS)
	} else if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
}

// A host namespace someone else made is not taken over: the reconcile fails
// (the error names the namespace), and the status does not claim the spec
// changed meanwhile was acted on, until the namespace is freed.
func TestTakenHostNamespace(t *testing.T) {
	h := newHarness(t, platformv1alpha1.ProjectSpec{})
	hostNS := HostNamespace(h.ns, "squatted")
	taken := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: hostNS}}
	if err := h.c.Create(context.Background(), taken); err != nil {
		t.Fatal(err)
	}
	key := h.create("squatted", nil)
	h.phase(key, platformv1alpha1.PhaseStarting)
	// Ready first, then the change: a reconcile of the change while still
	// Starting succeeds (nothing to act on yet) and rightly records it.
	h.rt.ready(t, key)
	h.update(key, func(vc *platformv1alpha1.VirtualCluster) { vc.Spec.Labels = map[string]string{"env": "dev"} })

	// Nothing changes on failure: watch for a second, long enough for
	// several failed reconciles.
	time.Sleep(time.Second)
	vc := h.get(key)
	if vc.Status.ObservedGeneration == vc.Generation || vc.Status.Phase == platformv1alpha1.PhaseRunning {
		t.Fatalf("observed generation %d of %d, phase %s: the failed reconcile claims success",
			vc.Status.ObservedGeneration, vc.Generation, vc.Status.Phase)
	}
	if err := h.c.Delete(context.Background(), taken); err != nil {
		t.Fatal(err)
	}
	within(t, 60*time.Second, "the taken namespace to go", func() error {
		err := h.c.Get(context.Background(), client.ObjectKey{Name: hostNS}, &corev1.Namespace{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("still there (%v)", err)
	})
	h.update(key, func(vc *platformv1alpha1.VirtualCluster) { vc.Spec.Labels = map[string]string{"env": "prod"} })
	h.phase(key, platformv1alpha1.PhaseRunning)
}

// The project's Pod Security level is its clusters': when it changes, a
// running control plane is restarted at the new level (a Normal event says
// so) and the host namespace enforces it; the cluster's own level wins.
func TestPodSecurityChangeRestarts(t *testing.T) {
	h := newHarness(t, platformv1alpha1.ProjectSpec{})
	key := h.create("psa", nil)
	h.phase(key, platformv1alpha1.PhaseStarting)
	h.rt.ready(t, key)
	h.phase(key, platformv1alpha1.PhaseRunning)
	hostNS := HostNamespace(key.Namespace, key.Name)

	restartedAt := func(level string, starts int) {
		t.Helper()
		h.wait(key, "a restart at "+level, func(*platformv1alpha1.VirtualCluster) error {
			started, _, _, _, _ := h.rt.seen(key)
			if len(started) != starts || string(started[starts-1].PodSecurity) != level {
				return fmt.Errorf("control planes started: %+v", started)
			}
			return nil
		})
		h.phase(key, platformv1alpha1.PhaseStarting)
		h.rt.ready(t, key)
		h.phase(key, platformv1alpha1.PhaseRunning)
		ns := &corev1.Namespace{}
		if err := h.c.Get(context.Background(), client.ObjectKey{Name: hostNS}, ns); err != nil {
			t.Fatal(err)
		}
		if ns.Labels["pod-security.kubernetes.io/enforce"] != level {
			t.Errorf("host namespace enforces %q, want %s", ns.Labels["pod-security.kubernetes.io/enforce"], level)
		}
	}

	p := &platformv1alpha1.Project{}
	if err := h.c.Get(context.Background(), client.ObjectKey{Name: h.project}, p); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(p.DeepCopy())
	p.Spec.PodSecurity = platformv1alpha1.PodSecurityRestricted
	if err := h.c.Patch(context.Background(), p, patch); err != nil {
		t.Fatal(err)
	}
	restartedAt("restricted", 2)
	e := h.event(key, corev1.EventTypeNormal, ReasonPodSecurityChanged)
	if !strings.Contains(e.Message, "restricted (was baseline)") {
		t.Errorf("event message %q", e.Message)
	}

	h.update(key, func(vc *platformv1alpha1.VirtualCluster) {
		vc.Spec.PodSecurity = platformv1alpha1.PodSecurityPrivileged
	})
	restartedAt("privileged", 3)
	if _, stopped, _, _, _ := h.rt.seen(key); stopped != 2 {
		t.Errorf("stopped %d times, want 2 (one per change)", stopped)
	}
}

// A virtual cluster outside any project's namespace belongs to no project:
// no project's members are bound inside it.
func TestNoProjectNoProjectRoles(t *testing.T) {
	if got := roleBindings(""); len(got) != 1 || got[authn.GroupAdmins] != "cluster-admin" {
		t.Errorf("role bindings without a project: %v", got)
	}
	if got := roleBindings("web"); len(got) != 4 {
		t.Errorf("role bindings of project web: %v", got)
	}
}
