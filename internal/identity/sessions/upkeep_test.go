package sessions

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
)

// A gantry that keeps running rotates its keys when they are due and
// collects expired tokens, round after round, a failing collector
// included; it stops when told.
func TestUpkeep(t *testing.T) {
	clock := newFakeClock()
	signer, err := NewSigner(context.Background(), &MemoryKeyStore{}, SignerOptions{RotationPeriod: time.Hour, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	first, _ := signer.SigningKey()
	var collected, failed, logged atomic.Int32
	u := &Upkeep{Signer: signer, Every: 10 * time.Millisecond,
		Collect: []func(context.Context) error{
			func(context.Context) error { failed.Add(1); return errors.New("the API server is away") },
			func(context.Context) error { collected.Add(1); return nil },
		},
		Logger: funcr.New(func(_, _ string) { logged.Add(1) }, funcr.Options{})}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.Start(ctx) }()

	eventually := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("not within 5s: %s", what)
			}
		}
	}
	eventually("two rounds of collection despite a failing collector", func() bool { return collected.Load() >= 2 && failed.Load() >= 2 })
	if id, _ := signer.SigningKey(); id != first {
		t.Fatal("the key rotated before it was due")
	}
	if logged.Load() == 0 {
		t.Error("the failing collector was not logged")
	}
	clock.Advance(2 * time.Hour)
	eventually("the key rotated once due", func() bool { id, _ := signer.SigningKey(); return id != first })

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Start returned %v when stopped", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Start did not return once its context ended")
	}
}
