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
	"k8s.io/utils/lru"
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
	// Credentials returns the credentials an app of project uses for a
	// repository URL; nil means none are configured. CredentialSet.Lookup
	// fits; to follow Secret changes, pass a function that reads the current
	// set.
	Credentials func(repoURL, project string) (Credentials, bool)
	// KnownHosts returns the SSH known_hosts text (argocd-ssh-known-hosts-cm's
	// ssh_known_hosts). Nil means none: SSH repositories then need insecure.
	KnownHosts func() string
}

// Cache resolves revisions and checks out commits of Git repositories,
// sharing one mirror per repository and credential among all callers. It is
// safe for concurrent use; one Cache serves a whole gantry process.
//
// What was fetched with one project's credentials is never handed to another
// project: mirrors and ls-remote answers are kept per view (the repository's
// exact URL and the credentials used, see view), and a checked-out tree,
// shared by commit, is handed out only to a caller whose own view has that
// commit.
type Cache struct {
	dir         string
	maxAge      time.Duration
	timeout     time.Duration
	credentials func(repoURL, project string) (Credentials, bool)
	knownHosts  func() string
	now         func() time.Time // replaced in tests to age ls-remote answers
	hosts       knownHostsCache

	lsRemotes singleflight.Group // by view key and generation
	fetches   singleflight.Group // by view key
	trees     singleflight.Group // by commit SHA

	mu       sync.Mutex
	refs     map[string]map[string]*remoteRefs // ls-remote answers by normalised URL, then view key
	gens     map[string]uint64                 // by normalised URL, bumped by Invalidate
	locks    map[string]*sync.RWMutex          // mirror locks by view key
	verified *lru.Cache                        // view key + "\x00" + SHA: commits seen in that view's mirror
	stats    Stats                             // counters; the sizes are read when asked

	// treesMu keeps Prune from removing a tree while Checkout hands it out.
	treesMu sync.RWMutex
}

// Repo is a repository as one app (or ApplicationSet) reads it: its URL and
// the project the app belongs to, which decides the credentials used.
type Repo struct {
	URL     string
	Project string
}

// view is a repository read with the credentials one project uses for it.
// Everything fetched is kept per view key: the repository's exact URL
// (scheme, user, host, port and path: two servers on one host are two
// repositories) and, when credentials are used, the Secret they come from,
// its project and whether it is insecure. So the private repository project A
// fetched with A's credential is not what project B's app, without one, reads:
// B's ls-remote and fetch go to the server themselves, anonymously, and fail.
type view struct {
	Repo
	norm  string // NormalizeURL: the repository as Invalidate and webhooks name it
	key   string
	creds Credentials
	found bool
}

func (c *Cache) view(repo Repo) view {
	v := view{Repo: repo, norm: NormalizeURL(repo.URL), key: exactKey(repo.URL)}
	if c.credentials != nil {
		v.creds, v.found = c.credentials(repo.URL, repo.Project)
	}
	if v.found && v.creds.hasAuth() {
		// Names only, never secret values.
		v.key += "\x00" + v.creds.Source + "\x00" + v.creds.Project
	}
	if v.found && v.creds.Insecure {
		v.key += "\x00insecure" // a fetch open to a man in the middle does not feed verified readers
	}
	return v
}

// maxVerified bounds the memory of verified commits (about 150 bytes each),
// least recently used out first: one forgotten is looked up in its mirror
// again, without network.
const maxVerified = 10000

// Stats are a Cache's sizes and counters, for /metrics.
type Stats struct {
	// Answers is the number of ls-remote answers kept (one per repository
	// and credential asked within MaxAge).
	Answers int
	// Verified is the number of commits known to be in a mirror.
	Verified int
	// VerifiedEvictions counts verified commits forgotten to keep the bound.
	VerifiedEvictions uint64
	// Trees is the number of checked-out trees on disk, as of the last Prune.
	Trees int
	// TreesPruned counts the trees Prune deleted.
	TreesPruned uint64
}

// Stats returns the cache's sizes and counters.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	for _, views := range c.refs {
		s.Answers += len(views)
	}
	s.Verified = c.verified.Len()
	return s
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
		refs:        map[string]map[string]*remoteRefs{},
		gens:        map[string]uint64{},
		locks:       map[string]*sync.RWMutex{},
	}
	c.verified = lru.NewWithEvictionFunc(maxVerified, func(lru.Key, any) { c.stats.VerifiedEvictions++ })
	if c.maxAge <= 0 {
		c.maxAge = DefaultMaxAge
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	return c, nil
}

// Resolve returns the full commit SHA that revision names in repo now.
// revision is a branch, a tag, a full ref name (refs/heads/main), a full or
// abbreviated commit SHA, "HEAD" or empty (the default branch). A name that
// is both a branch and a tag resolves to the branch, as in Argo CD.
//
// Branches and tags come from an ls-remote reused for MaxAge, so the many
// Applications of one repository cost one round trip per period. A full SHA
// already in the mirror needs no network at all; a SHA the repository does
// not advertise (an older commit) is looked up after fetching.
func (c *Cache) Resolve(ctx context.Context, repo Repo, revision string) (string, error) {
	return c.resolve(ctx, c.view(repo), revision)
}

func (c *Cache) resolve(ctx context.Context, v view, revision string) (string, error) {
	rev := strings.TrimSpace(revision)
	if rev == "" {
		rev = "HEAD"
	}
	if isHash(rev) && len(rev) == 40 {
		if sha, ok := c.localCommit(v, rev); ok {
			return sha, nil
		}
	}
	refs, err := c.lsRemote(ctx, v)
	if err != nil {
		return "", err
	}
	if sha, ok := refs.resolve(rev); ok {
		return sha, nil
	}
	if !isHash(rev) || len(rev) < 4 {
		return "", revisionNotFound(v.URL, rev)
	}
	if sha, ok := refs.commitWithPrefix(rev); ok {
		return sha, nil
	}
	return c.findCommit(ctx, v, rev)
}

// ResolveAfter is Resolve with an ls-remote answer obtained after the given time:
// a new or changed Application must see the repository as it is now, not as the
// cache saw it up to MaxAge ago. Answers fetched after `after` are still shared, so
// a burst of new Applications of one repository costs about one ls-remote.
func (c *Cache) ResolveAfter(ctx context.Context, repo Repo, revision string, after time.Time) (string, error) {
	v := c.view(repo)
	c.mu.Lock()
	cached := c.refs[v.norm][v.key]
	c.mu.Unlock()
	if cached != nil && cached.at.Before(after) {
		c.Invalidate(repo.URL)
	}
	return c.resolve(ctx, v, revision)
}

// Invalidate forgets the ls-remote answers for repoURL (any URL form of it,
// read with any credentials), so that the next Resolve asks the repository.
// A webhook calls it on push. A Resolve that joins after Invalidate never
// receives an answer requested before it.
func (c *Cache) Invalidate(repoURL string) {
	key := NormalizeURL(repoURL)
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.refs, key)
	c.gens[key]++
}

// lsRemote returns the refs of v, from cache when younger than maxAge.
func (c *Cache) lsRemote(ctx context.Context, v view) (*remoteRefs, error) {
	c.mu.Lock()
	cached, gen := c.refs[v.norm][v.key], c.gens[v.norm]
	c.mu.Unlock()
	if cached != nil && c.now().Sub(cached.at) < c.maxAge {
		return cached, nil
	}
	res, err := c.shared(ctx, &c.lsRemotes, fmt.Sprintf("%s\x00%d", v.key, gen), func(ctx context.Context) (any, error) {
		refs, err := c.listRemote(ctx, v)
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		if c.gens[v.norm] == gen {
			c.dropStaleLocked()
			if c.refs[v.norm] == nil {
				c.refs[v.norm] = map[string]*remoteRefs{}
			}
			c.refs[v.norm][v.key] = refs
		}
		c.mu.Unlock()
		return refs, nil
	})
	if err != nil {
		return nil, err
	}
	return res.(*remoteRefs), nil
}

// dropStaleLocked forgets the ls-remote answers too old to be used again, so
// that repositories nobody reads any more (a deleted app's, a preview
// branch's) take no memory. Under c.mu.
func (c *Cache) dropStaleLocked() {
	now := c.now()
	for norm, views := range c.refs {
		for key, r := range views {
			if now.Sub(r.at) >= c.maxAge {
				delete(views, key)
			}
		}
		if len(views) == 0 {
			delete(c.refs, norm)
		}
	}
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

// access builds the transport settings of v.
func (c *Cache) access(v view) (access, error) {
	var known string
	if c.knownHosts != nil {
		known = c.knownHosts()
	}
	return newAccess(v.URL, v.creds, v.found, &c.hosts, known)
}

// isVerified reports whether sha was seen in the mirror of view key.
func (c *Cache) isVerified(key, sha string) bool {
	_, ok := c.verified.Get(key + "\x00" + sha)
	return ok
}

// markVerified records that sha is in the mirror of view key. Under c.mu,
// which the eviction count needs.
func (c *Cache) markVerified(key, sha string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.verified.Add(key+"\x00"+sha, struct{}{})
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
