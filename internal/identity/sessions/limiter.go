package sessions

import (
	"container/list"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// LimiterOptions configure a Limiter; zero values take the defaults, which
// follow Argo CD's session manager (5 failures in 5 minutes) for one user
// from one address.
type LimiterOptions struct {
	// MaxFailures is how many failures of one user from one address within
	// Window are free; each one after that doubles the wait. Default 5.
	MaxFailures int
	// MaxAddressFailures is how many failures from one address, whatever
	// the users, are free: the budget of an address trying many users.
	// Default 20.
	MaxAddressFailures int
	// Window is how long failures are remembered after the last failure
	// or wait. Default 5 minutes.
	Window time.Duration
	// BaseDelay is the first wait, MaxDelay the cap. Default 1 s and 5 min.
	BaseDelay, MaxDelay time.Duration
	// MaxEntries bounds memory: beyond it the least recently failing
	// (user, address) pair or address is forgotten. Default 10000.
	MaxEntries int
	// Now is the clock; time.Now when nil. Tests set it.
	Now func() time.Time
}

// Limiter slows down password guessing. It counts failed logins per (user,
// source address) pair and per source address: the pair stops guessing one
// account from one address, the address stops trying many accounts from one.
// There is no count per user alone, on purpose: with one, anybody could lock
// admin out from their own machine. Guessing one account from many addresses
// is slowed per address only (and by bcrypt). After MaxFailures failures of
// a pair (MaxAddressFailures of an address) within Window, each further
// failure makes it wait BaseDelay, 2×, 4×, … up to MaxDelay. IPv6 addresses
// count per /64, which one client usually holds whole. Safe for concurrent
// use.
//
// The caller calls Allow before checking the password (and refuses without
// checking when it says no), then Failed or Succeeded, with the address
// SourceAddress gives.
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
	if opts.MaxAddressFailures <= 0 {
		opts.MaxAddressFailures = 20
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
// not, how long to wait (for a Retry-After header).
func (l *Limiter) Allow(user, ip string) (ok bool, retryAfter time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.opts.Now()
	for _, k := range l.keys(user, ip) {
		f := l.lookup(k.key, now)
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
	for _, k := range l.keys(user, ip) {
		f := l.lookup(k.key, now)
		if f == nil {
			f = l.insert(k.key)
		} else {
			l.order.MoveToFront(l.entries[k.key])
		}
		f.count++
		f.last = now
		if f.count >= k.free {
			f.blockedUntil = now.Add(l.delay(f.count - k.free))
		}
	}
}

// Succeeded forgets the failures of user from ip. Those of ip alone are
// kept on purpose: otherwise an attacker with one valid account could clear
// their address's count between guesses at other accounts.
func (l *Limiter) Succeeded(user, ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.entries[pairKey(user, addressKey(ip))]; ok {
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

// limiterKey is one count a login attempt adds to, and how many failures
// of it are free.
type limiterKey struct {
	key  string
	free int
}

func (l *Limiter) keys(user, ip string) []limiterKey {
	addr := addressKey(ip)
	return []limiterKey{{pairKey(user, addr), l.opts.MaxFailures}, {"addr\x00" + addr, l.opts.MaxAddressFailures}}
}

// pairKey folds the user's case so "Admin" and "admin" share one count,
// whatever the login's own case rules are.
func pairKey(user, addr string) string { return "pair\x00" + strings.ToLower(user) + "\x00" + addr }

// addressKey is what counts as one source: an IPv4 address, or the /64 of an
// IPv6 one (a single host usually holds a whole /64, so counting its
// addresses one by one would let it spread its guesses over 2^64 of them).
// Anything that does not parse counts as itself.
func addressKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return a.String()
	}
	return netip.PrefixFrom(a, 64).Masked().String()
}

// SourceAddress is the address a request came from, as the limiter counts
// it: the host of the connection's remote address. X-Forwarded-For and the
// like are not trusted: anyone can send them, and a guesser would then pick
// a fresh address per try (or blame somebody else's). Behind a reverse
// proxy, every client therefore shares the proxy's address.
func SourceAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
