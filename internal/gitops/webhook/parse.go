package webhook

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// MaxPayloadBytes bounds a webhook body. Push payloads list at most 20
// commits and stay far below it; Argo CD recommends a limit too
// (webhook.maxPayloadSizeMB), since the endpoint takes unauthenticated calls.
const MaxPayloadBytes = 1 << 20

// Error is a request the handler refuses. Status is the HTTP status to
// answer with (400, 401, 405 or 413) and Message is safe to send back: it
// never contains a secret.
type Error struct {
	Status  int
	Message string
	Err     error
}

func (e *Error) Error() string { return e.Message }

func (e *Error) Unwrap() error { return e.Err }

func reject(status int, err error, format string, args ...any) *Error {
	return &Error{Status: status, Message: fmt.Sprintf(format, args...), Err: err}
}

// Parse reads a webhook request and returns the push it describes. It
// verifies the request against secrets first: a wrong or, when a secret is
// configured, missing signature gives an *Error with Status 401.
//
// Parse returns a nil Push and a nil error for events that need no refresh:
// GitHub's ping when a webhook is created, and any event other than a push
// (the Git host may be configured to send more than pushes). Other failures
// are *Error with Status 400 (malformed), 405 (not a POST) or 413 (too
// large).
func Parse(r *http.Request, secrets Secrets) (*Push, error) {
	if r.Method != http.MethodPost {
		return nil, reject(http.StatusMethodNotAllowed, nil, "webhooks are sent with POST, not %s", r.Method)
	}
	provider, event, ok := detect(r.Header)
	if !ok {
		return nil, reject(http.StatusBadRequest, nil,
			"not a known webhook: no X-GitHub-Event, X-Gitlab-Event or X-Gitea-Event header; gantry accepts push webhooks from GitHub, GitLab and Gitea")
	}
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	if err := verify(provider, r.Header, body, secrets); err != nil {
		return nil, err
	}
	if !isPush(provider, event) {
		return nil, nil
	}
	body, err = jsonBody(r.Header, body)
	if err != nil {
		return nil, err
	}
	push, err := decode(provider, body)
	if err != nil {
		return nil, err
	}
	return push, nil
}

// detect names the provider from the event header. Gitea also sends
// X-GitHub-Event (and GitHub-style signatures) for compatibility, so it is
// recognised first.
func detect(h http.Header) (Provider, string, bool) {
	for _, name := range []string{"X-Gitea-Event", "X-Gogs-Event"} {
		if e := h.Get(name); e != "" {
			return Gitea, e, true
		}
	}
	if e := h.Get("X-Gitlab-Event"); e != "" {
		return GitLab, e, true
	}
	if e := h.Get("X-GitHub-Event"); e != "" {
		return GitHub, e, true
	}
	return "", "", false
}

func isPush(p Provider, event string) bool {
	switch p {
	case GitLab:
		return event == "Push Hook" || event == "Tag Push Hook"
	default:
		return event == "push"
	}
}

func readBody(r *http.Request) ([]byte, error) {
	tooLarge := func() error {
		return reject(http.StatusRequestEntityTooLarge, nil,
			"payload is larger than %d bytes: configure the webhook to send push events only", MaxPayloadBytes)
	}
	if r.ContentLength > MaxPayloadBytes {
		return nil, tooLarge()
	}
	if r.Body == nil {
		return nil, reject(http.StatusBadRequest, nil, "empty body: a push webhook carries a JSON payload")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxPayloadBytes+1))
	if err != nil {
		return nil, reject(http.StatusBadRequest, err, "read payload: %v", err)
	}
	if len(body) > MaxPayloadBytes {
		return nil, tooLarge()
	}
	return body, nil
}

// jsonBody returns the JSON document of the payload. GitHub can also send it
// form-encoded (the "payload" field), its default content type, which Argo
// CD refuses; accepting it spares users a confusing setup step.
func jsonBody(h http.Header, body []byte) ([]byte, error) {
	ct, _, _ := mime.ParseMediaType(h.Get("Content-Type"))
	if ct != "application/x-www-form-urlencoded" {
		return body, nil
	}
	form, err := url.ParseQuery(string(body))
	if err != nil || form.Get("payload") == "" {
		return nil, reject(http.StatusBadRequest, err, "form-encoded payload without a payload field: set the webhook's content type to application/json")
	}
	return []byte(form.Get("payload")), nil
}

// Payload fields gantry reads. GitHub and Gitea share a shape.
type hubPush struct {
	Ref        string `json:"ref"`
	Before     string `json:"before"`
	After      string `json:"after"`
	Deleted    bool   `json:"deleted"`
	Repository struct {
		HTMLURL       string `json:"html_url"`
		CloneURL      string `json:"clone_url"`
		SSHURL        string `json:"ssh_url"`
		GitURL        string `json:"git_url"`
		URL           string `json:"url"`
		DefaultBranch string `json:"default_branch"`
	} `json:"repository"`
}

type gitlabPush struct {
	ObjectKind string `json:"object_kind"`
	Ref        string `json:"ref"`
	Before     string `json:"before"`
	After      string `json:"after"`
	Project    struct {
		WebURL        string `json:"web_url"`
		GitHTTPURL    string `json:"git_http_url"`
		GitSSHURL     string `json:"git_ssh_url"`
		DefaultBranch string `json:"default_branch"`
	} `json:"project"`
	Repository struct {
		Homepage   string `json:"homepage"`
		GitHTTPURL string `json:"git_http_url"`
		GitSSHURL  string `json:"git_ssh_url"`
		URL        string `json:"url"`
	} `json:"repository"`
}

func decode(p Provider, body []byte) (*Push, error) {
	push := &Push{Provider: p}
	var urls []string
	switch p {
	case GitLab:
		var g gitlabPush
		if err := json.Unmarshal(body, &g); err != nil {
			return nil, malformed(p, err)
		}
		push.Ref, push.Before, push.After = g.Ref, g.Before, g.After
		push.DefaultBranch = g.Project.DefaultBranch
		urls = []string{g.Project.WebURL, g.Project.GitHTTPURL, g.Project.GitSSHURL,
			g.Repository.Homepage, g.Repository.GitHTTPURL, g.Repository.GitSSHURL, g.Repository.URL}
	default:
		var g hubPush
		if err := json.Unmarshal(body, &g); err != nil {
			return nil, malformed(p, err)
		}
		push.Ref, push.Before, push.After, push.Deleted = g.Ref, g.Before, g.After, g.Deleted
		push.DefaultBranch = g.Repository.DefaultBranch
		urls = []string{g.Repository.HTMLURL, g.Repository.CloneURL, g.Repository.SSHURL,
			g.Repository.GitURL, g.Repository.URL}
	}
	push.RepoURLs = dedupe(urls)
	if len(push.RepoURLs) == 0 {
		return nil, reject(http.StatusBadRequest, nil, "%s push payload names no repository URL", p)
	}
	if push.Ref == "" {
		return nil, reject(http.StatusBadRequest, nil, "%s push payload has no ref", p)
	}
	push.Branch = strings.TrimPrefix(push.Ref, "refs/heads/")
	if push.Branch == push.Ref {
		push.Branch = ""
	}
	push.Tag = strings.TrimPrefix(push.Ref, "refs/tags/")
	if push.Tag == push.Ref {
		push.Tag = ""
	}
	if strings.Trim(push.After, "0") == "" && push.After != "" {
		push.Deleted = true
	}
	return push, nil
}

func malformed(p Provider, err error) error {
	return reject(http.StatusBadRequest, err, "malformed %s push payload: %v; the webhook must send JSON", p, err)
}

func dedupe(urls []string) []string {
	var out []string
	for _, u := range urls {
		u = strings.TrimSpace(u)
		if u != "" && !slices.Contains(out, u) {
			out = append(out, u)
		}
	}
	return out
}
