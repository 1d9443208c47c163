package lifecycle

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// record is what the parts saw, in order.
type record struct {
	mu     sync.Mutex
	events []string
}

func (r *record) add(e string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *record) get() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// until runs until told, taking a while to stop, so that a part told at the
// same time as another would show up out of order.
func (r *record) until(name string) func(context.Context) error {
	return func(ctx context.Context) error {
		<-ctx.Done()
		time.Sleep(20 * time.Millisecond)
		r.add("stopped " + name)
		return nil
	}
}

func TestStopsInReverseOrder(t *testing.T) {
	r := &record{}
	g := New(context.Background())
	for _, name := range []string{"server", "host", "platform"} {
		g.Go(name, r.until(name))
	}
	if err := g.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if want := []string{"stopped platform", "stopped host", "stopped server"}; !slices.Equal(r.get(), want) {
		t.Errorf("stop order %v, want %v", r.get(), want)
	}
}

// The first part to fail ends the group's context (a wait for readiness
// returns at once), stops the others in order, and is what Stop returns.
func TestFailureStopsAll(t *testing.T) {
	r := &record{}
	g := New(context.Background())
	g.Go("server", r.until("server"))
	g.Go("host", func(context.Context) error { return errors.New("kine: disk full") })
	select {
	case <-g.Context().Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the group's context did not end when a part failed")
	}
	g.Go("late", r.until("late")) // started by a caller that had not noticed yet
	err := g.Stop()
	if err == nil || err.Error() != "host: kine: disk full" {
		t.Errorf("Stop: %v; want the failure, named", err)
	}
	if want := []string{"stopped late", "stopped server"}; !slices.Equal(r.get(), want) {
		t.Errorf("stopped %v, want %v", r.get(), want)
	}
}

// A part that returns without being told is a failure too, error or not.
func TestPartEndingByItselfFails(t *testing.T) {
	g := New(context.Background())
	g.Go("server", func(context.Context) error { return nil })
	<-g.Context().Done()
	if err := g.Stop(); err == nil || !strings.Contains(err.Error(), "server: stopped by itself") {
		t.Errorf("Stop: %v; want server named as stopped by itself", err)
	}
}

// An interrupt (the parent's end) stops the group; it is no failure, and
// what a part returns while stopping is none either.
func TestInterruptIsNoFailure(t *testing.T) {
	r := &record{}
	ctx, cancel := context.WithCancel(context.Background())
	g := New(ctx)
	g.Go("server", r.until("server"))
	g.Go("host", func(ctx context.Context) error {
		<-ctx.Done()
		return errors.New("context canceled while stopping")
	})
	cancel()
	select {
	case <-g.Context().Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the group's context did not end with its parent")
	}
	if len(r.get()) != 0 {
		t.Errorf("parts stopped before Stop: %v", r.get())
	}
	if err := g.Stop(); err != nil {
		t.Errorf("Stop after an interrupt: %v, want nil", err)
	}
	if want := []string{"stopped server"}; !slices.Equal(r.get(), want) {
		t.Errorf("stopped %v, want %v", r.get(), want)
	}
}
