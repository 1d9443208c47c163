package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newRequest(body []byte, headers map[string]string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/api/webhook", strings.NewReader(string(body)))
	r.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		r.Header.Set(k, v)
	}
	return r
}

func hmacHex(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

func TestParsePayloads(t *testing.T) {
	cases := []struct {
		fixture string
		headers map[string]string
		want    *Push
	}{
		{"github-push.json", map[string]string{"X-GitHub-Event": "push"}, &Push{
			Provider: GitHub,
			RepoURLs: []string{"https://github.com/acme/guestbook", "https://github.com/acme/guestbook.git",
				"git@github.com:acme/guestbook.git", "git://github.com/acme/guestbook.git"},
			Ref: "refs/heads/main", Branch: "main",
			Before: "6113728f27ae82c7b1a177c8d03f9e96e0adf246", After: "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
			DefaultBranch: "main",
		}},
		{"github-tag-push.json", map[string]string{"X-GitHub-Event": "push"}, &Push{
			Provider: GitHub,
			RepoURLs: []string{"https://github.com/acme/guestbook", "https://github.com/acme/guestbook.git",
				"git@github.com:acme/guestbook.git", "git://github.com/acme/guestbook.git"},
			Ref: "refs/tags/v1.4.0", Tag: "v1.4.0",
			Before: "0000000000000000000000000000000000000000", After: "a4c1b7e2d35e2f0c8f4a2b9b0e6c31d1f0f2e7aa",
			DefaultBranch: "main",
		}},
		{"github-branch-delete.json", map[string]string{"X-GitHub-Event": "push"}, &Push{
			Provider: GitHub,
			RepoURLs: []string{"https://github.com/acme/guestbook", "https://github.com/acme/guestbook.git", "git@github.com:acme/guestbook.git"},
			Ref:      "refs/heads/feature/old", Branch: "feature/old",
			Before: "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c", After: "0000000000000000000000000000000000000000",
			Deleted: true, DefaultBranch: "main",
		}},
		{"github-ping.json", map[string]string{"X-GitHub-Event": "ping"}, nil},
		{"github-push.json", map[string]string{"X-GitHub-Event": "issues"}, nil},
		{"gitlab-push.json", map[string]string{"X-Gitlab-Event": "Push Hook"}, &Push{
			Provider: GitLab,
			RepoURLs: []string{"https://gitlab.example.com/platform/config", "https://gitlab.example.com/platform/config.git",
				"git@gitlab.example.com:platform/config.git"},
			Ref: "refs/heads/develop", Branch: "develop",
			Before: "95790bf891e76fee5e1747ab589903a6a1f80f22", After: "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
			DefaultBranch: "main",
		}},
		{"gitlab-tag-push.json", map[string]string{"X-Gitlab-Event": "Tag Push Hook"}, &Push{
			Provider: GitLab,
			RepoURLs: []string{"https://gitlab.example.com/platform/config", "https://gitlab.example.com/platform/config.git",
				"git@gitlab.example.com:platform/config.git"},
			Ref: "refs/tags/v2.0.0", Tag: "v2.0.0",
			Before: "0000000000000000000000000000000000000000", After: "82b3d5ae55f7080f1e6022629cdb57bfae7cccc7",
			DefaultBranch: "main",
		}},
		{"gitlab-push.json", map[string]string{"X-Gitlab-Event": "Merge Request Hook"}, nil},
		// Gitea also sends GitHub's and Gogs' headers; it must be read as Gitea.
		{"gitea-push.json", map[string]string{"X-Gitea-Event": "push", "X-Gogs-Event": "push", "X-GitHub-Event": "push"}, &Push{
			Provider: Gitea,
			RepoURLs: []string{"https://gitea.example.com/infra/apps", "https://gitea.example.com/infra/apps.git",
				"ssh://git@gitea.example.com:2222/infra/apps.git"},
			Ref: "refs/heads/main", Branch: "main",
			Before: "28e1879d029cb852e4844d9c718537df08844e03", After: "bffeb74224043ba2feb48d137756c8a9331c449a",
			DefaultBranch: "main",
		}},
		{"gitea-push.json", map[string]string{"X-Gogs-Event": "push"}, &Push{
			Provider: Gitea,
			RepoURLs: []string{"https://gitea.example.com/infra/apps", "https://gitea.example.com/infra/apps.git",
				"ssh://git@gitea.example.com:2222/infra/apps.git"},
			Ref: "refs/heads/main", Branch: "main",
			Before: "28e1879d029cb852e4844d9c718537df08844e03", After: "bffeb74224043ba2feb48d137756c8a9331c449a",
			DefaultBranch: "main",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.fixture+"/"+strings.Join(headerValues(tc.headers), ","), func(t *testing.T) {
			got, err := Parse(newRequest(fixture(t, tc.fixture), tc.headers), Secrets{})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Parse =\n %+v\nwant\n %+v", got, tc.want)
			}
		})
	}
}

func headerValues(h map[string]string) []string {
	var out []string
	for k, v := range h {
		out = append(out, k+"="+v)
	}
	return out
}

func TestParseGitHubFormEncoded(t *testing.T) {
	body := []byte("payload=" + url.QueryEscape(string(fixture(t, "github-push.json"))))
	r := newRequest(body, map[string]string{
		"X-GitHub-Event":      "push",
		"Content-Type":        "application/x-www-form-urlencoded",
		"X-Hub-Signature-256": "sha256=" + hmacHex("s", body),
	})
	got, err := Parse(r, Secrets{GitHub: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Branch != "main" || got.RepoURLs[0] != "https://github.com/acme/guestbook" {
		t.Errorf("Parse = %+v", got)
	}
}

func TestParseSignatures(t *testing.T) {
	gh, gl, gt := fixture(t, "github-push.json"), fixture(t, "gitlab-push.json"), fixture(t, "gitea-push.json")
	secrets := Secrets{GitHub: "gh-secret", GitLab: "gl-token", Gitea: "gt-secret"}
	cases := []struct {
		name    string
		body    []byte
		headers map[string]string
		status  int // 0: accepted
		message string
	}{
		{"github signed", gh, map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + hmacHex("gh-secret", gh)}, 0, ""},
		{"github wrong secret", gh, map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + hmacHex("guess", gh)}, 401,
			"github webhook X-Hub-Signature-256 does not match the payload"},
		{"github body changed", gh, map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + hmacHex("gh-secret", append([]byte(" "), gh...))}, 401, "does not match"},
		{"github sha1 only", gh, map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature": "sha1=0123"}, 401,
			"github webhook has no X-Hub-Signature-256 header but a github webhook secret is configured"},
		{"github no prefix", gh, map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": hmacHex("gh-secret", gh)}, 401, "does not match"},
		{"github not hex", gh, map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=zz"}, 401, "does not match"},
		// A ping is verified too: a wrong secret shows when the hook is created.
		{"github ping unsigned", fixture(t, "github-ping.json"), map[string]string{"X-GitHub-Event": "ping"}, 401, "has no X-Hub-Signature-256"},
		{"gitlab token", gl, map[string]string{"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": "gl-token"}, 0, ""},
		{"gitlab wrong token", gl, map[string]string{"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": "gl-tokenX"}, 401, "gitlab webhook X-Gitlab-Token does not match"},
		{"gitlab no token", gl, map[string]string{"X-Gitlab-Event": "Push Hook"}, 401, "has no X-Gitlab-Token header"},
		{"gitea signed", gt, map[string]string{"X-Gitea-Event": "push", "X-Gitea-Signature": hmacHex("gt-secret", gt)}, 0, ""},
		{"gogs signed", gt, map[string]string{"X-Gogs-Event": "push", "X-Gogs-Signature": hmacHex("gt-secret", gt)}, 0, ""},
		// Gitea's GitHub-style signature uses the Gitea secret, not GitHub's.
		{"gitea wrong", gt, map[string]string{"X-Gitea-Event": "push", "X-GitHub-Event": "push",
			"X-Hub-Signature-256": "sha256=" + hmacHex("gh-secret", gt), "X-Gitea-Signature": hmacHex("gh-secret", gt)}, 401, "gitea webhook X-Gitea-Signature does not match"},
		{"gitea unsigned", gt, map[string]string{"X-Gitea-Event": "push"}, 401, "has no X-Gitea-Signature header"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			push, err := Parse(newRequest(tc.body, tc.headers), secrets)
			if tc.status == 0 {
				if err != nil || push == nil {
					t.Fatalf("Parse = %v, %v; want a push", push, err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Status != tc.status || !strings.Contains(e.Message, tc.message) {
				t.Fatalf("Parse error = %v; want status %d containing %q", err, tc.status, tc.message)
			}
			for _, s := range []string{secrets.GitHub, secrets.GitLab, secrets.Gitea} {
				if strings.Contains(e.Message, s) {
					t.Errorf("error message leaks a secret: %q", e.Message)
				}
			}
		})
	}
	// Without secrets, signatures are not required (and not checked).
	if _, err := Parse(newRequest(gh, map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=00"}), Secrets{}); err != nil {
		t.Errorf("no secret configured: %v", err)
	}
}

func TestParseRejects(t *testing.T) {
	big := []byte(`{"ref":"refs/heads/main","x":"` + strings.Repeat("a", MaxPayloadBytes) + `"}`)
	cases := []struct {
		name    string
		req     *http.Request
		status  int
		message string
	}{
		{"GET", httptest.NewRequest(http.MethodGet, "/api/webhook", nil), 405, "webhooks are sent with POST, not GET"},
		{"no event header", newRequest([]byte(`{}`), nil), 400, "not a known webhook"},
		{"not JSON", newRequest([]byte(`ref=main`), map[string]string{"X-GitHub-Event": "push"}), 400, "malformed github push payload"},
		{"trailing data", newRequest([]byte(`{"ref":"refs/heads/main"} {}`), map[string]string{"X-GitHub-Event": "push"}), 400, "malformed github push payload"},
		{"no repository", newRequest([]byte(`{"ref":"refs/heads/main","after":"abc"}`), map[string]string{"X-GitHub-Event": "push"}), 400, "names no repository URL"},
		{"no ref", newRequest([]byte(`{"project":{"web_url":"https://gitlab.com/a/b"}}`), map[string]string{"X-Gitlab-Event": "Push Hook"}), 400, "gitlab push payload has no ref"},
		{"form without payload", newRequest([]byte(`a=b`), map[string]string{"X-GitHub-Event": "push", "Content-Type": "application/x-www-form-urlencoded"}), 400, "without a payload field"},
		{"too large", newRequest(big, map[string]string{"X-GitHub-Event": "push"}), 413, "payload is larger than 1048576 bytes"},
	}
	unknownLength := newRequest(big, map[string]string{"X-Gitlab-Event": "Push Hook"})
	unknownLength.ContentLength = -1
	cases = append(cases, struct {
		name    string
		req     *http.Request
		status  int
		message string
	}{"too large, no Content-Length", unknownLength, 413, "payload is larger than"})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.req, Secrets{})
			var e *Error
			if !errors.As(err, &e) || e.Status != tc.status || !strings.Contains(e.Message, tc.message) {
				t.Fatalf("Parse error = %v; want status %d containing %q", err, tc.status, tc.message)
			}
		})
	}
}

func TestSecretsFromArgoCD(t *testing.T) {
	got := SecretsFromArgoCD(map[string][]byte{
		"webhook.github.secret": []byte("a"), "webhook.gitlab.secret": []byte("b"), "webhook.gogs.secret": []byte("c"),
		"server.secretkey": []byte("unrelated"),
	})
	if want := (Secrets{GitHub: "a", GitLab: "b", Gitea: "c"}); got != want {
		t.Errorf("SecretsFromArgoCD = %+v, want %+v", got, want)
	}
}
