package sessions

import (
	"context"
	"sync"
	"testing"
	"time"
)

const testIssuer = "https://gantry.example.com"

// fakeClock is a settable clock shared by a Signer, a Manager and a store.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type testEnv struct {
	clock   *fakeClock
	keys    *MemoryKeyStore
	signer  *Signer
	refresh *MemoryRefreshStore
	mgr     *Manager
}

// newTestEnv builds a Manager on real keys with a fake clock; cfg may
// override the Config (Issuer and Now are filled in when empty).
func newTestEnv(t testing.TB, cfg Config) *testEnv {
	t.Helper()
	env := &testEnv{clock: newFakeClock(), keys: &MemoryKeyStore{}}
	var err error
	env.signer, err = NewSigner(context.Background(), env.keys, SignerOptions{Now: env.clock.Now})
	if err != nil {
		t.Fatalf("NewSigner: %v", err)
	}
	env.refresh = NewMemoryRefreshStore(env.clock.Now)
	if cfg.Issuer == "" {
		cfg.Issuer = testIssuer
	}
	if cfg.Now == nil {
		cfg.Now = env.clock.Now
	}
	env.mgr, err = NewManager(env.signer, env.refresh, cfg)
	if err != nil {
		t.Fatalf("NewManager: %v", err)
	}
	return env
}

// manager returns another Manager on the same signer and clock.
func (env *testEnv) manager(t testing.TB, cfg Config) *Manager {
	t.Helper()
	if cfg.Issuer == "" {
		cfg.Issuer = testIssuer
	}
	cfg.Now = env.clock.Now
	m, err := NewManager(env.signer, NewMemoryRefreshStore(env.clock.Now), cfg)
	if err != nil {
		t.Fatalf("NewManager: %v", err)
	}
	return m
}
