package sso

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// cookieName carries the pending login from /login to /callback.
const cookieName = "gantry.sso"

// stateTTL bounds how long a user may take at the provider's login page.
const stateTTL = 10 * time.Minute

// pending is what /login hands to /callback through the browser.
type pending struct {
	State    string    `json:"s"`
	Nonce    string    `json:"n"`
	Verifier string    `json:"v"`
	Return   string    `json:"r"`
	Expires  time.Time `json:"e"`
}

// sealer encrypts and authenticates pending logins. AES-GCM rather than a
// bare HMAC: the PKCE verifier is then unreadable too, even to the browser.
type sealer struct{ aead cipher.AEAD }

// newSealer keys the sealer from the upstream client's secret when there
// is one, so that every replica of gantry opens what another sealed (the
// provider may send the browser back to any of them); a public client's
// sign-ins are sealed with a key of this process only.
func newSealer(clientSecret string) (sealer, error) {
	key := make([]byte, 32)
	if clientSecret != "" {
		sum := sha256.Sum256([]byte("gantry sso state cookie\x00" + clientSecret))
		key = sum[:]
	} else if _, err := rand.Read(key); err != nil {
		return sealer{}, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return sealer{}, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return sealer{}, err
	}
	return sealer{aead}, nil
}

func (s sealer) seal(p pending) (string, error) {
	plain, err := json.Marshal(p)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	// The cookie name is the associated data: a sealed value of some other
	// cookie made with this key does not open as this one.
	return base64.RawURLEncoding.EncodeToString(s.aead.Seal(nonce, nonce, plain, []byte(cookieName))), nil
}

var errBadCookie = errors.New("login cookie is not valid")

func (s sealer) open(value string, now time.Time) (pending, error) {
	raw, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil || len(raw) < s.aead.NonceSize() {
		return pending{}, errBadCookie
	}
	n := s.aead.NonceSize()
	plain, err := s.aead.Open(nil, raw[:n], raw[n:], []byte(cookieName))
	if err != nil {
		return pending{}, errBadCookie
	}
	var p pending
	if err := json.Unmarshal(plain, &p); err != nil || p.State == "" {
		return pending{}, errBadCookie
	}
	if now.After(p.Expires) {
		return pending{}, errBadCookie
	}
	return p, nil
}

// randomString is 32 bytes of entropy, URL-safe.
func randomString() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// LocalPath returns returnTo if it is a path on gantry itself, else "/". It
// is what stops /login?return=//evil.com from making gantry an open
// redirector: "//host" and "/\host" are other hosts to a browser, and
// browsers drop tabs and newlines, so "/\t/host" is one too.
func LocalPath(returnTo string) string {
	if !strings.HasPrefix(returnTo, "/") || strings.HasPrefix(returnTo, "//") || strings.ContainsAny(returnTo, "\\") {
		return "/"
	}
	for _, r := range returnTo {
		if r < 0x20 || r == 0x7f {
			return "/"
		}
	}
	u, err := url.Parse(returnTo)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "/"
	}
	return returnTo
}

// cookie is the pending-login cookie with value (empty value: delete it).
func (h *Handler) cookie(value string) *http.Cookie {
	c := &http.Cookie{
		Name:     cookieName,
		Value:    value,
		Path:     h.cookiePath,
		MaxAge:   int(stateTTL / time.Second),
		HttpOnly: true,
		Secure:   h.secure,
		// Lax, not Strict: the callback is a top-level navigation from the
		// provider's site, and a Strict cookie would not come with it.
		SameSite: http.SameSiteLaxMode,
	}
	if value == "" {
		c.MaxAge = -1
	}
	return c
}
