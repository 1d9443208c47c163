package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
)

// Secrets are the shared secrets webhooks are verified with, one per
// provider; an empty one accepts unsigned webhooks from that provider, as
// Argo CD does (a webhook only triggers a refresh, which polling does anyway).
type Secrets struct {
	GitHub string // HMAC-SHA256 key of X-Hub-Signature-256
	GitLab string // the X-Gitlab-Token value
	Gitea  string // HMAC-SHA256 key of X-Gitea-Signature (or X-Gogs-Signature)
}

// SecretsFromArgoCD reads the webhook secrets from the data of Argo CD's
// argocd-secret: webhook.github.secret, webhook.gitlab.secret and, for
// Gitea, webhook.gogs.secret (Argo CD serves Gitea through its Gogs support).
func SecretsFromArgoCD(data map[string][]byte) Secrets {
	return Secrets{
		GitHub: string(data["webhook.github.secret"]),
		GitLab: string(data["webhook.gitlab.secret"]),
		Gitea:  string(data["webhook.gogs.secret"]),
	}
}

// verify checks the request's signature or token against the provider's
// secret. Messages name the header and the fix, never the secret or the
// expected value.
func verify(p Provider, h http.Header, body []byte, s Secrets) error {
	switch p {
	case GitHub:
		if s.GitHub == "" {
			return nil
		}
		sig, ok := strings.CutPrefix(h.Get("X-Hub-Signature-256"), "sha256=")
		if h.Get("X-Hub-Signature-256") == "" {
			return unsigned(p, "X-Hub-Signature-256")
		}
		if !ok || !hmacMatches(s.GitHub, body, sig) {
			return badSignature(p, "X-Hub-Signature-256")
		}
	case GitLab:
		if s.GitLab == "" {
			return nil
		}
		token := h.Get("X-Gitlab-Token")
		if token == "" {
			return unsigned(p, "X-Gitlab-Token")
		}
		// Comparing digests keeps the comparison constant-time even in
		// the token's length.
		got, want := sha256.Sum256([]byte(token)), sha256.Sum256([]byte(s.GitLab))
		if !hmac.Equal(got[:], want[:]) {
			return badSignature(p, "X-Gitlab-Token")
		}
	case Gitea:
		if s.Gitea == "" {
			return nil
		}
		header, sig := "X-Gitea-Signature", h.Get("X-Gitea-Signature")
		if sig == "" {
			header, sig = "X-Gogs-Signature", h.Get("X-Gogs-Signature")
		}
		if sig == "" {
			return unsigned(p, "X-Gitea-Signature")
		}
		if !hmacMatches(s.Gitea, body, sig) {
			return badSignature(p, header)
		}
	}
	return nil
}

// hmacMatches reports whether hexSig is the HMAC-SHA256 of body under key.
func hmacMatches(key string, body []byte, hexSig string) bool {
	got, err := hex.DecodeString(strings.TrimSpace(hexSig))
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}

func unsigned(p Provider, header string) error {
	return reject(http.StatusUnauthorized, nil,
		"%s webhook has no %s header but a %s webhook secret is configured: set the same secret in the webhook's settings", p, header, p)
}

func badSignature(p Provider, header string) error {
	return reject(http.StatusUnauthorized, nil,
		"%s webhook %s does not match the payload: the secret in the webhook's settings differs from the one configured", p, header)
}
