package kubetest

import (
	"context"
	"os"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

// The shared control plane serves gantry's CRDs: a Project can be made and read back.
func TestSharedServesCRDs(t *testing.T) {
	env := Shared(t, Options{CRDs: true})
	ctx := context.Background()
	p := &platformv1alpha1.Project{ObjectMeta: metav1.ObjectMeta{Name: "kubetest"}}
	if err := env.Client.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	got := &platformv1alpha1.Project{}
	if err := env.Client.Get(ctx, client.ObjectKey{Name: "kubetest"}, got); err != nil || got.UID == "" {
		t.Fatalf("reading the Project back: %v", err)
	}
	ns := env.Namespace(t)
	if _, err := env.Kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil {
		t.Fatalf("Namespace: %v", err)
	}
}
