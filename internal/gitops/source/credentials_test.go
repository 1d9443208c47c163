package source

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func secret(name, kind string, data map[string]string) corev1.Secret {
	s := corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "argocd", Name: name, Labels: map[string]string{LabelSecretType: kind}},
		Data:       map[string][]byte{},
	}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	return s
}

func TestCredentialSetLookup(t *testing.T) {
	set, err := NewCredentialSet([]corev1.Secret{
		secret("exact", SecretTypeRepository, map[string]string{"url": "https://github.com/org/app.git", "username": "u", "password": "exact"}),
		secret("no-auth", SecretTypeRepository, map[string]string{"url": "https://github.com/org/public", "insecure": "true"}),
		secret("org", SecretTypeRepoCreds, map[string]string{"url": "https://github.com/org", "username": "u", "password": "org"}),
		secret("host", SecretTypeRepoCreds, map[string]string{"url": "https://github.com/", "password": "host"}),
		secret("ssh", SecretTypeRepoCreds, map[string]string{"url": "git@github.com:org", "sshPrivateKey": "KEY"}),
		secret("helm", SecretTypeRepository, map[string]string{"url": "https://charts.example.com", "type": "helm", "password": "helm"}),
		{ObjectMeta: metav1.ObjectMeta{Name: "unlabelled"}, Data: map[string][]byte{"url": []byte("https://x.example.com")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		url, password, key string
		found              bool
		insecure           bool
	}{
		{url: "https://github.com/org/app", password: "exact", found: true},
		{url: "https://GitHub.com/org/app.git/", password: "exact", found: true},
		{url: "https://github.com/org/other", password: "org", found: true},
		{url: "https://github.com/org", password: "org", found: true},
		{url: "https://github.com/org-labs/x", password: "host", found: true}, // not under .../org/
		{url: "https://github.com/org/public", password: "org", found: true, insecure: true},
		{url: "git@github.com:org/app.git", key: "KEY", found: true},
		{url: "https://github.com.evil.example/org/app"},
		{url: "https://charts.example.com"},
		{url: "https://x.example.com"},
	}
	for _, tc := range cases {
		got, found := set.Lookup(tc.url, "")
		if found != tc.found || got.Password != tc.password || got.SSHPrivateKey != tc.key || got.Insecure != tc.insecure {
			t.Errorf("Lookup(%s) = {password %q key %q insecure %v}, %v; want {%q %q %v}, %v",
				tc.url, got.Password, got.SSHPrivateKey, got.Insecure, found, tc.password, tc.key, tc.insecure, tc.found)
		}
	}
}

func TestNewCredentialSetReportsBadSecrets(t *testing.T) {
	set, err := NewCredentialSet([]corev1.Secret{
		secret("a-good", SecretTypeRepository, map[string]string{"url": "https://git.example.com/a", "password": "p"}),
		secret("b-dup", SecretTypeRepository, map[string]string{"url": "https://git.example.com/a.git", "password": "q"}),
		secret("c-no-url", SecretTypeRepository, map[string]string{"password": "p"}),
		secret("d-bad-bool", SecretTypeRepository, map[string]string{"url": "https://git.example.com/d", "insecure": "yes please"}),
		secret("e-half-tls", SecretTypeRepository, map[string]string{"url": "https://git.example.com/e", "tlsClientCertData": "CERT"}),
	})
	for _, want := range []string{
		"secret argocd/b-dup: url https://git.example.com/a.git is already configured by secret argocd/a-good",
		"secret argocd/c-no-url: data key url is missing",
		`secret argocd/d-bad-bool: data key insecure is "yes please": write "true" or "false"`,
		"secret argocd/e-half-tls: tlsClientCertData and tlsClientCertKey must be given together",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v\nlacks %q", err, want)
		}
	}
	if c, ok := set.Lookup("https://git.example.com/a", ""); !ok || c.Password != "p" {
		t.Errorf("valid Secret lost next to invalid ones: %+v, %v", c, ok)
	}
}

func TestHTTPCredentials(t *testing.T) {
	srv := newGitServer(t, "alice", "s3cret")
	r := newRepo(t, srv.root, "private")
	want := r.commit("main", "init", map[string]string{"f": "private"})
	repoURL := srv.url("private")
	ctx := context.Background()

	cacheWith := func(secrets ...corev1.Secret) *Cache {
		set, err := NewCredentialSet(secrets)
		if err != nil {
			t.Fatal(err)
		}
		return newTestCache(t, Options{Credentials: set.Lookup})
	}

	t.Run("none", func(t *testing.T) {
		_, err := cacheWith().Resolve(ctx, Repo{URL: repoURL}, "main")
		if ReasonOf(err) != ReasonAuthRequired || !strings.Contains(err.Error(), "repository "+repoURL+" needs credentials: add a repository Secret") {
			t.Fatalf("got %v, want %s saying to add a Secret", err, ReasonAuthRequired)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		c := cacheWith(secret("repo", SecretTypeRepository, map[string]string{"url": repoURL, "username": "alice", "password": "guess"}))
		_, err := c.Resolve(ctx, Repo{URL: repoURL}, "main")
		if ReasonOf(err) != ReasonAuthFailed || !strings.Contains(err.Error(), "refused the configured credentials") {
			t.Fatalf("got %v, want %s", err, ReasonAuthFailed)
		}
		if strings.Contains(err.Error(), "guess") {
			t.Errorf("error leaks the password: %v", err)
		}
		// Checkout fetches with the same credentials and fails the same way.
		_, err = c.Checkout(ctx, Repo{URL: repoURL}, want)
		if ReasonOf(err) != ReasonAuthFailed {
			t.Fatalf("Checkout: got %v, want %s", err, ReasonAuthFailed)
		}
	})
	ok := map[string][]corev1.Secret{
		"repository secret": {secret("repo", SecretTypeRepository, map[string]string{"url": repoURL, "username": "alice", "password": "s3cret"})},
		"repo-creds prefix": {
			secret("other", SecretTypeRepoCreds, map[string]string{"url": srv.srv.URL + "/priv", "username": "alice", "password": "wrong"}),
			secret("server", SecretTypeRepoCreds, map[string]string{"url": srv.srv.URL, "username": "alice", "password": "s3cret"}),
		},
		"repository without auth + repo-creds": {
			secret("repo", SecretTypeRepository, map[string]string{"url": repoURL, "project": "team-a"}),
			secret("server", SecretTypeRepoCreds, map[string]string{"url": srv.srv.URL + "/", "username": "alice", "password": "s3cret"}),
		},
	}
	for name, secrets := range ok {
		t.Run(name, func(t *testing.T) {
			c := cacheWith(secrets...)
			sha, err := c.Resolve(ctx, Repo{URL: repoURL, Project: "team-a"}, "main")
			if err != nil || sha != want {
				t.Fatalf("Resolve = %s, %v; want %s", sha, err, want)
			}
			dir, err := c.Checkout(ctx, Repo{URL: repoURL, Project: "team-a"}, sha)
			if err != nil {
				t.Fatal(err)
			}
			assertFile(t, dir, "f", "private")
		})
	}
}

func TestUnreachableAndNotFound(t *testing.T) {
	ctx := context.Background()
	c := newTestCache(t, Options{})

	closed := httptest.NewServer(nil)
	closed.Close()
	_, err := c.Resolve(ctx, Repo{URL: closed.URL + "/org/app.git"}, "main")
	if ReasonOf(err) != ReasonUnreachable || !strings.Contains(err.Error(), "repository "+closed.URL+"/org/app.git unreachable: ") ||
		!strings.HasSuffix(err.Error(), "check the URL and the network") {
		t.Fatalf("closed port: got %v, want %s", err, ReasonUnreachable)
	}

	srv := newGitServer(t, "", "")
	_, err = c.Resolve(ctx, Repo{URL: srv.url("missing")}, "main")
	if ReasonOf(err) != ReasonNotFound {
		t.Fatalf("missing repository: got %v, want %s", err, ReasonNotFound)
	}

	_, err = c.Resolve(ctx, Repo{URL: "https://user:tok3n@" + strings.TrimPrefix(closed.URL, "http://") + "/x.git"}, "main")
	if err == nil || strings.Contains(err.Error(), "tok3n") {
		t.Fatalf("error leaks a token from the URL: %v", err)
	}
}
