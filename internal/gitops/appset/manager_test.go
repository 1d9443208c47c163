package appset

import (
	"context"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/gitops/appset/generate"
	"gantry.dev/gantry/internal/gitops/cluster"
	"gantry.dev/gantry/internal/gitops/source"
)

// TestWatches runs the reconciler in a manager: cluster Secrets re-run sets
// with a clusters generator, a VirtualCluster turning Running lets its
// Application be created, and an Application gone lets its VirtualCluster go.
func TestWatches(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	cache, err := source.NewCache(source.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	f.env.Manager(t, func(mgr ctrl.Manager) error {
		return New(Options{
			Client: mgr.GetClient(),
			Generator: &generate.Generator{Sources: generate.CacheSources{Cache: cache},
				Clusters: generate.RegistryClusters{Registry: &cluster.Registry{Reader: mgr.GetClient(), Namespace: f.ns}}},
			Namespace: f.ns,
			APIReader: mgr.GetAPIReader(),
			Logger:    testr.New(t),
		}).SetupWithManager(mgr)
	})

	f.create(`
metadata: {name: per-cluster}
spec:
  generators:
    - clusters:
        selector: {matchLabels: {env: test}}
  template:
    metadata: {name: '{{nameNormalized}}-app'}
    spec:
      project: ""
      source: {repoURL: 'https://example.com/x.git', path: x}
      destination: {server: '{{server}}', namespace: x}
`)
	f.create(`
metadata: {name: preview}
spec:
  generators:
    - list:
        elements: [{name: pr1}]
  virtualCluster: {name: 'vc-{{name}}'}
  template:
    metadata: {name: '{{name}}-app'}
    spec:
      project: ""
      source: {repoURL: 'https://example.com/x.git', path: x}
      destination: {name: '{{virtualCluster.clusterName}}', namespace: x}
`)

	// A cluster Secret labelled env=test: the clusters set generates for it.
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "cluster-staging", Namespace: f.ns,
		Labels: map[string]string{cluster.SecretTypeLabel: cluster.SecretTypeValue, "env": "test"}},
		StringData: map[string]string{"name": "staging", "server": "https://staging.example.com"}}
	if err := f.env.Client.Create(ctx, sec); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the clusters generator's Application", func() bool { return f.apps()["staging-app"] != nil })

	// The preview set's VirtualCluster, then its Application once it runs.
	eventually(t, "the VirtualCluster", func() bool { return f.vcs()["vc-pr1"] != nil })
	if f.apps()["pr1-app"] != nil {
		t.Fatal("the Application was created before its VirtualCluster runs")
	}
	vc := f.vcs()["vc-pr1"]
	vc.Status.Phase = platformv1alpha1.PhaseRunning
	if err := f.env.Client.Status().Update(ctx, vc); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the Application once its VirtualCluster runs", func() bool { return f.apps()["pr1-app"] != nil })
	eventually(t, "status.resources", func() bool {
		return hasResource(f.get("preview"), "VirtualCluster", "vc-pr1", gitopsv1alpha1.HealthHealthy)
	})

	// The element removed: the Application is deleted; once its finalizer
	// is removed (by the Application controller, here by hand), the
	// VirtualCluster goes too.
	f.update("preview", `
spec:
  generators:
    - list: {elements: []}
  virtualCluster: {name: 'vc-{{name}}'}
  template:
    metadata: {name: '{{name}}-app'}
    spec:
      project: ""
      source: {repoURL: 'https://example.com/x.git', path: x}
      destination: {name: '{{virtualCluster.clusterName}}', namespace: x}
`)
	eventually(t, "the Application being deleted", func() bool {
		a := f.apps()["pr1-app"]
		return a != nil && !a.DeletionTimestamp.IsZero()
	})
	if v := f.vcs()["vc-pr1"]; v == nil || !v.DeletionTimestamp.IsZero() {
		t.Fatal("the VirtualCluster went before its Application")
	}
	app := f.apps()["pr1-app"]
	controllerutil.RemoveFinalizer(app, gitopsv1alpha1.ApplicationFinalizer)
	if err := f.env.Client.Update(ctx, app); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the VirtualCluster deleted", func() bool { return f.vcs()["vc-pr1"] == nil })

	// The set deleted: its finalizer is removed once nothing of it is left.
	if err := f.env.Client.Delete(ctx, f.get("preview")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the ApplicationSet gone", func() bool {
		err := f.env.Client.Get(ctx, client.ObjectKey{Namespace: f.ns, Name: "preview"}, &gitopsv1alpha1.ApplicationSet{})
		return apierrors.IsNotFound(err)
	})
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
