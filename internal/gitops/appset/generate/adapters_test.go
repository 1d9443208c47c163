package generate

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"gantry.dev/gantry/internal/gitops/cluster"
)

func TestRegistryClusters(t *testing.T) {
	secret := func(name, server string, labels map[string]string) *corev1.Secret {
		l := map[string]string{cluster.SecretTypeLabel: cluster.SecretTypeValue}
		for k, v := range labels {
			l[k] = v
		}
		return &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: "gantry", Name: "c-" + name, Labels: l,
				Annotations: map[string]string{"note": name}},
			Data: map[string][]byte{"name": []byte(name), "server": []byte(server), "config": []byte(`{"execProviderConfig":{}}`)},
		}
	}
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	reader := fake.NewClientBuilder().WithScheme(scheme).WithObjects(
		secret("zeta", "https://zeta.example.com", map[string]string{"env": "prod"}),
		secret("alpha", "https://alpha.example.com", nil),
		secret("broken", "", nil), // no server: not a cluster
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "gantry", Name: "unrelated"}},
	).Build()
	reg := &cluster.Registry{Reader: reader, Namespace: "gantry", Host: &rest.Config{Host: "https://127.0.0.1:6443"}}
	got, err := RegistryClusters{Registry: reg}.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].Name != "in-cluster" || !got[0].Local || got[0].Server != cluster.HostServer ||
		got[1].Name != "alpha" || got[2].Name != "zeta" || got[2].Labels["env"] != "prod" || got[2].Annotations["note"] != "zeta" || got[2].Local {
		t.Errorf("clusters: %+v", got)
	}

	// A Secret registering the host replaces the local entry (Argo CD's in-cluster).
	reader = fake.NewClientBuilder().WithScheme(scheme).WithObjects(
		secret("in-cluster", cluster.HostServer, map[string]string{"env": "host"})).Build()
	reg.Reader = reader
	got, err = RegistryClusters{Registry: reg}.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Local || got[0].Labels["env"] != "host" {
		t.Errorf("clusters: %+v", got)
	}
}
