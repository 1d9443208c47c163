package webhook

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	var pushes []*Push
	h := NewHandler(func(context.Context) (Secrets, error) { return Secrets{GitHub: "s3cret"}, nil }, func(_ context.Context, p *Push) {
		pushes = append(pushes, p)
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	body := fixture(t, "github-push.json")
	ping := fixture(t, "github-ping.json")

	cases := []struct {
		name    string
		method  string
		body    []byte
		headers map[string]string
		status  int
		answer  string
	}{
		{"push", http.MethodPost, body, map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + hmacHex("s3cret", body)},
			200, "push to refs/heads/main of https://github.com/acme/guestbook received"},
		{"ping", http.MethodPost, ping, map[string]string{"X-GitHub-Event": "ping", "X-Hub-Signature-256": "sha256=" + hmacHex("s3cret", ping)},
			200, "event ignored: not a push"},
		{"bad signature", http.MethodPost, body, map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + hmacHex("nope", body)},
			401, "does not match the payload"},
		{"malformed", http.MethodPost, []byte("{"), map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + hmacHex("s3cret", []byte("{"))},
			400, "malformed github push payload"},
		{"GET", http.MethodGet, nil, nil, 405, "webhooks are sent with POST"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pushes = nil
			req, err := http.NewRequest(tc.method, srv.URL+"/api/webhook", strings.NewReader(string(tc.body)))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			answer, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status || !strings.Contains(string(answer), tc.answer) {
				t.Fatalf("answer %d %q, want %d containing %q", resp.StatusCode, answer, tc.status, tc.answer)
			}
			if strings.Contains(string(answer), "s3cret") {
				t.Errorf("answer leaks the secret: %q", answer)
			}
			if tc.status == 405 && resp.Header.Get("Allow") != http.MethodPost {
				t.Errorf("405 without Allow: POST")
			}
			wantPushes := 0
			if tc.name == "push" {
				wantPushes = 1
			}
			if len(pushes) != wantPushes {
				t.Errorf("onPush called %d times, want %d", len(pushes), wantPushes)
			}
		})
	}
}
