package application

import (
	"context"
	"reflect"
	"sort"
	"testing"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
	"gantry.dev/gantry/internal/gitops/cluster"
)

// A cluster Secret wakes exactly the apps whose destination is its cluster, by
// name or by server (trailing slashes aside), and only when it is a cluster
// Secret in the Registry's namespace.
func TestClusterSecretWakesItsApps(t *testing.T) {
	app := func(ns, name, destName, destServer string) *gitopsv1alpha1.Application {
		return &gitopsv1alpha1.Application{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: gitopsv1alpha1.ApplicationSpec{Destination: gitopsv1alpha1.ApplicationDestination{Name: destName, Server: destServer}}}
	}
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = gitopsv1alpha1.AddToScheme(s)
	c := fake.NewClientBuilder().WithScheme(s).WithObjects(
		app("p-a", "by-name", "p-a/pr-1", ""),
		app("p-b", "by-server", "", "https://127.0.0.1:40001/"),
		app("p-a", "other-cluster", "p-a/pr-2", ""),
		app("p-a", "host", "", cluster.HostServer),
	).Build()
	r := &Reconciler{Client: c, Clusters: &cluster.Registry{Namespace: "gantry-system"}, Log: logr.Discard()}

	secret, err := cluster.Secret("gantry-system", "vcluster-p-a-pr-1",
		cluster.Cluster{Name: "p-a/pr-1", Server: "https://127.0.0.1:40001"}, cluster.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !r.isClusterSecret(secret) {
		t.Fatal("a cluster Secret in the Registry's namespace is not recognised")
	}
	var got []string
	for _, req := range r.appsForClusterSecret(context.Background(), secret) {
		got = append(got, req.String())
	}
	sort.Strings(got)
	if want := []string{"p-a/by-name", "p-b/by-server"}; !reflect.DeepEqual(got, want) {
		t.Errorf("woken apps = %v, want %v", got, want)
	}

	other := secret.DeepCopy()
	other.Namespace = "elsewhere"
	plain := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "gantry-system", Name: "repo"}}
	if r.isClusterSecret(other) || r.isClusterSecret(plain) {
		t.Error("a Secret outside the namespace, or without the cluster label, counts as a cluster Secret")
	}
}
