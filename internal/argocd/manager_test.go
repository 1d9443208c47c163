package argocd

import (
	"context"
	"fmt"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/kubetest"
	"gantry.dev/gantry/internal/project"
)

// The reconciler in a manager, as the platform runs it: Argo CD on the host
// found through gantry's registry (ArgoCDCluster unset), and the watches
// bring virtual cluster changes and the Project's deletion.
func TestManager(t *testing.T) {
	e := env(t)
	ctx, cancel := context.WithCancel(context.Background())
	argo := e.argoNamespace(t, nil)
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = platformv1alpha1.AddToScheme(scheme)
	mgr, err := ctrl.NewManager(e.cp.RESTConfig(), ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{SkipNameValidation: ptr(true)},
	})
	mustDo(t, err)
	r := e.reconciler()
	r.Client, r.ArgoCDCluster = mgr.GetClient(), nil
	mustDo(t, r.SetupWithManager(mgr))
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	e.newProject(t, "watched", &platformv1alpha1.ArgoCDIntegration{Enabled: true, Namespace: argo})
	vc := e.newVCluster(t, "watched", "dev", nil)
	name := ClusterSecretName("watched", "dev")
	eventually(t, "the cluster Secret", func() bool { return e.secret(t, argo, name) != nil })

	update(t, e, vc, func(vc *platformv1alpha1.VirtualCluster) { vc.Spec.ArgoCD = ptr(false) })
	eventually(t, "the cluster Secret to go", func() bool { return e.secret(t, argo, name) == nil })

	update(t, e, vc, func(vc *platformv1alpha1.VirtualCluster) { vc.Spec.ArgoCD = nil })
	eventually(t, "the cluster Secret back", func() bool { return e.secret(t, argo, name) != nil })

	mustDo(t, e.c.Delete(ctx, &platformv1alpha1.Project{ObjectMeta: metav1.ObjectMeta{Name: "watched"}}))
	eventually(t, "the project to be deleted", func() bool {
		return apierrors.IsNotFound(e.c.Get(ctx, client.ObjectKey{Name: "watched"}, &platformv1alpha1.Project{}))
	})
	assertNothingFor(t, e, argo, "watched")
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 30*time.Second, true,
		func(context.Context) (bool, error) { return cond(), nil })
	if err != nil {
		t.Fatalf("timed out waiting for %s", what)
	}
}

// The Project reconciler and the integration write conditions of their own
// to one status, each from a cached copy that may lack the other's last
// write: both conditions stay through spec changes, each naming the
// generation it acted on.
func TestConditionBesideTheProjectReconciler(t *testing.T) {
	e := env(t)
	argo := e.argoNamespace(t, nil)
	// Before the manager: the Project reconciler would make the namespace first.
	p := e.newProject(t, "both", &platformv1alpha1.ArgoCDIntegration{Enabled: true, Namespace: argo})
	kubetest.Shared(t, kubetest.Options{CRDs: true}).Manager(t, func(mgr ctrl.Manager) error {
		if err := (&project.Reconciler{Client: mgr.GetClient()}).SetupWithManager(mgr); err != nil {
			return err
		}
		r := e.reconciler()
		r.Client = mgr.GetClient()
		return r.SetupWithManager(mgr)
	})
	both := func(generation int64) {
		t.Helper()
		eventually(t, fmt.Sprintf("both conditions at generation %d", generation), func() bool {
			got := &platformv1alpha1.Project{}
			mustDo(t, e.c.Get(context.Background(), client.ObjectKeyFromObject(p), got))
			ready := meta.FindStatusCondition(got.Status.Conditions, project.ConditionReady)
			synced := meta.FindStatusCondition(got.Status.Conditions, ConditionSynced)
			return got.Generation == generation && got.Status.ObservedGeneration == generation &&
				ready != nil && ready.Status == metav1.ConditionTrue && ready.ObservedGeneration == generation &&
				synced != nil && synced.Status == metav1.ConditionTrue && synced.ObservedGeneration == generation
		})
	}
	both(1)
	for i := int32(1); i <= 3; i++ {
		update(t, e, p, func(p *platformv1alpha1.Project) { p.Spec.Quotas.VirtualClusters = ptr(i) })
		both(int64(1 + i))
	}
}
