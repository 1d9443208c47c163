package idleprocs

import (
	"context"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

// A process on 2 CPUs: a quiet window (with a short peak in it) makes it one
// P, the first busy second gives both back, and a window with work in it
// keeps both.
func TestNext(t *testing.T) {
	s := state{procs: 2}
	seconds := int(window / interval)
	calmSecond, peak, busy := 50*time.Millisecond, 250*time.Millisecond, 800*time.Millisecond
	for i := 1; i <= seconds; i++ {
		used := calmSecond
		if i == 3 {
			used = peak
		}
		got := s.next(used, 2)
		if i < seconds && got != 0 {
			t.Fatalf("after %d quiet seconds GOMAXPROCS became %d", i, got)
		}
		if i == seconds && got != 1 {
			t.Fatalf("after a quiet window: %d, want 1", got)
		}
	}
	if got := s.next(peak, 2); got != 0 {
		t.Fatalf("a peak on one P: %d, want no change", got)
	}
	if got := s.next(busy, 2); got != 2 {
		t.Fatalf("work on one P: %d, want 2", got)
	}
	// A burst: most seconds busy, some quiet; never one P.
	for i := range 3 * seconds {
		used := busy
		if i%3 != 0 {
			used = calmSecond
		}
		if got := s.next(used, 2); got != 0 {
			t.Fatalf("second %d of a burst with pauses: GOMAXPROCS %d", i, got)
		}
	}
}

// Run sets the busy GOGC while the process works (it starts busy) and gives
// the idle one back when it ends.
func TestBusyGC(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("one CPU: Run leaves the process alone")
	}
	defer debug.SetGCPercent(debug.SetGCPercent(50))
	gogc := func() uint64 {
		s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
		metrics.Read(s)
		return s[0].Value.Uint64()
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { Run(ctx, 200); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for gogc() != 200 {
		if time.Now().After(deadline) {
			t.Fatalf("GOGC %d while busy, want 200", gogc())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	if got := gogc(); got != 50 {
		t.Fatalf("GOGC %d after Run, want the idle 50 back", got)
	}
}
