package source

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// A credential scoped to project a serves a's apps only. Project b's app,
// right after a's fetched the private repository, gets an authentication
// error naming the repository, not a's commit nor a's files, however it asks.
func TestProjectScopedCredentials(t *testing.T) {
	srv := newGitServer(t, "alice", "s3cret")
	private := newRepo(t, srv.root, "private")
	secretSHA := private.commit("main", "init", map[string]string{"f": "project a's secret"})
	repoURL := srv.url("private")
	public := newGitServer(t, "", "")
	newRepo(t, public.root, "decoy").commit("main", "init", map[string]string{"f": "public"})
	ctx := context.Background()

	for name, credential := range map[string]corev1.Secret{
		"repository": secret("a-private", SecretTypeRepository, map[string]string{"url": repoURL, "project": "a", "username": "alice", "password": "s3cret"}),
		"repo-creds": secret("a-server", SecretTypeRepoCreds, map[string]string{"url": srv.srv.URL, "project": "a", "username": "alice", "password": "s3cret"}),
	} {
		t.Run(name, func(t *testing.T) {
			set, err := NewCredentialSet([]corev1.Secret{credential})
			if err != nil {
				t.Fatal(err)
			}
			c := newTestCache(t, Options{Credentials: set.Lookup})
			a := Repo{URL: repoURL, Project: "a"}
			sha, err := c.Resolve(ctx, a, "main")
			if err != nil || sha != secretSHA {
				t.Fatalf("project a: Resolve = %s, %v; want %s", sha, err, secretSHA)
			}
			dir, err := c.Checkout(ctx, a, sha)
			if err != nil {
				t.Fatal(err)
			}
			assertFile(t, dir, "f", "project a's secret")

			// Project b (and an app outside any project) ask right after, in
			// every way that could reach a's mirror, ls-remote answer or tree.
			for _, project := range []string{"b", ""} {
				for _, u := range []string{repoURL, strings.TrimSuffix(repoURL, ".git"), strings.ToUpper(repoURL[:8]) + repoURL[8:] + "/"} {
					b := Repo{URL: u, Project: project}
					for what, try := range map[string]func() (string, error){
						"Resolve main":      func() (string, error) { return c.Resolve(ctx, b, "main") },
						"Resolve the SHA":   func() (string, error) { return c.Resolve(ctx, b, secretSHA) },
						"Resolve a prefix":  func() (string, error) { return c.Resolve(ctx, b, secretSHA[:10]) },
						"ResolveAfter main": func() (string, error) { return c.ResolveAfter(ctx, b, "main", c.now().Add(-60e9)) },
						"Checkout the SHA":  func() (string, error) { return c.Checkout(ctx, b, secretSHA) },
						"Branches": func() (string, error) {
							br, err := c.Branches(ctx, b)
							return strings.Join(mapValues(br), ","), err
						},
					} {
						got, err := try()
						if err == nil || strings.Contains(got, secretSHA) || strings.Contains(got, "trees") {
							t.Errorf("project %q, %s, %s: got %q, %v; want an authentication error", project, u, what, got, err)
							continue
						}
						if ReasonOf(err) != ReasonAuthRequired || !strings.Contains(err.Error(), "repository "+redactURL(u)+" needs credentials") {
							t.Errorf("project %q, %s, %s: error %v, want %s naming the repository", project, u, what, err, ReasonAuthRequired)
						}
						if project == "b" && !strings.Contains(err.Error(), "usable by project b") {
							t.Errorf("project b, %s: error %q does not say which credentials would do", what, err)
						}
					}
				}
			}

			// Naming a's commit with a public repository does not hand out
			// a's checked-out tree either.
			if dir, err := c.Checkout(ctx, Repo{URL: public.url("decoy"), Project: "b"}, secretSHA); err == nil || ReasonOf(err) != ReasonRevisionNotFound {
				t.Errorf("a's commit through a public repository: %q, %v; want %s", dir, err, ReasonRevisionNotFound)
			}
		})
	}
}

// A global credential (no project: only an admin writes gantry-system) serves
// every project; a project's own wins over a global one for the same URL.
func TestGlobalAndProjectCredentials(t *testing.T) {
	srv := newGitServer(t, "alice", "s3cret")
	newRepo(t, srv.root, "app").commit("main", "init", map[string]string{"f": "x"})
	repoURL := srv.url("app")
	set, err := NewCredentialSet([]corev1.Secret{
		secret("global", SecretTypeRepoCreds, map[string]string{"url": srv.srv.URL, "username": "alice", "password": "s3cret"}),
		secret("b-wrong", SecretTypeRepository, map[string]string{"url": repoURL, "project": "b", "username": "alice", "password": "wrong"}),
	})
	if err != nil {
		t.Fatal(err)
	}
	c := newTestCache(t, Options{Credentials: set.Lookup})
	for _, p := range []string{"a", "c", ""} {
		if _, err := c.Resolve(context.Background(), Repo{URL: repoURL, Project: p}, "main"); err != nil {
			t.Errorf("project %q with the global credential: %v", p, err)
		}
	}
	if _, err := c.Resolve(context.Background(), Repo{URL: repoURL, Project: "b"}, "main"); ReasonOf(err) != ReasonAuthFailed {
		t.Errorf("project b, whose own (wrong) credential wins: %v, want %s", err, ReasonAuthFailed)
	}
	if got, _ := set.Lookup(repoURL, "b"); got.Source != "argocd/b-wrong" {
		t.Errorf("project b uses %s, want its own argocd/b-wrong", got.Source)
	}
}

// Two servers on one host are two repositories: the ls-remote answer and the
// mirror of one never stand for the other's (a tenant's server on another
// port of a shared address cannot feed another project's app).
func TestRepositoriesOnOneHostKeptApart(t *testing.T) {
	s1, s2 := newGitServer(t, "", ""), newGitServer(t, "", "")
	one := newRepo(t, s1.root, "app").commit("main", "one", map[string]string{"f": "one"})
	two := newRepo(t, s2.root, "app").commit("main", "two", map[string]string{"f": "two"})
	c := newTestCache(t, Options{})
	ctx := context.Background()
	for _, tc := range []struct{ url, sha, content string }{{s1.url("app"), one, "one"}, {s2.url("app"), two, "two"}} {
		sha, err := c.Resolve(ctx, Repo{URL: tc.url, Project: "p"}, "main")
		if err != nil || sha != tc.sha {
			t.Fatalf("%s: Resolve = %s, %v; want %s", tc.url, sha, err, tc.sha)
		}
		dir, err := c.Checkout(ctx, Repo{URL: tc.url, Project: "p"}, sha)
		if err != nil {
			t.Fatal(err)
		}
		assertFile(t, dir, "f", tc.content)
	}
	if _, err := c.Checkout(ctx, Repo{URL: s2.url("app")}, one); ReasonOf(err) != ReasonRevisionNotFound {
		t.Errorf("server one's commit through server two: %v, want %s", err, ReasonRevisionNotFound)
	}
}

func TestCredentialSetScopes(t *testing.T) {
	set, err := NewCredentialSet([]corev1.Secret{
		secret("a-repo", SecretTypeRepository, map[string]string{"url": "https://git.example.com/org/app", "project": "a", "password": "a-repo"}),
		secret("global-repo", SecretTypeRepository, map[string]string{"url": "https://git.example.com/org/app", "password": "global-repo"}),
		secret("b-org", SecretTypeRepoCreds, map[string]string{"url": "https://git.example.com/org", "project": "b", "password": "b-org"}),
		secret("global-org", SecretTypeRepoCreds, map[string]string{"url": "https://git.example.com/org", "password": "global-org"}),
		secret("c-host", SecretTypeRepoCreds, map[string]string{"url": "https://git.example.com", "project": "c", "password": "c-host"}),
		secret("dup-a", SecretTypeRepository, map[string]string{"url": "https://git.example.com/org/app.git", "project": "a", "password": "dup"}),
	})
	if err == nil || !strings.Contains(err.Error(), "secret argocd/dup-a: url https://git.example.com/org/app.git is already configured by secret argocd/a-repo for project a") {
		t.Errorf("duplicate within a project: %v", err)
	}
	for _, tc := range []struct{ url, project, password string }{
		{"https://git.example.com/org/app", "a", "a-repo"},
		{"https://git.example.com/org/app", "b", "global-repo"},
		{"https://git.example.com/org/app", "", "global-repo"},
		{"https://git.example.com/org/other", "b", "b-org"},
		{"https://git.example.com/org/other", "a", "global-org"},
		{"https://git.example.com/org/other", "c", "global-org"}, // longer path wins over c's host template
		{"https://git.example.com/else", "c", "c-host"},
		{"https://git.example.com/else", "a", ""},
		{"https://git.example.com/else", "", ""},
	} {
		got, _ := set.Lookup(tc.url, tc.project)
		if got.Password != tc.password {
			t.Errorf("Lookup(%s, %q) = %q (%s), want %q", tc.url, tc.project, got.Password, got.Source, tc.password)
		}
	}
}

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
