package sessions

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// A login made before a restart can be refreshed after it: a new Manager on
// the same Secrets (as after gantry restarts) accepts the refresh token.
func TestSecretRefreshStoreSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	env := newTestEnv(t, Config{})
	c := newFakeClient(t)
	store := SecretRefreshStore{Client: c, Namespace: "gantry-system", Now: env.clock.Now}
	before, err := NewManager(env.signer, store, Config{Issuer: testIssuer, Now: env.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	pair, err := before.Issue(ctx, Subject{User: "alice", Groups: []string{"dev"}})
	if err != nil {
		t.Fatal(err)
	}
	var secrets corev1.SecretList
	if err := c.List(ctx, &secrets); err != nil || len(secrets.Items) != 1 {
		t.Fatalf("%d Secrets after a login (%v), want 1", len(secrets.Items), err)
	}
	for k, v := range secrets.Items[0].Data {
		if strings.Contains(string(v), pair.RefreshToken) || strings.Contains(secrets.Items[0].Name, pair.RefreshToken) {
			t.Fatalf("the refresh token is stored in clear (%s)", k)
		}
	}

	after, err := NewManager(env.signer, SecretRefreshStore{Client: c, Namespace: "gantry-system", Now: env.clock.Now},
		Config{Issuer: testIssuer, Now: env.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	env.clock.Advance(time.Minute)
	next, err := after.Refresh(ctx, pair.RefreshToken)
	if err != nil {
		t.Fatalf("refresh after restart: %v", err)
	}
	// The old token again: reuse, and the whole family is gone.
	if _, err := after.Refresh(ctx, pair.RefreshToken); !errors.Is(err, ErrRefreshTokenReused) {
		t.Fatalf("reuse after restart: %v, want ErrRefreshTokenReused", err)
	}
	if _, err := after.Refresh(ctx, next.RefreshToken); !errors.Is(err, ErrInvalidRefreshToken) {
		t.Fatalf("latest token after reuse: %v, want ErrInvalidRefreshToken", err)
	}
	if err := c.List(ctx, &secrets); err != nil || len(secrets.Items) != 0 {
		t.Fatalf("%d Secrets left after the family was revoked (%v)", len(secrets.Items), err)
	}
}

func TestSecretRefreshStoreConcurrentOnlyOneWins(t *testing.T) {
	ctx := context.Background()
	env := newTestEnv(t, Config{})
	m, err := NewManager(env.signer, SecretRefreshStore{Client: newFakeClient(t), Namespace: "ns"}, Config{Issuer: testIssuer, Now: env.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	pair, _ := m.Issue(ctx, Subject{User: "alice"})
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 8 {
		wg.Go(func() {
			if _, err := m.Refresh(ctx, pair.RefreshToken); err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d concurrent refreshes with one token succeeded, want 1", wins)
	}
}

func TestSecretRefreshStoreCollectsExpired(t *testing.T) {
	ctx := context.Background()
	env := newTestEnv(t, Config{})
	c := newFakeClient(t)
	store := SecretRefreshStore{Client: c, Namespace: "ns", Now: env.clock.Now}
	m, _ := NewManager(env.signer, store, Config{Issuer: testIssuer, Now: env.clock.Now, RefreshTTL: time.Hour})
	_, _ = m.Issue(ctx, Subject{User: "alice"})
	env.clock.Advance(30 * time.Minute)
	live, _ := m.Issue(ctx, Subject{User: "bob"})
	env.clock.Advance(45 * time.Minute) // alice's expired, bob's not
	if n, err := store.Collect(ctx); err != nil || n != 1 {
		t.Fatalf("Collect removed %d (%v), want 1", n, err)
	}
	if _, err := m.Refresh(ctx, live.RefreshToken); err != nil {
		t.Fatalf("a live token was collected: %v", err)
	}
}
