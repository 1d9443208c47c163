package webhook

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary bodies under each provider's event header, with
// and without a secret. Parse must never panic, must refuse with an *Error
// carrying a status the handler can send, and a push it accepts must name a
// repository and a ref.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"github-push.json", "github-tag-push.json", "github-ping.json", "gitlab-push.json", "gitlab-tag-push.json", "gitea-push.json"} {
		body := fixture(f, name)
		for provider := range 3 {
			f.Add(body, uint8(provider), false)
		}
	}
	f.Add([]byte(`{"ref":"refs/heads/x","repository":{"html_url":"h"}}`), uint8(0), true)
	f.Add([]byte(`{"ref":"","project":{"web_url":"::"}}`), uint8(1), false)
	f.Fuzz(func(t *testing.T, body []byte, provider uint8, signed bool) {
		headers := [][2]string{{"X-GitHub-Event", "push"}, {"X-Gitlab-Event", "Push Hook"}, {"X-Gitea-Event", "push"}}
		h := headers[int(provider)%len(headers)]
		req := newRequest(body, map[string]string{h[0]: h[1]})
		var secrets Secrets
		if signed {
			secrets = Secrets{GitHub: "k", GitLab: "k", Gitea: "k"}
			req.Header.Set("X-Hub-Signature-256", "sha256="+hmacHex("k", body))
			req.Header.Set("X-Gitea-Signature", hmacHex("k", body))
			req.Header.Set("X-Gitlab-Token", "k")
		}
		push, err := Parse(req, secrets)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error is %T, not *Error: %v", err, err)
			}
			switch e.Status {
			case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			default:
				t.Fatalf("status %d for a signed POST: %v", e.Status, err)
			}
			return
		}
		if push == nil {
			return
		}
		if len(push.RepoURLs) == 0 || push.Ref == "" {
			t.Fatalf("accepted push without repository or ref: %+v", push)
		}
		if push.Branch != "" && push.Tag != "" {
			t.Fatalf("push is both branch and tag: %+v", push)
		}
		if push.Branch != "" && !strings.HasSuffix(push.Ref, push.Branch) {
			t.Fatalf("branch %q not from ref %q", push.Branch, push.Ref)
		}
		for _, u := range push.RepoURLs {
			push.Matches(u, push.Ref) // must not panic on any URL
		}
	})
}
