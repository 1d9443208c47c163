package idleprocs

import (
	"testing"
	"time"
)

// A process on 2 CPUs: ten quiet seconds make it one P, the first busy second
// gives both back, and a short pause inside a burst changes nothing.
func TestNext(t *testing.T) {
	s := state{procs: 2}
	quiet, busy := 10*time.Millisecond, 800*time.Millisecond
	for i := 1; i < quietFor; i++ {
		if got := s.next(quiet, 2); got != 0 {
			t.Fatalf("after %d quiet seconds GOMAXPROCS became %d", i, got)
		}
	}
	if got := s.next(quiet, 2); got != 1 {
		t.Fatalf("after %d quiet seconds: %d, want 1", quietFor, got)
	}
	if got := s.next(quiet, 2); got != 0 {
		t.Fatalf("idle and quiet: %d, want no change", got)
	}
	if got := s.next(busy, 2); got != 2 {
		t.Fatalf("work on one P: %d, want 2", got)
	}
	// A burst with pauses shorter than the quiet period keeps both CPUs.
	for i := range 3 * quietFor {
		used := busy
		if i%(quietFor-1) != 0 {
			used = quiet
		}
		if got := s.next(used, 2); got != 0 {
			t.Fatalf("second %d of a burst with pauses: GOMAXPROCS %d", i, got)
		}
	}
}
