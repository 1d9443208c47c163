package render

import (
	"container/list"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// CacheOptions bound a Cache. Zero values take the defaults.
type CacheOptions struct {
	// MaxEntries is the most results kept (default 1024).
	MaxEntries int
	// MaxBytes is the most bytes kept, counted as the JSON size of the
	// objects (default 256 MiB; objects in memory take a few times more). A
	// result larger than this is not kept.
	MaxBytes int64
}

// Cache keeps rendered results, least recently used out first. A result is
// keyed by the repository URL, the revision, the path and a hash of
// everything else that can change it (the source's helm, kustomize and
// directory blocks, the chart, release name, namespace, Kubernetes version,
// API versions, and the revisions of the ref sources its value files use).
// Renders of a source at the same revision with the same parameters share
// an entry; requests without a revision are never cached.
//
// The cache owns its objects: it stores a copy and returns a copy, so
// callers may change what they get.
type Cache struct {
	maxEntries int
	maxBytes   int64

	mu      sync.Mutex
	lru     *list.List // of *cacheEntry, most recently used first
	entries map[string]*list.Element
	bytes   int64
	stats   CacheStats
}

// CacheStats are a Cache's counters since it was made.
type CacheStats struct {
	Hits      uint64
	Misses    uint64
	Evictions uint64
	Entries   int
	Bytes     int64
}

type cacheEntry struct {
	key   string
	res   *Result
	bytes int64
}

// NewCache returns an empty Cache.
func NewCache(opts CacheOptions) *Cache {
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = 1024
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = 256 << 20
	}
	return &Cache{
		maxEntries: opts.MaxEntries,
		maxBytes:   opts.MaxBytes,
		lru:        list.New(),
		entries:    map[string]*list.Element{},
	}
}

// Stats returns the counters, for metrics and benchmarks.
func (c *Cache) Stats() CacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.Entries = c.lru.Len()
	s.Bytes = c.bytes
	return s
}

// Purge drops every result rendered from repoURL (Argo CD's hard refresh).
func (c *Cache) Purge(repoURL string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for key, el := range c.entries {
		if strings.HasPrefix(key, repoURL+"@") {
			c.remove(el)
		}
	}
}

func (c *Cache) get(key string) (*Result, bool) {
	c.mu.Lock()
	el, ok := c.entries[key]
	if !ok {
		c.stats.Misses++
		c.mu.Unlock()
		return nil, false
	}
	c.stats.Hits++
	c.lru.MoveToFront(el)
	res := el.Value.(*cacheEntry).res
	c.mu.Unlock()
	// Stored results are never changed, so the copy needs no lock.
	return copyResult(res), true
}

func (c *Cache) add(key string, res *Result) {
	size := resultBytes(res)
	if size > c.maxBytes {
		return
	}
	stored := copyResult(res)
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[key]; ok {
		c.remove(el)
	}
	c.entries[key] = c.lru.PushFront(&cacheEntry{key: key, res: stored, bytes: size})
	c.bytes += size
	for c.lru.Len() > c.maxEntries || c.bytes > c.maxBytes {
		c.remove(c.lru.Back())
		c.stats.Evictions++
	}
}

func (c *Cache) remove(el *list.Element) {
	e := el.Value.(*cacheEntry)
	c.lru.Remove(el)
	delete(c.entries, e.key)
	c.bytes -= e.bytes
}

func copyResult(res *Result) *Result {
	out := *res
	out.Objects = make([]*unstructured.Unstructured, len(res.Objects))
	for i, o := range res.Objects {
		out.Objects[i] = o.DeepCopy()
	}
	return &out
}

func resultBytes(res *Result) int64 {
	var n int64
	for _, o := range res.Objects {
		b, err := json.Marshal(o.Object)
		if err != nil {
			return 1 << 62 // unmeasurable: never cached
		}
		n += int64(len(b))
	}
	return n
}

// cacheKey is the key of a request, and false if it must not be cached: a
// request without a revision, or whose value files or file parameters use a
// ref source without one, could render differently next time.
func cacheKey(req Request) (string, bool) {
	if req.Revision == "" {
		return "", false
	}
	src := req.Source.DeepCopy()
	// The revision stands for what targetRevision resolved to, unless a
	// build variable expands to targetRevision itself; the name only labels
	// the source in a multi-source app.
	if !usesEnv(src) {
		src.TargetRevision = ""
	}
	src.Name = ""

	type ref struct{ Name, Revision string }
	var refs []ref
	if src.Helm != nil {
		files := slices.Clone(src.Helm.ValueFiles)
		for _, fp := range src.Helm.FileParameters {
			files = append(files, fp.Path)
		}
		for _, vf := range files {
			if !strings.HasPrefix(vf, "$") {
				continue
			}
			name, _, _ := strings.Cut(vf[1:], "/")
			rs, ok := req.RefSources[name]
			if !ok {
				continue // an error when rendered, and errors are not cached
			}
			if rs.Revision == "" {
				return "", false
			}
			if !slices.Contains(refs, ref{name, rs.Revision}) {
				refs = append(refs, ref{name, rs.Revision})
			}
		}
	}
	params, err := json.Marshal(struct {
		Source      any
		AppName     string
		Namespace   string
		KubeVersion string
		APIVersions []string
		Refs        []ref
	}{src, req.AppName, req.Namespace, req.KubeVersion, req.APIVersions, refs})
	if err != nil {
		return "", false
	}
	sum := sha256.Sum256(params)
	return req.Source.RepoURL + "@" + req.Revision + ":" + req.Source.Path + "#" + hex.EncodeToString(sum[:]), true
}
