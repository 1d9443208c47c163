package project

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/kubetest"
)

func TestMain(m *testing.M) { os.Exit(kubetest.Main(m)) }

// withManager sets r up with mgr's client.
func (r *Reconciler) withManager(mgr ctrl.Manager) error {
	r.Client = mgr.GetClient()
	return r.SetupWithManager(mgr)
}

// A project's usage follows its virtual clusters (and which of them run) and
// its applications as they come, change phase and go; an app's status changes
// alone do not wake the reconciler.
func TestUsageFollowsClustersAndApps(t *testing.T) {
	env := kubetest.Shared(t, kubetest.Options{CRDs: true})
	ctx := context.Background()
	env.Manager(t, (&Reconciler{}).withManager)

	c := env.Client
	p := &platformv1alpha1.Project{ObjectMeta: metav1.ObjectMeta{Name: "usage"}}
	if err := c.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Delete(context.Background(), p) })
	usage := func(want platformv1alpha1.ProjectUsage) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			got := &platformv1alpha1.Project{}
			if err := c.Get(ctx, client.ObjectKeyFromObject(p), got); err == nil && got.Status.Usage == want {
				return
			} else if time.Now().After(deadline) {
				t.Fatalf("usage %+v, want %+v", got.Status.Usage, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	usage(platformv1alpha1.ProjectUsage{}) // the namespace p-usage exists once this is counted
	ns := Namespace(p.Name)

	vc := &platformv1alpha1.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "dev"}}
	app := func(name string) *gitopsv1alpha1.Application {
		return &gitopsv1alpha1.Application{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: gitopsv1alpha1.ApplicationSpec{
				Source:      &gitopsv1alpha1.ApplicationSource{RepoURL: "https://example.com/repo.git", Path: "."},
				Destination: gitopsv1alpha1.ApplicationDestination{Server: "https://kubernetes.default.svc", Namespace: "default"}}}
	}
	a, b := app("a"), app("b")
	for _, o := range []client.Object{vc, a, b} {
		if err := c.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	usage(platformv1alpha1.ProjectUsage{VirtualClusters: 1, Applications: 2})

	vc.Status.Phase = platformv1alpha1.PhaseRunning
	if err := c.Status().Update(ctx, vc); err != nil {
		t.Fatal(err)
	}
	usage(platformv1alpha1.ProjectUsage{VirtualClusters: 1, RunningVirtualClusters: 1, Applications: 2})

	if err := c.Delete(ctx, a); err != nil {
		t.Fatal(err)
	}
	usage(platformv1alpha1.ProjectUsage{VirtualClusters: 1, RunningVirtualClusters: 1, Applications: 1})

	vc.Status.Phase = platformv1alpha1.PhaseSleeping
	if err := c.Status().Update(ctx, vc); err != nil {
		t.Fatal(err)
	}
	usage(platformv1alpha1.ProjectUsage{VirtualClusters: 1, Applications: 1})
}

// A project's namespace on the host carries its Pod Security level (baseline
// by default), and the host's own Pod Security admission enforces it there.
func TestNamespaceEnforcesPodSecurity(t *testing.T) {
	env := kubetest.Shared(t, kubetest.Options{CRDs: true})
	ctx := context.Background()
	env.Manager(t, (&Reconciler{}).withManager)
	c := env.Client
	p := &platformv1alpha1.Project{ObjectMeta: metav1.ObjectMeta{Name: "psa"}}
	if err := c.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Delete(context.Background(), p) })
	ns := Namespace(p.Name)
	level := func(want string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			got := &corev1.Namespace{}
			err := c.Get(ctx, client.ObjectKey{Name: ns}, got)
			if err == nil && got.Labels["pod-security.kubernetes.io/enforce"] == want && got.Labels["pod-security.kubernetes.io/enforce-version"] == "latest" {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("namespace %s: labels %v (%v), want enforce=%s", ns, got.Labels, err, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	level("baseline")
	privileged := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "root", Namespace: ns},
		Spec: corev1.PodSpec{HostPID: true, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
	err := c.Create(ctx, privileged)
	if err == nil || !strings.Contains(err.Error(), `violates PodSecurity "baseline:latest": host namespaces (hostPID=true)`) {
		t.Fatalf("a hostPID pod in %s: %v; want the host's Pod Security admission to refuse it", ns, err)
	}

	patch := client.MergeFrom(p.DeepCopy())
	p.Spec.PodSecurity = platformv1alpha1.PodSecurityRestricted
	if err := c.Patch(ctx, p, patch); err != nil {
		t.Fatal(err)
	}
	level("restricted")
}

// failingLists is the API server with its lists failing.
type failingLists struct{ client.Client }

func (failingLists) List(context.Context, client.ObjectList, ...client.ListOption) error {
	return errors.New("the list of virtual clusters timed out")
}

// A reconcile that fails returns the error and leaves status.observedGeneration
// at the last generation acted on, while what it did find is still recorded;
// the next reconcile that succeeds catches up.
func TestObservedGenerationOnlyOnSuccess(t *testing.T) {
	env := kubetest.Shared(t, kubetest.Options{CRDs: true})
	ctx := context.Background()
	c := env.Client
	p := &platformv1alpha1.Project{ObjectMeta: metav1.ObjectMeta{Name: "observed"}}
	if err := c.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Delete(context.Background(), p)
		c.Delete(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: Namespace(p.Name)}})
	})
	req := ctrl.Request{NamespacedName: client.ObjectKeyFromObject(p)}
	status := func() (*platformv1alpha1.Project, *metav1.Condition) {
		t.Helper()
		got := &platformv1alpha1.Project{}
		if err := c.Get(ctx, req.NamespacedName, got); err != nil {
			t.Fatal(err)
		}
		return got, meta.FindStatusCondition(got.Status.Conditions, ConditionReady)
	}

	broken := &Reconciler{Client: failingLists{c}, APIReader: c}
	_, err := broken.Reconcile(ctx, req)
	if err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("reconcile with failing lists: %v; want the list's error", err)
	}
	got, ready := status()
	if got.Status.ObservedGeneration != 0 {
		t.Errorf("observedGeneration %d after a failed reconcile, want 0", got.Status.ObservedGeneration)
	}
	if ready == nil || ready.Status != metav1.ConditionTrue || ready.Reason != ReasonNamespaceReady || got.Status.Namespace != "p-observed" {
		t.Errorf("the namespace made before the failure is not recorded: %+v, namespace %q", ready, got.Status.Namespace)
	}

	if _, err := (&Reconciler{Client: c, APIReader: c}).Reconcile(ctx, req); err != nil {
		t.Fatal(err)
	}
	if got, _ := status(); got.Status.ObservedGeneration != got.Generation {
		t.Errorf("observedGeneration %d after a successful reconcile of generation %d", got.Status.ObservedGeneration, got.Generation)
	}
}
