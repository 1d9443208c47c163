package generate

import (
	"context"
	"io/fs"
	"sync"
	"testing"
	"testing/fstest"

	"gantry.dev/gantry/internal/gitops/source"
)

// recordingSources answers every read with one file and records the
// repositories asked for, with the project they were read as.
type recordingSources struct {
	mu    sync.Mutex
	repos []source.Repo
}

func (s *recordingSources) Tree(_ context.Context, repo source.Repo, _ string) (fs.FS, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repos = append(s.repos, repo)
	return fstest.MapFS{"envs/dev/config.json": {Data: []byte(`{"x": 1}`)}}, "0123456789012345678901234567890123456789", nil
}

func (s *recordingSources) Branches(_ context.Context, repo source.Repo) (map[string]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repos = append(s.repos, repo)
	return map[string]string{"main": "0123456789012345678901234567890123456789"}, nil
}

// An ApplicationSet's git generators read repositories as its project (the
// one whose namespace holds it), at any depth, so that only that project's
// credentials (and global ones) are used; outside a project namespace, only
// global ones.
func TestGitGeneratorsReadAsTheSetsProject(t *testing.T) {
	for ns, want := range map[string]string{"p-team": "team", "p-other": "other", "argocd": ""} {
		rec := &recordingSources{}
		g := &Generator{Sources: rec}
		set := appSet(t, `
metadata: {namespace: `+ns+`}
spec:
  generators:
  - matrix:
      generators:
      - git:
          repoURL: https://git.example.com/org/config
          revision: main
          files: [{path: envs/*/config.json}]
      - gitBranches:
          repoURL: https://git.example.com/org/app
  - git:
      repoURL: https://git.example.com/org/config
      revision: main
      directories: [{path: envs/*}]
`+appTemplate)
		if _, err := g.Generate(context.Background(), set); err != nil {
			t.Fatal(err)
		}
		if len(rec.repos) != 3 {
			t.Fatalf("%s: %d reads, want 3: %v", ns, len(rec.repos), rec.repos)
		}
		for _, r := range rec.repos {
			if r.Project != want {
				t.Errorf("set in %s read %s as project %q, want %q", ns, r.URL, r.Project, want)
			}
		}
		if g.project != "" {
			t.Errorf("Generate changed the shared Generator's project to %q", g.project)
		}
	}
}
