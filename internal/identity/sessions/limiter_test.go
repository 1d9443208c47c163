package sessions

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestLimiterBackoff(t *testing.T) {
	clock := newFakeClock()
	l := NewLimiter(LimiterOptions{Now: clock.Now})

	for i := range 4 {
		l.Failed("alice", "10.0.0.1")
		if ok, wait := l.Allow("alice", "10.0.0.1"); !ok {
			t.Fatalf("blocked after %d failures (wait %s)", i+1, wait)
		}
	}
	want := []time.Duration{1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300}
	for i, w := range want {
		l.Failed("alice", "10.0.0.1")
		ok, wait := l.Allow("alice", "10.0.0.1")
		if ok || wait != w*time.Second {
			t.Fatalf("failure %d: Allow = %v, %s; want false, %s", i+5, ok, wait, w*time.Second)
		}
		// The user is blocked from any address, the address for any user.
		if ok, _ := l.Allow("alice", "10.9.9.9"); ok {
			t.Fatal("user not blocked from another address")
		}
		if ok, _ := l.Allow("bob", "10.0.0.1"); ok {
			t.Fatal("address not blocked for another user")
		}
		clock.Advance(wait)
		if ok, _ := l.Allow("alice", "10.0.0.1"); !ok {
			t.Fatalf("still blocked after waiting %s", wait)
		}
	}

	// Success clears the user but not the address.
	l.Succeeded("alice", "10.0.0.1")
	if ok, _ := l.Allow("alice", "10.9.9.9"); !ok {
		t.Fatal("user still blocked after success")
	}
	l.Failed("carol", "10.0.0.1")
	if ok, _ := l.Allow("carol", ""); !ok {
		t.Fatal("carol blocked after one failure")
	}
	if ok, _ := l.Allow("", "10.0.0.1"); ok {
		t.Fatal("address count was cleared by another user's success")
	}
}

func TestLimiterWindow(t *testing.T) {
	clock := newFakeClock()
	l := NewLimiter(LimiterOptions{Now: clock.Now})
	for range 4 {
		l.Failed("alice", "")
	}
	clock.Advance(5 * time.Minute) // quiet for a window: forgotten
	l.Failed("alice", "")
	if ok, _ := l.Allow("alice", ""); !ok {
		t.Fatal("old failures still counted after the window")
	}
	if l.Len() != 1 {
		t.Fatalf("Len = %d, want 1", l.Len())
	}
}

func TestLimiterUserCaseFolded(t *testing.T) {
	l := NewLimiter(LimiterOptions{Now: newFakeClock().Now})
	for _, u := range []string{"alice", "Alice", "ALICE", "aLiCe", "alicE"} {
		l.Failed(u, "")
	}
	if ok, _ := l.Allow("alice", ""); ok {
		t.Fatal("case variants escaped the limit")
	}
}

func TestLimiterMemoryBound(t *testing.T) {
	clock := newFakeClock()
	l := NewLimiter(LimiterOptions{MaxEntries: 100, Now: clock.Now})
	for i := range 1000 {
		l.Failed(fmt.Sprintf("user%d", i), "")
		clock.Advance(time.Millisecond)
	}
	if l.Len() != 100 {
		t.Fatalf("Len = %d, want the cap 100", l.Len())
	}
	// The oldest were evicted, the newest kept.
	if _, ok := l.entries[userKey("user0")]; ok {
		t.Error("oldest entry kept")
	}
	if _, ok := l.entries[userKey("user999")]; !ok {
		t.Error("newest entry evicted")
	}
}

func TestLimiterConcurrent(t *testing.T) {
	l := NewLimiter(LimiterOptions{MaxEntries: 50})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				user, ip := fmt.Sprintf("u%d", i%70), fmt.Sprintf("10.0.%d.%d", g, i%3)
				l.Allow(user, ip)
				l.Failed(user, ip)
				if i%7 == 0 {
					l.Succeeded(user, ip)
				}
			}
		})
	}
	wg.Wait()
	if l.Len() > 50 {
		t.Fatalf("Len = %d beyond the cap", l.Len())
	}
}
