package sessions

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

func newFakeClient(t *testing.T, objs ...client.Object) client.Client {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	return fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).Build()
}

func TestSecretKeyStore(t *testing.T) {
	ctx := context.Background()
	c := newFakeClient(t)
	store := SecretKeyStore{Client: c, Namespace: "gantry-system", Name: "gantry-session-keys"}

	if keys, err := store.Load(ctx); err != nil || len(keys) != 0 {
		t.Fatalf("missing Secret: %v, %v; want no keys", keys, err)
	}

	clock := newFakeClock()
	signer, err := NewSigner(ctx, store, SignerOptions{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(DefaultRotationPeriod)
	if err := signer.Rotate(ctx); err != nil {
		t.Fatal(err)
	}

	var secret corev1.Secret
	if err := c.Get(ctx, client.ObjectKey{Namespace: "gantry-system", Name: "gantry-session-keys"}, &secret); err != nil {
		t.Fatal(err)
	}
	if secret.Type != corev1.SecretTypeOpaque || secret.Labels["app.kubernetes.io/managed-by"] != "gantry" {
		t.Errorf("Secret type %q labels %v", secret.Type, secret.Labels)
	}
	raw := string(secret.Data[SecretKeysDataKey])
	for _, want := range []string{`"kid"`, `"created"`, "BEGIN PRIVATE KEY"} {
		if !strings.Contains(raw, want) {
			t.Errorf("%s lacks %s", SecretKeysDataKey, want)
		}
	}

	// A new Signer on the same Secret (a restart) has the same keys.
	again, err := NewSigner(ctx, store, SignerOptions{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	want, got := kids(mustJWKS(t, signer)), kids(mustJWKS(t, again))
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("after reload kids = %v, want %v", got, want)
	}
}

func TestSecretKeyStoreKeepsOtherDataAndRejectsGarbage(t *testing.T) {
	ctx := context.Background()
	existing := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "keys"},
		Data:       map[string][]byte{"other": []byte("kept"), SecretKeysDataKey: []byte("{not json")},
	}
	c := newFakeClient(t, existing)
	store := SecretKeyStore{Client: c, Namespace: "ns", Name: "keys"}

	_, err := store.Load(ctx)
	if err == nil || !strings.Contains(err.Error(), "delete the Secret") {
		t.Fatalf("garbage accepted or unhelpful error: %v", err)
	}

	if err := store.Save(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := NewSigner(ctx, store, SignerOptions{}); err != nil {
		t.Fatal(err)
	}
	var secret corev1.Secret
	if err := c.Get(ctx, client.ObjectKey{Namespace: "ns", Name: "keys"}, &secret); err != nil {
		t.Fatal(err)
	}
	if string(secret.Data["other"]) != "kept" {
		t.Error("Save dropped another data key")
	}
	if keys, err := store.Load(ctx); err != nil || len(keys) != 1 {
		t.Fatalf("Load = %d keys, %v; want 1", len(keys), err)
	}
}
