package application

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Real git repositories for the engine to read, as file:// URLs.

// gitRepo is a bare repository served as file:// and the working copy that
// pushes to it.
type gitRepo struct {
	t    *testing.T
	URL  string
	work string
}

// repo makes a git repository holding files and returns its file:// URL.
func (e *engine) repo(files map[string]string) string {
	e.t.Helper()
	return e.gitRepo(files).URL
}

// gitRepo makes a git repository whose first commit on main holds files.
func (e *engine) gitRepo(files map[string]string) *gitRepo {
	e.t.Helper()
	root := e.t.TempDir()
	bare, work := filepath.Join(root, "repo.git"), filepath.Join(root, "work")
	r := &gitRepo{t: e.t, URL: "file://" + bare, work: work}
	r.git(root, "init", "--quiet", "--bare", "--initial-branch=main", bare)
	r.git(root, "init", "--quiet", "--initial-branch=main", work)
	r.git(work, "remote", "add", "origin", bare)
	r.commit(files)
	return r
}

func (r *gitRepo) git(dir string, args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=Test", "GIT_AUTHOR_EMAIL=test@example.com", "GIT_COMMITTER_NAME=Test", "GIT_COMMITTER_EMAIL=test@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// commit writes files (an empty content removes the file), commits, pushes
// to main and returns the commit's SHA.
func (r *gitRepo) commit(files map[string]string) string {
	r.t.Helper()
	for name, content := range files {
		p := filepath.Join(r.work, name)
		if content == "" {
			if err := os.Remove(p); err != nil {
				r.t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
	r.git(r.work, "add", "-A")
	r.git(r.work, "commit", "--quiet", "--allow-empty", "-m", "manifests")
	r.git(r.work, "push", "--quiet", "origin", "main")
	return r.head()
}

// head is the SHA main points at.
func (r *gitRepo) head() string {
	r.t.Helper()
	return r.git(r.work, "rev-parse", "HEAD")
}
