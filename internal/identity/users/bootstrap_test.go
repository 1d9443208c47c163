package users

import (
	"context"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"gantry.dev/gantry/internal/kubetest"
)

// Replicas starting together (the Helm chart's replicas: 2) bootstrap the
// admin at the same moment: one of them makes the password, and it is the
// one the hash checks; the others start without error and show none. A
// later start makes none; with the hash's Secret deleted, a start makes a
// new one.
func TestBootstrapByReplicasStartingTogether(t *testing.T) {
	env := kubetest.Shared(t, kubetest.Options{CRDs: true})
	ns := env.Namespace(t)
	ctx := context.Background()
	const replicas = 4
	var wg sync.WaitGroup
	passwords := make([]string, replicas)
	errs := make([]error, replicas)
	for i := range replicas {
		wg.Go(func() { passwords[i], errs[i] = Bootstrap(ctx, env.Client, ns) })
	}
	wg.Wait()
	var made []string
	for i := range replicas {
		if errs[i] != nil {
			t.Errorf("replica %d: %v", i, errs[i])
		}
		if passwords[i] != "" {
			made = append(made, passwords[i])
		}
	}
	if len(made) != 1 {
		t.Fatalf("%d replicas made an admin password, want one", len(made))
	}
	p := Passwords{Reader: env.Client, Namespace: ns}
	if ok, err := p.Check(ctx, Admin, made[0]); !ok || err != nil {
		t.Errorf("the password the one replica shows does not sign in as admin (%v)", err)
	}
	if pw, err := Bootstrap(ctx, env.Client, ns); pw != "" || err != nil {
		t.Errorf("a later start: %q, %v; want no password", pw, err)
	}
	if err := env.Client.Delete(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: SecretName(Admin)}}); err != nil {
		t.Fatal(err)
	}
	again, err := Bootstrap(ctx, env.Client, ns)
	if err != nil || again == "" || again == made[0] {
		t.Fatalf("a start after the Secret's deletion: %q, %v; want a new password", again, err)
	}
	if ok, _ := p.Check(ctx, Admin, again); !ok {
		t.Error("the new password does not sign in as admin")
	}
}
