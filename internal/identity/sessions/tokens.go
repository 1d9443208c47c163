package sessions

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	// KindSession marks tokens issued by a login (UI or CLI).
	KindSession = "session"

	DefaultAudience      = "gantry"
	DefaultAccessTTL     = 15 * time.Minute
	DefaultRefreshTTL    = 24 * time.Hour
	DefaultSessionMaxAge = 7 * 24 * time.Hour
	DefaultLeeway        = 30 * time.Second

	// accessTokenType is the JWT "typ" of access tokens (RFC 9068). Checking
	// it keeps an ID token signed by the same keys from passing as an access
	// token.
	accessTokenType = "at+jwt"
	// refreshTokenPrefix makes leaked refresh tokens easy to spot by secret
	// scanners.
	refreshTokenPrefix = "grt_"
	// maxTokenLength bounds the work spent on a token before its signature
	// is checked; ours are well under 1 KiB.
	maxTokenLength = 8 << 10
)

// Config configures a Manager; zero values take the defaults, except Issuer.
type Config struct {
	// Issuer is the "iss" of access tokens: gantry's external URL, e.g.
	// https://gantry.example.com. Required.
	Issuer string
	// Audience is the "aud" of access tokens. Default "gantry".
	Audience string
	// AccessTTL is the access token lifetime. Default 15 minutes. It must
	// not exceed the Signer's MaxTokenTTL.
	AccessTTL time.Duration
	// RefreshTTL is the lifetime of one refresh token. Default 24 hours.
	RefreshTTL time.Duration
	// SessionMaxAge is how long refreshing can extend one login. Default 7
	// days; without it, a session refreshed daily would never end.
	SessionMaxAge time.Duration
	// Leeway is the clock skew tolerated on exp, nbf and iat. Default 30 s.
	Leeway time.Duration
	// Revalidate, when set, is called on every refresh with the session's
	// subject and returns it updated (e.g. current groups). An error, such
	// as a disabled or deleted user, revokes the session. The user name must
	// not change.
	Revalidate func(ctx context.Context, s Subject) (Subject, error)
	// Now is the clock; time.Now when nil. Tests set it.
	Now func() time.Time
}

// Subject is whom tokens are issued for.
type Subject struct {
	User   string
	Groups []string
	// Kind says how the session was obtained; KindSession when empty.
	Kind string
}

// TokenPair is the result of a login or a refresh.
type TokenPair struct {
	AccessToken  string
	RefreshToken string
	// ExpiresAt is when the access token expires.
	ExpiresAt time.Time
	// RefreshExpiresAt is when the refresh token expires (for cookie
	// lifetimes).
	RefreshExpiresAt time.Time
}

// String redacts the tokens.
func (p TokenPair) String() string {
	return fmt.Sprintf("TokenPair{AccessToken: <redacted>, RefreshToken: <redacted>, ExpiresAt: %s}",
		p.ExpiresAt.Format(time.RFC3339))
}

// GoString redacts the tokens for %#v too.
func (p TokenPair) GoString() string { return p.String() }

// Claims are the verified contents of an access token.
type Claims struct {
	Issuer    string
	User      string // "sub"
	Audience  []string
	Groups    []string
	Kind      string
	ID        string // "jti"
	IssuedAt  time.Time
	NotBefore time.Time
	ExpiresAt time.Time
}

// tokenClaims is the JWT payload.
type tokenClaims struct {
	jwt.RegisteredClaims
	Groups []string `json:"groups,omitempty"`
	Kind   string   `json:"kind"`
}

// Validate is called by the jwt parser after the registered claims checks.
func (c *tokenClaims) Validate() error {
	switch {
	case c.Subject == "":
		return errors.New("no sub claim")
	case c.ID == "":
		return errors.New("no jti claim")
	case c.IssuedAt == nil:
		return errors.New("no iat claim")
	case c.Kind == "":
		return errors.New("no kind claim")
	}
	return nil
}

// Manager issues, refreshes, verifies and revokes session tokens. It is safe
// for concurrent use.
type Manager struct {
	signer  *Signer
	refresh RefreshStore
	cfg     Config
	parser  *jwt.Parser
}

// NewManager checks cfg and returns a Manager signing with signer and keeping
// refresh tokens in refresh.
func NewManager(signer *Signer, refresh RefreshStore, cfg Config) (*Manager, error) {
	if cfg.Audience == "" {
		cfg.Audience = DefaultAudience
	}
	if cfg.AccessTTL <= 0 {
		cfg.AccessTTL = DefaultAccessTTL
	}
	if cfg.RefreshTTL <= 0 {
		cfg.RefreshTTL = DefaultRefreshTTL
	}
	if cfg.SessionMaxAge <= 0 {
		cfg.SessionMaxAge = DefaultSessionMaxAge
	}
	if cfg.Leeway <= 0 {
		cfg.Leeway = DefaultLeeway
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if err := checkIssuer(cfg.Issuer); err != nil {
		return nil, err
	}
	if cfg.AccessTTL > signer.opts.MaxTokenTTL {
		return nil, fmt.Errorf("access token lifetime %s exceeds the signer's MaxTokenTTL %s: lower Config.AccessTTL or raise SignerOptions.MaxTokenTTL, or old keys would be dropped while their tokens are valid",
			cfg.AccessTTL, signer.opts.MaxTokenTTL)
	}
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{SigningAlgorithm}),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Audience),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithTimeFunc(cfg.Now),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithStrictDecoding(),
	)
	return &Manager{signer: signer, refresh: refresh, cfg: cfg, parser: parser}, nil
}

func checkIssuer(issuer string) error {
	const fix = "set Config.Issuer to gantry's external URL, e.g. https://gantry.example.com"
	if issuer == "" {
		return fmt.Errorf("no token issuer configured: %s", fix)
	}
	u, err := url.Parse(issuer)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("token issuer %q is not an absolute http(s) URL without query or fragment: %s", issuer, fix)
	}
	return nil
}

// Issue starts a session for sub: a new access token and a new refresh token
// family.
func (m *Manager) Issue(ctx context.Context, sub Subject) (TokenPair, error) {
	if sub.User == "" {
		return TokenPair{}, errors.New("issuing session: the subject has no user name: pass the authenticated user")
	}
	if sub.Kind == "" {
		sub.Kind = KindSession
	}
	now := m.cfg.Now()
	return m.issue(ctx, sub, randomString(16), now.Add(m.cfg.SessionMaxAge), now)
}

func (m *Manager) issue(ctx context.Context, sub Subject, family string, sessionEnd, now time.Time) (TokenPair, error) {
	expires := earliest(now.Add(m.cfg.AccessTTL), sessionEnd)
	claims := &tokenClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    m.cfg.Issuer,
			Subject:   sub.User,
			Audience:  jwt.ClaimStrings{m.cfg.Audience},
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(expires),
			ID:        randomString(16),
		},
		Groups: sub.Groups,
		Kind:   sub.Kind,
	}
	access, err := m.signer.sign(claims, accessTokenType)
	if err != nil {
		return TokenPair{}, err
	}
	refresh := refreshTokenPrefix + randomString(32)
	rec := RefreshRecord{
		Hash:             hashToken(refresh),
		Family:           family,
		Subject:          Subject{User: sub.User, Groups: slices.Clone(sub.Groups), Kind: sub.Kind},
		IssuedAt:         now,
		ExpiresAt:        earliest(now.Add(m.cfg.RefreshTTL), sessionEnd),
		SessionExpiresAt: sessionEnd,
	}
	if err := m.refresh.Put(ctx, rec); err != nil {
		return TokenPair{}, fmt.Errorf("storing refresh token for user %q: %w", sub.User, err)
	}
	return TokenPair{AccessToken: access, RefreshToken: refresh,
		ExpiresAt: claims.ExpiresAt.Time, RefreshExpiresAt: rec.ExpiresAt}, nil
}

// Refresh exchanges a refresh token for a new pair. The presented token is
// used up; presenting it again (a sign it was stolen, or of two clients
// racing) revokes the whole session, as the OAuth 2.0 Security BCP
// recommends, and returns ErrRefreshTokenReused.
func (m *Manager) Refresh(ctx context.Context, refreshToken string) (TokenPair, error) {
	invalid := fmt.Errorf("%w: it is unknown, expired or revoked: log in again", ErrInvalidRefreshToken)
	if !strings.HasPrefix(refreshToken, refreshTokenPrefix) || len(refreshToken) > maxTokenLength {
		return TokenPair{}, invalid
	}
	rec, ok, err := m.refresh.Consume(ctx, hashToken(refreshToken))
	if err != nil {
		return TokenPair{}, fmt.Errorf("refreshing session: %w", err)
	}
	if !ok {
		return TokenPair{}, invalid
	}
	if rec.Used {
		if err := m.refresh.RevokeFamily(ctx, rec.Family); err != nil {
			return TokenPair{}, fmt.Errorf("revoking session of user %q after refresh token reuse: %w", rec.Subject.User, err)
		}
		return TokenPair{}, fmt.Errorf("%w: the session of user %q is revoked, as the token may have been stolen: log in again",
			ErrRefreshTokenReused, rec.Subject.User)
	}
	now := m.cfg.Now()
	if !now.Before(rec.ExpiresAt) {
		return TokenPair{}, invalid
	}
	sub := rec.Subject
	if m.cfg.Revalidate != nil {
		updated, err := m.cfg.Revalidate(ctx, sub)
		if err == nil && updated.User != sub.User {
			err = fmt.Errorf("revalidation changed the user to %q", updated.User)
		}
		if err != nil {
			// The token is used up already; end the session cleanly.
			_ = m.refresh.RevokeFamily(ctx, rec.Family)
			return TokenPair{}, fmt.Errorf("refreshing session of user %q: %w: log in again", sub.User, err)
		}
		if updated.Kind == "" {
			updated.Kind = sub.Kind
		}
		sub = updated
	}
	return m.issue(ctx, sub, rec.Family, rec.SessionExpiresAt, now)
}

// Revoke ends the session the refresh token belongs to (logout). Unknown or
// already revoked tokens are not an error (RFC 7009). Access tokens already
// issued stay valid until they expire (at most AccessTTL).
func (m *Manager) Revoke(ctx context.Context, refreshToken string) error {
	if !strings.HasPrefix(refreshToken, refreshTokenPrefix) || len(refreshToken) > maxTokenLength {
		return nil
	}
	rec, ok, err := m.refresh.Consume(ctx, hashToken(refreshToken))
	if err != nil {
		return fmt.Errorf("revoking session: %w", err)
	}
	if !ok {
		return nil
	}
	if err := m.refresh.RevokeFamily(ctx, rec.Family); err != nil {
		return fmt.Errorf("revoking session of user %q: %w", rec.Subject.User, err)
	}
	return nil
}

// hashToken is how refresh tokens are looked up: the tokens carry 256 random
// bits, so a fast unsalted hash is enough.
func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// randomString returns n random bytes, base64url without padding.
func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand since Go 1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
