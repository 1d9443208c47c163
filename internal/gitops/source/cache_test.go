package source

import (
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// history is a repository with commits on two branches and two tags.
type history struct {
	repo                  *repo
	first, v1, main, dev  string
	annotatedTagObjectSHA string
}

func newHistory(t *testing.T, root string) history {
	t.Helper()
	r := newRepo(t, root, "app")
	h := history{repo: r}
	h.first = r.commit("main", "first", map[string]string{
		"app/deploy.yaml": "kind: Deployment\n",
		"README.md":       "hello\n",
	})
	h.v1 = r.commit("main", "second", map[string]string{"app/deploy.yaml": "kind: Deployment\nreplicas: 2\n"})
	runGit(t, r.work, "tag", "v1") // lightweight
	h.main = r.commit("main", "third", map[string]string{"app/service.yaml": "kind: Service\n"})
	runGit(t, r.work, "tag", "-a", "v2", "-m", "release 2") // annotated, on main
	h.annotatedTagObjectSHA = runGit(t, r.work, "rev-parse", "v2")
	runGit(t, r.work, "push", "--quiet", "origin", "v1", "v2")
	h.dev = r.commit("dev", "dev work", map[string]string{"dev.txt": "dev\n"})
	return h
}

func TestResolve(t *testing.T) {
	srv := newGitServer(t, "", "")
	h := newHistory(t, srv.root)
	urls := map[string]string{"http": srv.url("app"), "file": "file://" + h.repo.bare, "path": h.repo.bare}
	for transport, repoURL := range urls {
		t.Run(transport, func(t *testing.T) {
			c := newTestCache(t, Options{})
			cases := []struct {
				revision string
				want     string
			}{
				{"", h.main},
				{"HEAD", h.main},
				{"main", h.main},
				{"refs/heads/main", h.main},
				{"dev", h.dev},
				{"v1", h.v1},
				{"refs/tags/v1", h.v1},
				{"v2", h.main}, // annotated tag: the commit, not the tag object
				{h.main, h.main},
				{strings.ToUpper(h.dev), h.dev},
				{h.first, h.first},     // not advertised: found after a fetch
				{h.first[:7], h.first}, // abbreviated and not advertised
				{h.dev[:8], h.dev},     // abbreviated, advertised
			}
			for _, tc := range cases {
				got, err := c.Resolve(context.Background(), Repo{URL: repoURL}, tc.revision)
				if err != nil {
					t.Errorf("Resolve(%q): %v", tc.revision, err)
					continue
				}
				if got != tc.want {
					t.Errorf("Resolve(%q) = %s, want %s", tc.revision, got, tc.want)
				}
			}
			if h.annotatedTagObjectSHA == h.main {
				t.Fatal("fixture: v2 should be an annotated tag object")
			}
			for _, rev := range []string{"nope", "refs/heads/nope", "deadbeef", strings.Repeat("a", 40)} {
				_, err := c.Resolve(context.Background(), Repo{URL: repoURL}, rev)
				if ReasonOf(err) != ReasonRevisionNotFound {
					t.Fatalf("Resolve(%q): got %v, want a %s error", rev, err, ReasonRevisionNotFound)
				}
				want := `revision "` + rev + `" not found in ` + repoURL + `: no branch, tag or commit by that name`
				if err.Error() != want {
					t.Errorf("Resolve(%q) error:\n got  %s\n want %s", rev, err, want)
				}
			}
		})
	}
}

func TestCheckout(t *testing.T) {
	srv := newGitServer(t, "", "")
	h := newHistory(t, srv.root)
	h.repo.commit("main", "script", map[string]string{"bin/run.sh": "#!/bin/sh\necho hi\n"})
	runGit(t, h.repo.work, "update-index", "--chmod=+x", "bin/run.sh")
	runGit(t, h.repo.work, "commit", "--quiet", "-m", "make it executable")
	runGit(t, h.repo.work, "push", "--quiet", "origin", "main")

	c := newTestCache(t, Options{})
	ctx := context.Background()
	sha, err := c.Resolve(ctx, Repo{URL: srv.url("app")}, "main")
	if err != nil {
		t.Fatal(err)
	}
	dir, err := c.Checkout(ctx, Repo{URL: srv.url("app")}, sha)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(c.dir, "trees", sha); dir != want {
		t.Errorf("Checkout dir = %s, want %s", dir, want)
	}
	assertFile(t, dir, "app/service.yaml", "kind: Service\n")
	assertFile(t, dir, "app/deploy.yaml", "kind: Deployment\nreplicas: 2\n")
	if _, err := os.Stat(filepath.Join(dir, "dev.txt")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("dev.txt is only on branch dev, but checkout of main has it (err %v)", err)
	}
	for p, want := range map[string]os.FileMode{"README.md": 0o444, "bin/run.sh": 0o555, "app": 0o555 | os.ModeDir, ".": 0o555 | os.ModeDir} {
		info, err := os.Stat(filepath.Join(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode() != want {
			t.Errorf("mode of %s = %v, want %v", p, info.Mode(), want)
		}
	}

	// An older commit, by the tag that names it.
	old, err := c.Resolve(ctx, Repo{URL: srv.url("app")}, "v1")
	if err != nil {
		t.Fatal(err)
	}
	oldDir, err := c.Checkout(ctx, Repo{URL: srv.url("app")}, old)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(oldDir, "app/service.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("v1 predates app/service.yaml, but its checkout has it (err %v)", err)
	}

	// Checking out again costs no request and gives the same directory.
	before := srv.infoRefs.Load() + srv.uploadPacks.Load()
	again, err := c.Checkout(ctx, Repo{URL: srv.url("app")}, sha)
	if err != nil || again != dir {
		t.Fatalf("second Checkout = %s, %v; want %s", again, err, dir)
	}
	if after := srv.infoRefs.Load() + srv.uploadPacks.Load(); after != before {
		t.Errorf("second Checkout made %d requests, want 0", after-before)
	}

	if _, err := c.Checkout(ctx, Repo{URL: srv.url("app")}, "main"); err == nil || !strings.Contains(err.Error(), "not a full commit SHA") {
		t.Errorf("Checkout of a branch name: got %v, want a 'not a full commit SHA' error", err)
	}
}

func TestNewCommitVisibleAfterInvalidateOrMaxAge(t *testing.T) {
	srv := newGitServer(t, "", "")
	r := newRepo(t, srv.root, "app")
	a := r.commit("main", "a", map[string]string{"f": "a"})
	c := newTestCache(t, Options{MaxAge: time.Minute})
	now := time.Now()
	c.now = func() time.Time { return now }
	ctx := context.Background()
	// The webhook may name the repository in another URL form.
	otherForm := strings.Replace(srv.url("app"), ".git", "", 1) + "/"

	resolve := func() string {
		t.Helper()
		sha, err := c.Resolve(ctx, Repo{URL: srv.url("app")}, "main")
		if err != nil {
			t.Fatal(err)
		}
		return sha
	}
	if got := resolve(); got != a {
		t.Fatalf("Resolve = %s, want %s", got, a)
	}
	b := r.commit("main", "b", map[string]string{"f": "b"})
	if got := resolve(); got != a {
		t.Fatalf("Resolve within MaxAge = %s, want the cached %s", got, a)
	}
	c.Invalidate(otherForm)
	if got := resolve(); got != b {
		t.Fatalf("Resolve after Invalidate = %s, want %s", got, b)
	}
	cc := r.commit("main", "c", map[string]string{"f": "c"})
	now = now.Add(59 * time.Second)
	if got := resolve(); got != b {
		t.Fatalf("Resolve at 59s = %s, want the cached %s", got, b)
	}
	now = now.Add(2 * time.Second)
	if got := resolve(); got != cc {
		t.Fatalf("Resolve after MaxAge = %s, want %s", got, cc)
	}
}

// Twenty Applications on one repository refreshing at once must cost the Git
// host one ls-remote and one fetch, and a new commit one more of each.
func TestConcurrentCallersShareLsRemoteAndFetch(t *testing.T) {
	srv := newGitServer(t, "", "")
	r := newRepo(t, srv.root, "app")
	// Random, so that it does not compress away: the pack size then shows
	// whether a fetch sent the whole history again.
	var big strings.Builder
	for range 8 * 1024 {
		big.WriteString(rand.Text() + "\n")
	}
	r.commit("main", "big", map[string]string{"big.txt": big.String()})
	c := newTestCache(t, Options{})
	ctx := context.Background()

	refresh := func() string {
		t.Helper()
		var wg sync.WaitGroup
		dirs := make(chan string, 20)
		for range 20 {
			wg.Go(func() {
				sha, err := c.Resolve(ctx, Repo{URL: srv.url("app")}, "HEAD")
				if err != nil {
					t.Error(err)
					return
				}
				dir, err := c.Checkout(ctx, Repo{URL: srv.url("app")}, sha)
				if err != nil {
					t.Error(err)
					return
				}
				dirs <- dir
			})
		}
		wg.Wait()
		close(dirs)
		first := <-dirs
		for d := range dirs {
			if d != first {
				t.Errorf("callers got different trees: %s and %s", first, d)
			}
		}
		return first
	}
	// A fetch is one info/refs GET plus one upload-pack POST, an ls-remote
	// one info/refs GET.
	expect := func(infoRefs, uploadPacks int64) {
		t.Helper()
		if got := srv.infoRefs.Load(); got != infoRefs {
			t.Errorf("info/refs requests = %d, want %d (ls-remote + fetch)", got, infoRefs)
		}
		if got := srv.uploadPacks.Load(); got != uploadPacks {
			t.Errorf("upload-pack requests = %d, want %d", got, uploadPacks)
		}
	}
	refresh()
	expect(2, 1)
	firstFetch := srv.packBytes.Load()

	refresh() // nothing new: everything from cache
	expect(2, 1)

	r.commit("main", "small", map[string]string{"small.txt": "x\n"})
	c.Invalidate(srv.url("app"))
	dir := refresh()
	expect(4, 2)
	assertFile(t, dir, "small.txt", "x\n")
	// The mirror is reused: the second fetch carries the new commit only,
	// not the big file again.
	if second := srv.packBytes.Load() - firstFetch; second > firstFetch/10 {
		t.Errorf("second fetch sent %d bytes, first %d: the mirror was not reused", second, firstFetch)
	}
}

func TestPrune(t *testing.T) {
	r := newRepo(t, t.TempDir(), "app")
	a := r.commit("main", "a", map[string]string{"f": "a"})
	b := r.commit("main", "b", map[string]string{"f": "b"})
	c := newTestCache(t, Options{})
	ctx := context.Background()
	dirA, err := c.Checkout(ctx, Repo{URL: r.bare}, a)
	if err != nil {
		t.Fatal(err)
	}
	dirB, err := c.Checkout(ctx, Repo{URL: r.bare}, b)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	removed, err := c.Prune(func(sha string, lastUsed time.Time) bool {
		seen[sha] = !lastUsed.IsZero()
		return sha == b
	})
	if err != nil || removed != 1 {
		t.Fatalf("Prune = %d, %v; want 1, nil", removed, err)
	}
	if !seen[a] || !seen[b] {
		t.Errorf("keep saw %v, want both trees with a last-use time", seen)
	}
	if _, err := os.Stat(dirA); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pruned tree %s still there (err %v)", dirA, err)
	}
	assertFile(t, dirB, "f", "b")
	// A pruned commit can be checked out again, from the mirror.
	if _, err := c.Checkout(ctx, Repo{URL: r.bare}, a); err != nil {
		t.Fatal(err)
	}
	assertFile(t, dirA, "f", "a")
}

func TestCheckoutRefusesSymlinksOutOfTheTree(t *testing.T) {
	cases := map[string]struct {
		links map[string]string // name -> target
		ok    bool
	}{
		"inside":           {map[string]string{"app/link.yaml": "../base/deploy.yaml"}, true},
		"dangling inside":  {map[string]string{"app/gone": "nothing-here"}, true},
		"absolute":         {map[string]string{"app/passwd": "/etc/passwd"}, false},
		"parent":           {map[string]string{"app/up": "../../outside"}, false},
		"escape via chain": {map[string]string{"here": ".", "app/up": "../here/.."}, false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := newRepo(t, t.TempDir(), "app")
			r.commit("main", "base", map[string]string{"base/deploy.yaml": "kind: Deployment\n", "app/x": "x"})
			for link, target := range tc.links {
				if err := os.Symlink(target, filepath.Join(r.work, link)); err != nil {
					t.Fatal(err)
				}
			}
			sha := r.commit("main", "links", nil)
			c := newTestCache(t, Options{})
			dir, err := c.Checkout(context.Background(), Repo{URL: "file://" + r.bare}, sha)
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				if _, ok := tc.links["app/link.yaml"]; ok {
					assertFile(t, dir, "app/link.yaml", "kind: Deployment\n")
				}
				return
			}
			if ReasonOf(err) != ReasonCheckoutFailed || !strings.Contains(err.Error(), "outside the repository") {
				t.Fatalf("Checkout: got %v, want a %s error about a symlink outside the repository", err, ReasonCheckoutFailed)
			}
			if entries, _ := os.ReadDir(filepath.Join(c.dir, "trees")); len(entries) != 0 {
				t.Errorf("failed checkout left %d entries in trees/", len(entries))
			}
		})
	}
}

func assertFile(t *testing.T, dir, name, want string) {
	t.Helper()
	got, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("%s = %q, want %q", name, got, want)
	}
}
