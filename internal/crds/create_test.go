package crds_test

import (
	"context"
	"os"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/crds"
	"gantry.dev/gantry/internal/kubetest"
)

func TestMain(m *testing.M) { os.Exit(kubetest.Main(m)) }

// CreateIfMissing creates once, and never touches an object that exists: a
// project renamed by its owner keeps its name across gantry's restarts.
func TestCreateIfMissing(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a real API server")
	}
	env := kubetest.Shared(t, kubetest.Options{CRDs: true})
	ctx := context.Background()
	p := &platformv1alpha1.Project{ObjectMeta: metav1.ObjectMeta{Name: "create-if-missing"},
		Spec: platformv1alpha1.ProjectSpec{DisplayName: "First"}}
	t.Cleanup(func() { env.Client.Delete(ctx, p) })

	created, err := crds.CreateIfMissing(ctx, env.Client, p.DeepCopy())
	if err != nil || !created {
		t.Fatalf("first call: created=%v err=%v", created, err)
	}
	got := &platformv1alpha1.Project{}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(p), got); err != nil || got.Spec.DisplayName != "First" {
		t.Fatalf("after create: %+v %v", got.Spec, err)
	}
	got.Spec.DisplayName = "Renamed"
	if err := env.Client.Update(ctx, got); err != nil {
		t.Fatal(err)
	}
	created, err = crds.CreateIfMissing(ctx, env.Client, p.DeepCopy())
	if err != nil || created {
		t.Fatalf("second call: created=%v err=%v", created, err)
	}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(p), got); err != nil || got.Spec.DisplayName != "Renamed" {
		t.Fatalf("an existing object was changed: %+v %v", got.Spec, err)
	}
}
