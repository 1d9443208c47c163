package e2e

import (
	"net"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A real Git server for the GitOps tests: bare repositories served over smart
// HTTP by git's own http-backend (CGI), written to with the git CLI.

const gitHTTPBackend = "/usr/lib/git-core/git-http-backend"

type gitServer struct {
	t    *testing.T
	root string
	srv  *httptest.Server
}

func newGitServer(t *testing.T) *gitServer {
	t.Helper()
	return newGitServerOn(t, "127.0.0.1")
}

// newGitServerOn serves bare repositories over HTTP on ip (loopback, or an
// address pods reach).
func newGitServerOn(t *testing.T, ip string) *gitServer {
	t.Helper()
	if _, err := os.Stat(gitHTTPBackend); err != nil {
		t.Skipf("git http-backend not installed (apt-get install git): %v", err)
	}
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	s := &gitServer{t: t, root: t.TempDir()}
	s.srv = httptest.NewUnstartedServer(&cgi.Handler{Path: gitHTTPBackend, Env: []string{"GIT_PROJECT_ROOT=" + s.root, "GIT_HTTP_EXPORT_ALL=1"}})
	s.srv.Listener.Close()
	s.srv.Listener = l
	s.srv.Start()
	t.Cleanup(s.srv.Close)
	return s
}

// gitRepo is a working copy whose pushes go to a bare repository on the server.
type gitRepo struct {
	t    *testing.T
	dir  string
	URL  string
	bare string
}

func (s *gitServer) newRepo(name string) *gitRepo {
	s.t.Helper()
	bare := filepath.Join(s.root, name+".git")
	r := &gitRepo{t: s.t, dir: s.t.TempDir(), URL: s.srv.URL + "/" + name + ".git", bare: bare}
	r.git(s.root, "init", "--bare", "-b", "main", bare)
	r.git(r.dir, "init", "-b", "main")
	r.git(r.dir, "remote", "add", "origin", bare)
	return r
}

func (r *gitRepo) git(dir string, args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=e2e", "GIT_AUTHOR_EMAIL=e2e@example.com",
		"GIT_COMMITTER_NAME=e2e", "GIT_COMMITTER_EMAIL=e2e@example.com", "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// commit writes files (a nil content deletes the file), commits and pushes to
// main; it returns the commit SHA.
func (r *gitRepo) commit(msg string, files map[string]*string) string {
	r.t.Helper()
	for name, content := range files {
		p := filepath.Join(r.dir, name)
		if content == nil {
			if err := os.Remove(p); err != nil {
				r.t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(*content), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
	r.git(r.dir, "add", "-A")
	r.git(r.dir, "commit", "-q", "-m", msg)
	r.git(r.dir, "push", "-q", "origin", "HEAD:main")
	return r.git(r.dir, "rev-parse", "HEAD")
}

func str(s string) *string { return &s }
