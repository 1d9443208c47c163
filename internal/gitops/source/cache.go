package source

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// Defaults for Options fields left zero.
const (
	// DefaultMaxAge is how long an ls-remote answer is reused: Argo CD's
	// default repository polling interval (timeout.reconciliation, 3m).
	DefaultMaxAge = 3 * time.Minute
	// DefaultTimeout bounds one network operation (ls-remote or fetch).
	DefaultTimeout = 5 * time.Minute
)

// Options configure a Cache.
type Options struct {
	// Dir holds the mirrors (Dir/repos/<hash>) and the extracted trees
	// (Dir/trees/<sha>), e.g. <data>/gitops. Required.
	Dir string
	// MaxAge is how long an ls-remote answer is reused before Resolve asks
	// the repository again. Invalidate ends it early. Default DefaultMaxAge.
	MaxAge time.Duration
	// Timeout bounds each ls-remote and fetch. Default DefaultTimeout.
	Timeout time.Duration
	// Credentials returns the credentials for a repository URL; nil means
	// none are configured. CredentialSet.Lookup fits; to follow Secret
	// changes, pass a function that reads the current set.
	Credentials func(repoURL string) (Credentials, bool)
	// KnownHosts returns the SSH known_hosts text (argocd-ssh-known-hosts-cm's
	// ssh_known_hosts). Nil means none: SSH repositories then need insecure.
	KnownHosts func() string
}

// Cache resolves revisions and checks out commits of Git repositories,
// sharing one mirror per repository among all callers. It is safe for
// concurrent use; one Cache serves a whole gantry process.
type Cache struct {
	dir         string
	maxAge      time.Duration
	timeout     time.Duration
	credentials func(string) (Credentials, bool)
	knownHosts  func() string
	now         func() time.Time // replaced in tests to age ls-remote answers
	hosts       knownHostsCache

	lsRemotes singleflight.Group // by normalised URL and generation
	fetches   singleflight.Group // by normalised URL
	trees     singleflight.Group // by commit SHA

	mu    sync.Mutex
	refs  map[string]*remoteRefs   // ls-remote answers by normalised URL
	gens  map[string]uint64        // bumped by Invalidate
	locks map[string]*sync.RWMutex // mirror locks by normalised URL

	// treesMu keeps Prune from removing a tree while Checkout hands it out.
	treesMu sync.RWMutex
}

// NewCache returns a Cache storing its data under opts.Dir, which it creates.
func NewCache(opts Options) (*Cache, error) {
	if opts.Dir == "" {
		return nil, fmt.Errorf("source cache: Options.Dir is empty: give the directory for repository mirrors, e.g. <data>/gitops")
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("source cache: resolve %s: %w", opts.Dir, err)
	}
	for _, sub := range []string{"repos", "trees"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, fmt.Errorf("source cache: create %s: %w", filepath.Join(dir, sub), err)
		}
	}
	c := &Cache{
		dir:         dir,
		maxAge:      opts.MaxAge,
		timeout:     opts.Timeout,
		credentials: opts.Credentials,
		knownHosts:  opts.KnownHosts,
		now:         time.Now,
		refs:        map[string]*remoteRefs{},
		gens:        map[string]uint64{},
		locks:       map[string]*sync.RWMutex{},
	}
	if c.maxAge <= 0 {
		c.maxAge = DefaultMaxAge
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	return c, nil
}

// Resolve returns the full commit SHA that revision names in repoURL now.
// revision is a branch, a tag, a full ref name (refs/heads/main), a full or
// abbreviated commit SHA, "HEAD" or empty (the default branch). A name that
// is both a branch and a tag resolves to the branch, as in Argo CD.
//
// Branches and tags come from an ls-remote reused for MaxAge, so the many
// Applications of one repository cost one round trip per period. A full SHA
// already in the mirror needs no network at all; a SHA the repository does
// not advertise (an older commit) is looked up after fetching.
func (c *Cache) Resolve(ctx context.Context, repoURL, revision string) (string, error) {
	rev := strings.TrimSpace(revision)
	if rev == "" {
		rev = "HEAD"
	}
	if isHash(rev) && len(rev) == 40 {
		if sha, ok := c.localCommit(repoURL, rev); ok {
			return sha, nil
		}
	}
	refs, err := c.lsRemote(ctx, repoURL)
	if err != nil {
		return "", err
	}
	if sha, ok := refs.resolve(rev); ok {
		return sha, nil
	}
	if !isHash(rev) || len(rev) < 4 {
		return "", revisionNotFound(repoURL, rev)
	}
	if sha, ok := refs.commitWithPrefix(rev); ok {
		return sha, nil
	}
	return c.findCommit(ctx, repoURL, rev)
}

// ResolveAfter is Resolve with an ls-remote answer obtained after the given time:
// a new or changed Application must see the repository as it is now, not as the
// cache saw it up to MaxAge ago. Answers fetched after `after` are still shared, so
// a burst of new Applications of one repository costs about one ls-remote.
func (c *Cache) ResolveAfter(ctx context.Context, repoURL, revision string, after time.Time) (string, error) {
	key := NormalizeURL(repoURL)
	c.mu.Lock()
	cached := c.refs[key]
	c.mu.Unlock()
	if cached != nil && cached.at.Before(after) {
		c.Invalidate(repoURL)
	}
	return c.Resolve(ctx, repoURL, revision)
}

// Invalidate forgets the ls-remote answer for repoURL (any URL form of it),
// so that the next Resolve asks the repository. A webhook calls it on push.
// A Resolve that joins after Invalidate never receives an answer requested
// before it.
func (c *Cache) Invalidate(repoURL string) {
	key := NormalizeURL(repoURL)
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.refs, key)
	c.gens[key]++
}

// lsRemote returns the refs of repoURL, from cache when younger than maxAge.
func (c *Cache) lsRemote(ctx context.Context, repoURL string) (*remoteRefs, error) {
	key := NormalizeURL(repoURL)
	c.mu.Lock()
	cached, gen := c.refs[key], c.gens[key]
	c.mu.Unlock()
	if cached != nil && c.now().Sub(cached.at) < c.maxAge {
		return cached, nil
	}
	v, err := c.shared(ctx, &c.lsRemotes, fmt.Sprintf("%s\x00%d", key, gen), func(ctx context.Context) (any, error) {
		refs, err := c.listRemote(ctx, repoURL)
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		if c.gens[key] == gen {
			c.refs[key] = refs
		}
		c.mu.Unlock()
		return refs, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*remoteRefs), nil
}

// shared runs fn once for all concurrent callers with the same key. fn runs
// under a context that outlives any one caller (bounded by the timeout), so
// one Application giving up does not fail the fetch for the others; each
// caller still returns as soon as its own ctx is done.
func (c *Cache) shared(ctx context.Context, g *singleflight.Group, key string, fn func(context.Context) (any, error)) (any, error) {
	ch := g.DoChan(key, func() (any, error) {
		runCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.timeout)
		defer cancel()
		return fn(runCtx)
	})
	select {
	case res := <-ch:
		return res.Val, res.Err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// access looks up the credentials for repoURL and builds transport settings.
func (c *Cache) access(repoURL string) (access, error) {
	var creds Credentials
	var found bool
	if c.credentials != nil {
		creds, found = c.credentials(repoURL)
	}
	var known string
	if c.knownHosts != nil {
		known = c.knownHosts()
	}
	return newAccess(repoURL, creds, found, &c.hosts, known)
}

// repoLock returns the lock of one mirror: fetches write, reads share.
func (c *Cache) repoLock(key string) *sync.RWMutex {
	c.mu.Lock()
	defer c.mu.Unlock()
	l, ok := c.locks[key]
	if !ok {
		l = &sync.RWMutex{}
		c.locks[key] = l
	}
	return l
}

func isHash(s string) bool {
	if s == "" || len(s) > 40 {
		return false
	}
	for _, r := range s {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f' || 'A' <= r && r <= 'F') {
			return false
		}
	}
	return true
}
