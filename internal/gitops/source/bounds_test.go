package source

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// What the cache keeps in memory is bounded: ls-remote answers of
// repositories nobody asks about any more go once they are too old to be
// used, and the verified commits stay within maxVerified, counted as they go.
func TestCacheStaysBounded(t *testing.T) {
	srv := newGitServer(t, "", "")
	var urls []string
	for i := range 3 {
		r := newRepo(t, srv.root, fmt.Sprintf("app%d", i))
		r.commit("main", "a", map[string]string{"f": "a"})
		urls = append(urls, srv.url(fmt.Sprintf("app%d", i)))
	}
	c := newTestCache(t, Options{MaxAge: time.Minute})
	now := time.Now()
	c.now = func() time.Time { return now }
	ctx := context.Background()
	for _, u := range urls {
		if _, err := c.Resolve(ctx, Repo{URL: u}, "main"); err != nil {
			t.Fatal(err)
		}
	}
	if got := c.Stats().Answers; got != 3 {
		t.Fatalf("answers after three repositories = %d, want 3", got)
	}
	// A minute later only the first repository is read again (the others'
	// apps were deleted): the others' answers go.
	now = now.Add(time.Minute)
	if _, err := c.Resolve(ctx, Repo{URL: urls[0]}, "main"); err != nil {
		t.Fatal(err)
	}
	if got := c.Stats().Answers; got != 1 {
		t.Errorf("answers after the others went stale = %d, want 1", got)
	}

	for i := range maxVerified + 5 {
		c.markVerified("view", fmt.Sprintf("%040x", i))
	}
	s := c.Stats()
	if s.Verified > maxVerified || s.VerifiedEvictions < 5 {
		t.Errorf("verified commits %d (bound %d), %d evictions: want within the bound and the evictions counted", s.Verified, maxVerified, s.VerifiedEvictions)
	}
	// The most recent ones are still known without a look into a mirror.
	if !c.isVerified("view", fmt.Sprintf("%040x", maxVerified+4)) {
		t.Error("the last commit verified was forgotten")
	}
}

// Prune reports how many trees are on disk and how many it deleted.
func TestPruneCounts(t *testing.T) {
	r := newRepo(t, t.TempDir(), "app")
	a := r.commit("main", "a", map[string]string{"f": "a"})
	b := r.commit("main", "b", map[string]string{"f": "b"})
	c := newTestCache(t, Options{})
	for _, sha := range []string{a, b} {
		if _, err := c.Checkout(context.Background(), Repo{URL: r.bare}, sha); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Prune(func(sha string, _ time.Time) bool { return strings.HasPrefix(sha, b[:8]) }); err != nil {
		t.Fatal(err)
	}
	if s := c.Stats(); s.Trees != 1 || s.TreesPruned != 1 {
		t.Errorf("after pruning one of two trees: %d on disk, %d pruned; want 1 and 1", s.Trees, s.TreesPruned)
	}
}
