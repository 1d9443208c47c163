package sessions

import (
	"container/list"
	"strings"
	"sync"
	"time"
)

// LimiterOptions configure a Limiter; zero values take the defaults, which
// follow Argo CD's session manager (5 failures in 5 minutes).
type LimiterOptions struct {
	// MaxFailures is how many failures within Window are free; each one
	// after that doubles the wait. Default 5.
	MaxFailures int
	// Window is how long failures are remembered after the last failure
	// or wait. Default 5 minutes.
	Window time.Duration
	// BaseDelay is the first wait, MaxDelay the cap. Default 1 s and 5 min.
	BaseDelay, MaxDelay time.Duration
	// MaxEntries bounds memory: beyond it the least recently failing
	// user or address is forgotten. Default 10000.
	MaxEntries int
	// Now is the clock; time.Now when nil. Tests set it.
	Now func() time.Time
}

// Limiter slows down password guessing. It counts failed logins per user
// name and per client address separately: per user stops guessing one
// account from many addresses, per address stops trying many accounts from
// one. After MaxFailures failures within Window, each further failure
// makes the key wait BaseDelay, 2×, 4×, … up to MaxDelay. Safe for
// concurrent use.
//
// The caller calls Allow before checking the password (and refuses without
// checking when it says no), then Failed or Succeeded.
type Limiter struct {
	opts LimiterOptions

	mu      sync.Mutex
	entries map[string]*list.Element // of *failures
	order   *list.List               // front: most recently failed
}

type failures struct {
	key          string
	count        int
	last         time.Time // of the last failure
	blockedUntil time.Time
}

// NewLimiter returns an empty Limiter.
func NewLimiter(opts LimiterOptions) *Limiter {
	if opts.MaxFailures <= 0 {
		opts.MaxFailures = 5
	}
	if opts.Window <= 0 {
		opts.Window = 5 * time.Minute
	}
	if opts.BaseDelay <= 0 {
		opts.BaseDelay = time.Second
	}
	if opts.MaxDelay <= 0 {
		opts.MaxDelay = 5 * time.Minute
	}
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = 10000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Limiter{opts: opts, entries: map[string]*list.Element{}, order: list.New()}
}

// Allow reports whether a login for user from ip may be tried now, and if
// not, how long to wait (for a Retry-After header). Either may be empty.
func (l *Limiter) Allow(user, ip string) (ok bool, retryAfter time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.opts.Now()
	for _, key := range limiterKeys(user, ip) {
		f := l.lookup(key, now)
		if f != nil && now.Before(f.blockedUntil) {
			retryAfter = max(retryAfter, f.blockedUntil.Sub(now))
		}
	}
	return retryAfter == 0, retryAfter
}

// Failed records a failed login for user from ip.
func (l *Limiter) Failed(user, ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.opts.Now()
	for _, key := range limiterKeys(user, ip) {
		f := l.lookup(key, now)
		if f == nil {
			f = l.insert(key)
		} else {
			l.order.MoveToFront(l.entries[key])
		}
		f.count++
		f.last = now
		if f.count >= l.opts.MaxFailures {
			f.blockedUntil = now.Add(l.delay(f.count - l.opts.MaxFailures))
		}
	}
}

// Succeeded forgets the failures of user. Those of ip are kept on purpose:
// otherwise an attacker with one valid account could clear their address's
// count between guesses at other accounts.
func (l *Limiter) Succeeded(user, ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if user == "" {
		return
	}
	if e, ok := l.entries[userKey(user)]; ok {
		l.remove(e)
	}
}

// Len returns how many users and addresses are tracked.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.entries)
}

// delay returns BaseDelay·2^n, capped at MaxDelay.
func (l *Limiter) delay(n int) time.Duration {
	d := l.opts.BaseDelay
	for range n {
		if d >= l.opts.MaxDelay {
			break
		}
		d *= 2
	}
	return min(d, l.opts.MaxDelay)
}

// lookup returns the entry of key, dropping it when it is stale: no
// failure and no wait within Window.
func (l *Limiter) lookup(key string, now time.Time) *failures {
	e, ok := l.entries[key]
	if !ok {
		return nil
	}
	f := e.Value.(*failures)
	quietSince := f.last
	if f.blockedUntil.After(quietSince) {
		quietSince = f.blockedUntil
	}
	if !now.Before(quietSince.Add(l.opts.Window)) {
		l.remove(e)
		return nil
	}
	return f
}

func (l *Limiter) insert(key string) *failures {
	for len(l.entries) >= l.opts.MaxEntries {
		l.remove(l.order.Back())
	}
	f := &failures{key: key}
	l.entries[key] = l.order.PushFront(f)
	return f
}

func (l *Limiter) remove(e *list.Element) {
	l.order.Remove(e)
	delete(l.entries, e.Value.(*failures).key)
}

func limiterKeys(user, ip string) []string {
	keys := make([]string, 0, 2)
	if user != "" {
		keys = append(keys, userKey(user))
	}
	if ip != "" {
		keys = append(keys, "ip\x00"+ip)
	}
	return keys
}

// userKey folds case so "Admin" and "admin" share one count, whatever the
// login's own case rules are.
func userKey(user string) string { return "user\x00" + strings.ToLower(user) }
