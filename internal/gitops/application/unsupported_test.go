package application

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
)

// The app as stored is read again only when its spec or operation may have
// changed (a new generation), not at each write of its status or metadata:
// a refresh of a thousand apps wrote each twice and read each twice more.
func TestUnsupportedReadOncePerGeneration(t *testing.T) {
	s := runtime.NewScheme()
	_ = gitopsv1alpha1.AddToScheme(s)
	app := &gitopsv1alpha1.Application{ObjectMeta: metav1.ObjectMeta{Namespace: "p-x", Name: "a", UID: "u1", Generation: 1, ResourceVersion: "10"}}
	reads := 0
	c := fake.NewClientBuilder().WithScheme(s).WithObjects(app.DeepCopy()).WithInterceptorFuncs(interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			reads++
			return c.Get(ctx, key, obj, opts...)
		}}).Build()
	r := &Reconciler{Client: c}
	ask := func() {
		t.Helper()
		if _, err := r.unsupported(context.Background(), app); err != nil {
			t.Fatal(err)
		}
	}
	ask()
	app.ResourceVersion = "11" // a status write, a refresh annotation
	app.Annotations = map[string]string{RefreshAnnotation: "normal"}
	ask()
	if reads != 1 {
		t.Errorf("%d reads for one generation, want 1", reads)
	}
	app.Generation, app.ResourceVersion = 2, "12" // a new spec
	ask()
	app.UID, app.Generation = "u2", 1 // deleted and made again
	ask()
	if reads != 3 {
		t.Errorf("%d reads after a new generation and a new app, want 3", reads)
	}
}
