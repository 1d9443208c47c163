package sessions

import (
	"fmt"
	"net/http"
	"net/http/httptest"
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
		clock.Advance(wait)
		if ok, _ := l.Allow("alice", "10.0.0.1"); !ok {
			t.Fatalf("still blocked after waiting %s", wait)
		}
	}
	l.Succeeded("alice", "10.0.0.1")
	if ok, _ := l.Allow("alice", "10.0.0.1"); !ok {
		t.Fatal("pair still blocked after success")
	}
}

// Anybody can fail to log in as admin: that must not lock admin out. The
// guesser's address is throttled for admin; admin, from elsewhere, is not.
func TestLimiterGuesserDoesNotLockOutUser(t *testing.T) {
	l := NewLimiter(LimiterOptions{Now: newFakeClock().Now})
	for range 10 {
		l.Failed("admin", "203.0.113.66")
	}
	if ok, _ := l.Allow("admin", "203.0.113.66"); ok {
		t.Error("the guessing address is not throttled")
	}
	if ok, wait := l.Allow("admin", "192.0.2.10"); !ok {
		t.Errorf("admin from another address waits %s", wait)
	}
	// The guesser is throttled for admin, not yet for everybody: its address
	// budget (20) is not spent.
	if ok, _ := l.Allow("bob", "203.0.113.66"); !ok {
		t.Error("the guessing address is throttled for another user after 10 failures")
	}
}

// One address trying many users, each only a few times, runs out of its
// address budget; other addresses are unaffected, and a success of one of its
// users does not reset it.
func TestLimiterAddressSprayingUsers(t *testing.T) {
	l := NewLimiter(LimiterOptions{Now: newFakeClock().Now})
	for i := range 20 {
		user := fmt.Sprintf("user%d", i)
		if ok, _ := l.Allow(user, "203.0.113.66"); !ok {
			t.Fatalf("throttled before its budget was spent (attempt %d)", i+1)
		}
		l.Failed(user, "203.0.113.66")
	}
	if ok, wait := l.Allow("someone-new", "203.0.113.66"); ok || wait != time.Second {
		t.Errorf("after 20 failures over 20 users: Allow = %v, %s; want false, 1s", ok, wait)
	}
	l.Succeeded("mallory", "203.0.113.66")
	if ok, _ := l.Allow("someone-new", "203.0.113.66"); ok {
		t.Error("a success of the address's own account cleared its budget")
	}
	if ok, _ := l.Allow("user1", "198.51.100.7"); !ok {
		t.Error("another address is throttled")
	}
}

// IPv6 addresses count per /64: a host cannot get a fresh count by taking
// another address of its own prefix. IPv4-mapped addresses count as IPv4.
func TestLimiterAddressKeys(t *testing.T) {
	l := NewLimiter(LimiterOptions{Now: newFakeClock().Now})
	for i := range 5 {
		l.Failed("admin", fmt.Sprintf("2001:db8:1:2::%x", i+1))
	}
	if ok, _ := l.Allow("admin", "2001:db8:1:2:ffff::9"); ok {
		t.Error("another address of the same /64 is not throttled")
	}
	if ok, _ := l.Allow("admin", "2001:db8:1:3::1"); !ok {
		t.Error("another /64 is throttled")
	}
	for range 5 {
		l.Failed("admin", "::ffff:192.0.2.1")
	}
	if ok, _ := l.Allow("admin", "192.0.2.1"); ok {
		t.Error("an IPv4-mapped address counts apart from its IPv4 form")
	}
	for in, want := range map[string]string{"10.0.0.1": "10.0.0.1", "::ffff:10.0.0.1": "10.0.0.1", "fe80::1%eth0": "fe80::/64",
		"2001:db8::1": "2001:db8::/64", "not-an-ip": "not-an-ip", "": ""} {
		if got := addressKey(in); got != want {
			t.Errorf("addressKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSourceAddressIgnoresForwardedHeaders(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/api/v1/session", nil)
	r.RemoteAddr = "192.0.2.10:53211"
	r.Header.Set("X-Forwarded-For", "198.51.100.1")
	r.Header.Set("X-Real-Ip", "198.51.100.2")
	r.Header.Set("Forwarded", "for=198.51.100.3")
	if got := SourceAddress(r); got != "192.0.2.10" {
		t.Errorf("SourceAddress = %q, want the connection's 192.0.2.10", got)
	}
	r.RemoteAddr = "[2001:db8::1]:443"
	if got := SourceAddress(r); got != "2001:db8::1" {
		t.Errorf("SourceAddress = %q, want 2001:db8::1", got)
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
	if l.Len() != 2 {
		t.Fatalf("Len = %d, want 2 (the pair and its address)", l.Len())
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
	if _, ok := l.entries[pairKey("user0", "")]; ok {
		t.Error("oldest entry kept")
	}
	if _, ok := l.entries[pairKey("user999", "")]; !ok {
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
