package application

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
)

// CreateNamespace=true makes the destination namespace, with the labels
// and annotations of managedNamespaceMetadata; a label dropped from it
// leaves the namespace at the next sync, one someone else set stays.
func TestCreateNamespaceWithManagedMetadata(t *testing.T) {
	e := newEngine(t)
	ns := e.project(platformv1alpha1.ProjectSpec{LocalRepositories: true,
		AllowedDestinations: []platformv1alpha1.ProjectDestination{{Server: "https://kubernetes.default.svc", Namespace: "made-*"}}})
	target := "made-" + strings.TrimPrefix(ns, "p-")
	ctx := context.Background()
	t.Cleanup(func() { _ = e.env.Kube.CoreV1().Namespaces().Delete(ctx, target, metav1.DeleteOptions{}) })
	key := e.app(ns, "web", e.repo(map[string]string{"deploy/cm.yaml": configMapYAML("settings", "1")}), target, selfHeal,
		func(a *gitopsv1alpha1.Application) {
			a.Spec.SyncPolicy.SyncOptions = []string{"CreateNamespace=true"}
			a.Spec.SyncPolicy.ManagedNamespaceMetadata = &gitopsv1alpha1.ManagedNamespaceMetadata{
				Labels: map[string]string{"team": "web", "tier": "front"}, Annotations: map[string]string{"owner": "ops"}}
		})
	e.reconcileUntil(key, "the app synced", synced)
	got, err := e.env.Kube.CoreV1().Namespaces().Get(ctx, target, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Labels["team"] != "web" || got.Labels["tier"] != "front" || got.Annotations["owner"] != "ops" {
		t.Fatalf("namespace labels %v, annotations %v: want managedNamespaceMetadata's", got.Labels, got.Annotations)
	}
	if e.configMapValue(target, "settings") != "1" {
		t.Fatal("the app's ConfigMap is not in the namespace it created")
	}

	patch := []byte(`{"metadata":{"labels":{"mesh":"on"}}}`)
	if _, err := e.env.Kube.CoreV1().Namespaces().Patch(ctx, target, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := e.update(key, func(a *gitopsv1alpha1.Application) {
		delete(a.Spec.SyncPolicy.ManagedNamespaceMetadata.Labels, "tier")
		// A sync is what applies the metadata: ask for one.
		a.Operation = syncBy("alice")
	}); err != nil {
		t.Fatal(err)
	}
	e.reconcileUntil(key, "alice's sync", finished)
	got, err = e.env.Kube.CoreV1().Namespaces().Get(ctx, target, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got.Labels["tier"]; ok || got.Labels["team"] != "web" || got.Labels["mesh"] != "on" {
		t.Errorf("namespace labels %v: want tier gone, team kept, mesh (not the app's) kept", got.Labels)
	}
}
