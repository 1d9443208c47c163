package generate

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
	"gantry.dev/gantry/internal/gitops/source"
)

// Test helpers: real repositories made with the git CLI, read through the
// real source cache as file:// URLs.

type repo struct {
	t    *testing.T
	bare string
	work string
}

func (r *repo) url() string { return "file://" + r.bare }

func newRepo(t *testing.T) *repo {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skipf("git CLI not installed: %v", err)
	}
	root := t.TempDir()
	r := &repo{t: t, bare: filepath.Join(root, "repo.git"), work: filepath.Join(root, "work")}
	runGit(t, root, "init", "--quiet", "--bare", "--initial-branch=main", r.bare)
	runGit(t, root, "init", "--quiet", "--initial-branch=main", r.work)
	runGit(t, r.work, "remote", "add", "origin", r.bare)
	return r
}

// commit writes files on branch (created from the current one if new),
// commits, pushes and returns the commit SHA.
func (r *repo) commit(branch string, files map[string]string) string {
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
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
	runGit(r.t, r.work, "add", "--all")
	runGit(r.t, r.work, "commit", "--quiet", "--allow-empty", "-m", "commit on "+branch)
	runGit(r.t, r.work, "push", "--quiet", "origin", branch)
	return runGit(r.t, r.work, "rev-parse", "HEAD")
}

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

func newSources(t *testing.T) CacheSources {
	t.Helper()
	c, err := source.NewCache(source.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return CacheSources{Cache: c}
}

// fakeClusters is plain data: what RegistryClusters would list.
type fakeClusters []Cluster

func (f fakeClusters) List(context.Context) ([]Cluster, error) { return f, nil }

var testClusters = fakeClusters{
	{Name: "in-cluster", Server: "https://kubernetes.default.svc", Local: true},
	{Name: "staging", Server: "https://staging.example.com", Project: "web",
		Labels:      map[string]string{"argocd.argoproj.io/secret-type": "cluster", "env": "staging"},
		Annotations: map[string]string{"owner": "team-a"}},
	{Name: "p-team/Prod_EU", Server: "https://prod-eu.example.com",
		Labels: map[string]string{"argocd.argoproj.io/secret-type": "cluster", "env": "prod"}},
}

// appSet reads an ApplicationSet from YAML, as a user would write it.
func appSet(t *testing.T, y string) *gitopsv1alpha1.ApplicationSet {
	t.Helper()
	set := &gitopsv1alpha1.ApplicationSet{}
	if err := yaml.UnmarshalStrict([]byte(y), set); err != nil {
		t.Fatalf("bad test ApplicationSet: %v\n%s", err, y)
	}
	if set.Namespace == "" {
		set.Namespace = "p-team"
	}
	return set
}

func generate(t *testing.T, g *Generator, set *gitopsv1alpha1.ApplicationSet) []map[string]any {
	t.Helper()
	params, err := g.Generate(context.Background(), set)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	return params
}

// canon renders params as sorted JSON for comparison.
func canon(t *testing.T, v any) string {
	t.Helper()
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func assertParams(t *testing.T, got []map[string]any, want string) {
	t.Helper()
	var w any
	if err := yaml.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want: %v", err)
	}
	if g, w := canon(t, got), canon(t, w); g != w {
		t.Errorf("params:\n%s\nwant:\n%s", g, w)
	}
}
