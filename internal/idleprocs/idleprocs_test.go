package idleprocs

import (
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
