package source

import (
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// Test helpers: real repositories made with the git CLI, served over smart
// HTTP by the real git http-backend. Nothing here imitates git.

const gitHTTPBackend = "/usr/lib/git-core/git-http-backend"

// gitServer serves the bare repositories under root, counting requests as
// someone measuring the load on a Git host would.
type gitServer struct {
	root string
	srv  *httptest.Server

	infoRefs    atomic.Int64 // GET .../info/refs: one per ls-remote, one per fetch
	uploadPacks atomic.Int64 // POST .../git-upload-pack: the fetches
	packBytes   atomic.Int64 // bytes sent in upload-pack answers
}

// newGitServer starts a server; with user set, it demands that basic auth.
func newGitServer(t *testing.T, user, pass string) *gitServer {
	t.Helper()
	if _, err := os.Stat(gitHTTPBackend); err != nil {
		t.Skipf("git http-backend not installed: %v", err)
	}
	s := &gitServer{root: t.TempDir()}
	backend := &cgi.Handler{
		Path: gitHTTPBackend,
		Env:  []string{"GIT_PROJECT_ROOT=" + s.root, "GIT_HTTP_EXPORT_ALL=1"},
	}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if user != "" {
			u, p, ok := r.BasicAuth()
			if !ok || u != user || p != pass {
				w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
				http.Error(w, "authentication required", http.StatusUnauthorized)
				return
			}
		}
		switch {
		case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/info/refs"):
			s.infoRefs.Add(1)
		case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/git-upload-pack"):
			s.uploadPacks.Add(1)
			w = &countingWriter{ResponseWriter: w, n: &s.packBytes}
		}
		backend.ServeHTTP(w, r)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *gitServer) url(name string) string { return s.srv.URL + "/" + name + ".git" }

type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (w *countingWriter) Write(b []byte) (int, error) {
	w.n.Add(int64(len(b)))
	return w.ResponseWriter.Write(b)
}

// repo is a bare repository plus a working clone to make commits in.
type repo struct {
	t    *testing.T
	bare string
	work string
}

// newRepo creates <root>/<name>.git with one commit on main.
func newRepo(t *testing.T, root, name string) *repo {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skipf("git CLI not installed: %v", err)
	}
	r := &repo{t: t, bare: filepath.Join(root, name+".git"), work: filepath.Join(t.TempDir(), name)}
	runGit(t, root, "init", "--quiet", "--bare", "--initial-branch=main", r.bare)
	runGit(t, "", "init", "--quiet", "--initial-branch=main", r.work)
	runGit(t, r.work, "remote", "add", "origin", r.bare)
	return r
}

// commit writes files (path -> content; "" deletes), commits and pushes
// branch, returning the new commit SHA.
func (r *repo) commit(branch, msg string, files map[string]string) string {
	r.t.Helper()
	if cur := runGit(r.t, r.work, "symbolic-ref", "--short", "HEAD"); cur != branch {
		if runGit(r.t, r.work, "branch", "--list", branch) != "" {
			runGit(r.t, r.work, "checkout", "--quiet", branch)
		} else {
			runGit(r.t, r.work, "checkout", "--quiet", "-b", branch)
		}
	}
	for p, content := range files {
		full := filepath.Join(r.work, p)
		if content == "" {
			runGit(r.t, r.work, "rm", "--quiet", p)
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
	runGit(r.t, r.work, "add", "--all")
	runGit(r.t, r.work, "commit", "--quiet", "--allow-empty", "-m", msg)
	runGit(r.t, r.work, "push", "--quiet", "origin", branch)
	return runGit(r.t, r.work, "rev-parse", "HEAD")
}

// runGit runs the git CLI in dir with a fixed identity and no user config.
func runGit(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=Test", "GIT_AUTHOR_EMAIL=test@example.com",
		"GIT_COMMITTER_NAME=Test", "GIT_COMMITTER_EMAIL=test@example.com",
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// newTestCache returns a Cache under a temporary directory whose trees are
// removed at the end even though they are read-only.
func newTestCache(t *testing.T, opts Options) *Cache {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	c, err := NewCache(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = removeTree(filepath.Join(opts.Dir, "trees")) })
	return c
}
