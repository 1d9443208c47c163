package oidcprovider

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/rs/cors"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"gantry.dev/gantry/internal/identity/sessions"
)

// Options configure a Provider.
type Options struct {
	// Issuer is the provider's absolute URL, e.g. https://gantry.example.com/oidc.
	// Requests arrive under its path. http is allowed only for loopback hosts.
	Issuer string
	// Signer signs every token; its rotation shows in the JWKS.
	Signer *sessions.Signer
	// Client reads and writes the provider's Secrets in Namespace: clients,
	// sign-ins in progress, access and refresh tokens. Uncached: a Secret
	// another replica wrote a moment ago must be found.
	Client    client.Client
	Namespace string
	// Users checks passwords and supplies claims.
	Users Users
	// LoginPage is the path of the sign-in page, the web UI's, to which a
	// browser that must sign in is sent with ?oidc=<auth request id>; /login
	// when empty.
	LoginPage string
	// Limiter slows down password guessing on the sign-in page; a default
	// sessions.Limiter when nil (share gantry's, so both logins count).
	Limiter *sessions.Limiter
	// Session returns the gantry user already signed in through this
	// browser, if any; then the sign-in page is skipped (single sign-on).
	Session func(r *http.Request) (user string, ok bool)
	// SignedIn, when set, is called after a password sign-in on the page,
	// before the browser moves on: gantry starts its own session there (sets
	// its cookies), so that the next application, and gantry's UI, do not ask
	// again.
	SignedIn func(w http.ResponseWriter, r *http.Request, user string)
	// Upstream, when set, returns the URL of the upstream SSO login that comes
	// back to returnTo (a local path) and the provider's name; the page shows
	// it as "Sign in with <name>". An empty URL means SSO is off (it can be
	// configured while gantry runs).
	Upstream func(returnTo string) (loginURL, name string)
	Logger   logr.Logger
	// Now is the clock of expiries gantry keeps; time.Now when nil.
	Now func() time.Time
}

// Users is gantry's user directory as the provider needs it.
type Users interface {
	// CheckPassword is false for unknown or disabled users.
	CheckPassword(ctx context.Context, user, password string) (bool, error)
	// Profile returns the user's current claims; an error when the user is
	// disabled or deleted.
	Profile(ctx context.Context, user string) (Profile, error)
}

// Profile is the claims of a user.
type Profile struct {
	User, Email, Name string
	// Groups holds teams as team:<name> and project roles as
	// gantry:project:<project>:<role>.
	Groups []string
}

// Provider is gantry's OpenID Connect provider, an http.Handler for
// everything under the issuer's path.
type Provider struct {
	opts    Options
	issuer  string
	prefix  string // the issuer's path, e.g. /oidc
	op      *op.Provider
	handler http.Handler // op, prefix stripped
	store   *storage
	log     logr.Logger
}

// MaxIssuedTokenTTL caps IssueIDToken: the Signer keeps a replaced key for
// sessions.DefaultMaxTokenTTL, and no token may outlive its key.
const MaxIssuedTokenTTL = sessions.DefaultMaxTokenTTL

// New checks opts and builds the provider. It does no I/O.
func New(opts Options) (*Provider, error) {
	issuer := strings.TrimSuffix(opts.Issuer, "/")
	u, err := url.Parse(issuer)
	switch {
	case err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("OIDC issuer %q: not an absolute URL without query or fragment: use e.g. https://gantry.example.com/oidc", opts.Issuer)
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		return nil, fmt.Errorf("OIDC issuer %q: http is allowed only on loopback addresses: serve gantry over https", opts.Issuer)
	case u.Scheme != "https" && u.Scheme != "http":
		return nil, fmt.Errorf("OIDC issuer %q: the scheme must be https", opts.Issuer)
	case opts.Signer == nil:
		return nil, errors.New("OIDC provider: Options.Signer is required (the session key signer)")
	case opts.Client == nil || opts.Namespace == "":
		return nil, errors.New("OIDC provider: Options.Client and Options.Namespace are required (clients and refresh tokens are Secrets)")
	case opts.Users == nil:
		return nil, errors.New("OIDC provider: Options.Users is required")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.LoginPage == "" {
		opts.LoginPage = "/login"
	}
	if opts.Limiter == nil {
		opts.Limiter = sessions.NewLimiter(sessions.LimiterOptions{})
	}
	p := &Provider{opts: opts, issuer: issuer, prefix: u.Path, log: opts.Logger}
	p.store = &storage{
		issuer:  issuer,
		signer:  opts.Signer,
		users:   opts.Users,
		clients: ClientStore{Client: opts.Client, Namespace: opts.Namespace},
		refresh: refreshStore{client: opts.Client, namespace: opts.Namespace, now: opts.Now},
		auth:    newAuthStore(opts.Client, opts.Namespace, opts.Now),
		access:  accessTokenStore{client: opts.Client, namespace: opts.Namespace, now: opts.Now},
		now:     opts.Now,
	}

	// op makes codes by encrypting the request id with this key, and would
	// make opaque access tokens with it. Nothing decrypts a code (storage
	// finds it by its hash) and access tokens are JWTs, so replicas need not
	// share it: a key per process.
	var key [32]byte
	_, _ = rand.Read(key[:])
	config := &op.Config{
		CryptoKey:                key,
		DefaultLogoutRedirectURI: issuer + "/logged-out",
		CodeMethodS256:           true,
		AuthMethodPost:           true,
		GrantTypeRefreshToken:    true,
		SupportedScopes: []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, ScopeGroups,
			oidc.ScopeOfflineAccess},
		SupportedClaims: []string{"sub", "aud", "exp", "iat", "iss", "auth_time", "nonce", "amr", "at_hash",
			"c_hash", "azp", "client_id", "preferred_username", "name", "email", "groups"},
	}
	options := []op.Option{
		// Only authenticated encryption. op's default also tries its legacy
		// AES-CFB decrypter, which "decrypts" any random string; about one
		// refresh token in ten then came out as "id:subject" and a revoke
		// with token_type_hint=access_token revoked that garbage id instead.
		op.WithCrypto(op.NewAES256GCMCrypto(key, "")),
		// op's default CORS allows credentials from any origin; nothing here
		// uses cookies (the sign-in endpoints are outside op), so allow any origin
		// without credentials, which browser apps need for token calls.
		op.WithCORSOptions(&cors.Options{
			AllowOriginFunc: func(string) bool { return true },
			AllowedMethods:  []string{http.MethodGet, http.MethodHead, http.MethodPost},
			AllowedHeaders:  []string{"Accept", "Authorization", "Content-Type"},
		}),
	}
	if u.Scheme == "http" {
		options = append(options, op.WithAllowInsecure())
	}
	p.op, err = op.NewProvider(config, p.store, op.StaticIssuer(issuer), options...)
	if err != nil {
		return nil, fmt.Errorf("OIDC provider: %w", err)
	}
	p.handler = http.StripPrefix(p.prefix, p.op)
	return p, nil
}

// ServeHTTP serves the provider: discovery, keys, authorize, token,
// userinfo, revoke, end_session (op), and the sign-in page's endpoints. r
// carries the full path, the issuer's path included.
func (p *Provider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, p.prefix)
	if !ok || !strings.HasPrefix(rest, "/") {
		http.NotFound(w, r)
		return
	}
	switch rest {
	case "/login":
		p.serveLogin(w, r)
		return
	case "/login/request":
		p.serveLoginInfo(w, r)
		return
	case "/logged-out":
		p.serveLoggedOut(w, r)
		return
	case "/authorize":
		r = offlineAccessType(r)
	}
	p.handler.ServeHTTP(w, r)
}

// offlineAccessType reads Google's access_type=offline, which kubelogin and
// the Argo CD CLI send instead of the offline_access scope, as that scope:
// both expect a refresh token.
func offlineAccessType(r *http.Request) *http.Request {
	q := r.URL.Query()
	if q.Get("access_type") != "offline" {
		return r
	}
	scopes := strings.Fields(q.Get("scope"))
	if !slices.Contains(scopes, oidc.ScopeOpenID) || slices.Contains(scopes, oidc.ScopeOfflineAccess) {
		return r
	}
	q.Set("scope", strings.Join(append(scopes, oidc.ScopeOfflineAccess), " "))
	r = r.Clone(r.Context())
	r.URL.RawQuery = q.Encode()
	return r
}

// Sweep deletes the Secrets of expired refresh tokens, sign-ins, codes and
// access token records, whichever replica made them. Call it periodically
// (hourly is plenty: expired ones are refused when read) on one replica or
// on all; it is idempotent.
func (p *Provider) Sweep(ctx context.Context) error {
	now := p.opts.Now()
	refresh, err1 := p.store.refresh.deleteWhere(ctx, "", func(r refreshRecord) bool {
		return !now.Before(r.expires) || !now.Before(r.sessionExpires)
	})
	signIns, err2 := p.store.auth.sweep(ctx)
	access, err3 := p.store.access.sweep(ctx)
	if refresh+signIns+access > 0 {
		p.log.V(1).Info("swept expired OIDC state", "refreshTokens", refresh, "signIns", signIns, "accessTokens", access)
	}
	return errors.Join(err1, err2, err3)
}

// IssueIDToken signs an ID-token-shaped JWT for user with the current key:
// iss, sub, aud ([audience]), preferred_username, groups, iat, exp, jti. It
// is for gantry's own relying parties, the virtual clusters'
// kube-apiservers, which map sub to the username and groups to groups.
func (p *Provider) IssueIDToken(ctx context.Context, user string, groups []string, audience string, ttl time.Duration) (string, time.Time, error) {
	if user == "" || audience == "" {
		return "", time.Time{}, errors.New("issuing ID token: user and audience are required")
	}
	if ttl <= 0 || ttl > MaxIssuedTokenTTL {
		return "", time.Time{}, fmt.Errorf("issuing ID token: lifetime %s is not within (0, %s]: signing keys rotate, and a token must not outlive its key", ttl, MaxIssuedTokenTTL)
	}
	if groups == nil {
		groups = []string{}
	}
	now := p.opts.Now()
	exp := now.Add(ttl)
	claims := map[string]any{
		"iss": p.issuer, "sub": user, "aud": []string{audience}, "preferred_username": user,
		"groups": groups, "iat": now.Unix(), "exp": exp.Unix(), "jti": randomString(18),
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("issuing ID token: %w", err)
	}
	key, _ := p.store.SigningKey(ctx)
	signer, err := op.SignerFromKey(key)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("issuing ID token: %w", err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("issuing ID token with key %s: %w", key.ID(), err)
	}
	token, err := jws.CompactSerialize()
	if err != nil {
		return "", time.Time{}, fmt.Errorf("issuing ID token: %w", err)
	}
	return token, exp, nil
}
