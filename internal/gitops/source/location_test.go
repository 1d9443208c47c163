package source

import (
	"net/url"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// A credential template is sent only to URLs of exactly its scheme, host and
// port, below its path at a "/" boundary, however the URL is dressed up.
func TestTemplateMatchesExactly(t *testing.T) {
	cases := []struct {
		template string
		match    []string
		noMatch  []string
	}{
		{
			template: "https://github.com",
			match: []string{
				"https://github.com/org/repo", "https://GitHub.com/org/repo.git", "https://github.com:443/org/repo",
				"https://token@github.com/org/repo", "https://user:pw@github.com/org/repo", "HTTPS://github.com/x",
			},
			noMatch: []string{
				"https://github.com:x@other.example/org/repo", // userinfo github.com:x, host other.example
				"https://github.com.evil.org/org/repo",
				"https://github.com@evil.org/org/repo",
				"https://user@github.com@evil.org/org/repo",
				"http://github.com/org/repo",
				"https://github.com:8443/org/repo",
				"ssh://git@github.com/org/repo",
				"git@github.com:org/repo.git",
				"https://evil.org/github.com/org/repo",
				"https://evil.org?https://github.com/",
				"https://evil.org#@github.com/",
				"https://github.com/org/../../evil",
				"https://github.com/org/%2e%2e/evil",
				"file:///srv/github.com/org/repo",
				"/github.com/org/repo",
				"github.com/org/repo",
			},
		},
		{
			template: "https://git.example.com/team-a/",
			match:    []string{"https://git.example.com/team-a", "https://git.example.com/team-a/app", "https://git.example.com/Team-A/app.git/"},
			noMatch: []string{
				"https://git.example.com/team-ab/app", "https://git.example.com/team", "https://git.example.com/",
				"https://git.example.com/team-a/../team-b/app", "https://git.example.com/team-a/./x", "https://git.example.com/team-a//x",
				"https://git.example.com/team-a%2F..%2Fteam-b/app", "https://git.example.com/team-a/%2e%2e/team-b",
				"https://git.example.com:444/team-a/app",
			},
		},
		{
			template: "git@github.com:org",
			match: []string{"git@github.com:org/repo.git", "github.com:org/repo", "ssh://git@github.com/org/repo",
				"ssh://other@github.com:22/org/repo", "git+ssh://git@github.com/org/repo"},
			noMatch: []string{"ssh://git@github.com:2222/org/repo", "git@github.com.evil.org:org/repo", "git@github.com:org-x/repo",
				"https://github.com/org/repo", "git@evil.org:github.com:org/repo", "git@github.com@evil.org:org/repo"},
		},
		{
			template: "ssh://git@gitlab.example.com:2222/group",
			match:    []string{"ssh://git@gitlab.example.com:2222/group/sub/repo.git"},
			noMatch:  []string{"git@gitlab.example.com:group/repo.git", "ssh://git@gitlab.example.com/group/repo"},
		},
	}
	for _, tc := range cases {
		set, err := NewCredentialSet([]corev1.Secret{secret("t", SecretTypeRepoCreds, map[string]string{"url": tc.template, "password": "p"})})
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range tc.match {
			if _, ok := set.Lookup(u, ""); !ok {
				t.Errorf("template %s does not match %s", tc.template, u)
			}
		}
		for _, u := range tc.noMatch {
			if c, ok := set.Lookup(u, ""); ok {
				t.Errorf("template %s matches %s (credentials %s would be sent there)", tc.template, u, c.Source)
			}
		}
	}
}

func TestTemplateURLRefused(t *testing.T) {
	for _, bad := range []string{"github.com", "file:///srv/git", "/srv/git", "ftp://host/x", "https://host/a/../b", "https://host/a%2Fb"} {
		_, err := NewCredentialSet([]corev1.Secret{secret("t", SecretTypeRepoCreds, map[string]string{"url": bad, "password": "p"})})
		if err == nil || !strings.Contains(err.Error(), "secret argocd/t: url "+bad+" is not a repository URL prefix a template can match") {
			t.Errorf("template url %q: error %v", bad, err)
		}
	}
}

// FuzzTemplateMatch checks, for any URL, that a match of the template for
// https://git.example.com/org means Go's own URL parser (which go-git's HTTP
// transport uses to connect) sees that scheme, host and port, and a path
// below /org.
func FuzzTemplateMatch(f *testing.F) {
	for _, s := range []string{"https://git.example.com/org/x", "https://git.example.com:x@evil/org", "https://a@git.example.com@evil/org",
		"https://git.example.com:443/org/../x", "https://GIT.example.com/org/x.git", "https://git.example.com./org/x", "https://[::1]/org",
		"https://git.example.com%2eevil/org", "https://git.example.com\\@evil/org"} {
		f.Add(s)
	}
	set, err := NewCredentialSet([]corev1.Secret{secret("t", SecretTypeRepoCreds, map[string]string{"url": "https://git.example.com/org", "password": "p"})})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if _, ok := set.Lookup(s, ""); !ok {
			return
		}
		u, err := url.Parse(strings.TrimSpace(s))
		if err != nil {
			t.Fatalf("%q matched but does not parse: %v", s, err)
		}
		if !strings.EqualFold(u.Scheme, "https") || strings.ToLower(u.Hostname()) != "git.example.com" || (u.Port() != "" && u.Port() != "443") {
			t.Fatalf("%q matched but leads to %s://%s", s, u.Scheme, u.Host)
		}
		if p := strings.ToLower(u.EscapedPath()); p != "/org" && !strings.HasPrefix(p, "/org/") && p != "/org.git" {
			t.Fatalf("%q matched but its path is %s", s, p)
		}
		for _, seg := range strings.Split(u.EscapedPath(), "/") {
			if seg == ".." || seg == "." {
				t.Fatalf("%q matched with a dot segment", s)
			}
		}
	})
}
