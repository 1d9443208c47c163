package sso

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-logr/logr"
	"golang.org/x/oauth2"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Prefix is where the Handler is mounted: GET <Prefix>login?return=<path>
// starts a login, GET <Prefix>callback is where the provider sends it back.
const Prefix = "/api/v1/sso/"

// discoveryTimeout bounds one discovery attempt, so a login click against a
// provider that does not answer fails in seconds, not minutes.
const discoveryTimeout = 10 * time.Second

// Login is a verified upstream login, mapped to a gantry user.
type Login struct {
	// Username is the gantry user name: the username claim, lower-cased.
	Username string
	Email    string
	Name     string
	// Groups are the upstream groups, sorted; Teams map them.
	Groups []string
	// Issuer and Subject identify the upstream account.
	Issuer, Subject string
}

// Options configure a Handler.
type Options struct {
	Config Config
	// ExternalURL is gantry's URL as browsers see it, e.g.
	// https://gantry.example.com: the default redirect URL is under it, and
	// cookies are Secure when it is https.
	ExternalURL string
	// Complete is called after a verified upstream login, once the user is
	// provisioned: it sets gantry's session cookies and redirects to returnTo
	// (a local path, already checked).
	Complete func(w http.ResponseWriter, r *http.Request, login Login, returnTo string)
	// Client reads and writes Users, and reads password Secrets.
	Client client.Client
	Logger logr.Logger
}

// Handler serves the login and callback endpoints under Prefix.
type Handler struct {
	cfg        Config
	complete   func(http.ResponseWriter, *http.Request, Login, string)
	client     client.Client
	log        logr.Logger
	http       *http.Client
	seal       sealer
	secure     bool
	cookiePath string
	basePath   string
	// retryEvery spaces discovery attempts while the provider is down, so a
	// burst of login clicks does not become a burst of requests to it.
	retryEvery time.Duration

	mu       sync.Mutex
	upstream *upstream // nil until discovery succeeds
	lastTry  time.Time
	lastErr  error
}

// upstream is what discovery yields.
type upstream struct {
	prov     *oidc.Provider
	verifier *oidc.IDTokenVerifier
	oauth    *oauth2.Config
}

// New checks opts and discovers the provider. A provider that cannot be
// reached is not an error: gantry must start without it. Discovery is then
// retried on the next login, and the login page says what is wrong.
func New(ctx context.Context, opts Options) (*Handler, error) {
	cfg, err := opts.Config.normalize()
	if err != nil {
		return nil, err
	}
	if opts.Complete == nil || opts.Client == nil {
		return nil, errors.New("sso.Options needs Complete (to start gantry's session) and Client (to provision users)")
	}
	h := &Handler{cfg: cfg, complete: opts.Complete, client: opts.Client, log: opts.Logger, retryEvery: 2 * time.Second}
	if opts.ExternalURL != "" {
		u, err := url.Parse(opts.ExternalURL)
		if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			return nil, fmt.Errorf("gantry's external URL %q is not an absolute http(s) URL", opts.ExternalURL)
		}
		h.secure = u.Scheme == "https"
		h.basePath = strings.TrimSuffix(u.Path, "/")
		if h.cfg.RedirectURL == "" {
			h.cfg.RedirectURL = strings.TrimSuffix(opts.ExternalURL, "/") + Prefix + "callback"
		}
	}
	if h.cfg.RedirectURL == "" {
		return nil, fmt.Errorf("SSO needs gantry's external URL, or redirectURL in the %s Secret, to tell the identity provider where to send users back", SecretName)
	}
	ru, _ := url.Parse(h.cfg.RedirectURL) // checked by normalize
	h.secure = h.secure || ru.Scheme == "https"
	// The cookie goes only to the callback's directory, not to all of gantry.
	h.cookiePath = ru.Path[:strings.LastIndex(ru.Path, "/")+1]
	if h.cookiePath == "" {
		h.cookiePath = "/"
	}
	if h.http, err = cfg.httpClient(); err != nil {
		return nil, err
	}
	if h.seal, err = newSealer(h.cfg.ClientSecret); err != nil {
		return nil, fmt.Errorf("making the SSO cookie key: %w", err)
	}
	_, _ = h.discover(ctx) // logged; retried on the next login
	return h, nil
}

// Name is the provider's display name, for "Sign in with <Name>".
func (h *Handler) Name() string { return h.cfg.Name }

// LoginURL is the path that starts a login and comes back to returnTo (a
// local path; anything else becomes "/").
func (h *Handler) LoginURL(returnTo string) string {
	return h.basePath + Prefix + "login?return=" + url.QueryEscape(LocalPath(returnTo))
}

// discover returns the provider, discovering it if that has not worked yet.
func (h *Handler) discover(ctx context.Context) (*upstream, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.upstream != nil {
		return h.upstream, nil
	}
	if !h.lastTry.IsZero() && time.Since(h.lastTry) < h.retryEvery {
		return nil, h.lastErr
	}
	h.lastTry = time.Now()
	ctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, h.http), discoveryTimeout)
	defer cancel()
	prov, err := oidc.NewProvider(ctx, h.cfg.Issuer)
	if err != nil {
		h.lastErr = err
		h.log.Error(err, "SSO: discovery of the identity provider failed; retrying on the next login", "issuer", h.cfg.Issuer)
		return nil, err
	}
	h.upstream = &upstream{
		prov:     prov,
		verifier: prov.Verifier(&oidc.Config{ClientID: h.cfg.ClientID}),
		oauth: &oauth2.Config{ClientID: h.cfg.ClientID, ClientSecret: h.cfg.ClientSecret,
			Endpoint: prov.Endpoint(), RedirectURL: h.cfg.RedirectURL, Scopes: h.cfg.Scopes},
	}
	h.log.Info("SSO: identity provider discovered", "issuer", h.cfg.Issuer, "name", h.cfg.Name)
	return h.upstream, nil
}

// ServeHTTP serves GET …/login and GET …/callback; it matches on the last
// path element, so it works mounted at Prefix or behind http.StripPrefix.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		h.page(w, &pageError{status: http.StatusMethodNotAllowed, title: "Method not allowed", msg: "Only GET is served here."})
		return
	}
	switch path.Base(r.URL.Path) {
	case "login":
		h.start(w, r)
	case "callback":
		h.callback(w, r)
	default:
		h.page(w, &pageError{status: http.StatusNotFound, title: "Not found",
			msg: fmt.Sprintf("SSO serves %slogin and %scallback only.", Prefix, Prefix)})
	}
}

// start redirects to the provider's authorize endpoint.
func (h *Handler) start(w http.ResponseWriter, r *http.Request) {
	up, err := h.discover(r.Context())
	if err != nil {
		h.page(w, h.unreachable())
		return
	}
	p := pending{State: randomString(), Nonce: randomString(), Verifier: oauth2.GenerateVerifier(),
		Return: LocalPath(r.URL.Query().Get("return")), Expires: time.Now().Add(stateTTL)}
	sealed, err := h.seal.seal(p)
	if err != nil {
		h.page(w, &pageError{status: http.StatusInternalServerError, title: "Sign-in failed", msg: "gantry could not start the sign-in.", err: err})
		return
	}
	http.SetCookie(w, h.cookie(sealed))
	noStore(w)
	http.Redirect(w, r, up.oauth.AuthCodeURL(p.State, oidc.Nonce(p.Nonce), oauth2.S256ChallengeOption(p.Verifier)), http.StatusFound)
}

// callback finishes the login the provider sends back.
func (h *Handler) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	c, err := r.Cookie(cookieName)
	if err != nil {
		h.page(w, h.expired("no sign-in cookie came with it"))
		return
	}
	p, err := h.seal.open(c.Value, time.Now())
	if err != nil {
		h.page(w, h.expired("its sign-in cookie is not valid"))
		return
	}
	http.SetCookie(w, h.cookie("")) // one use only
	// State first, even before the provider's error: otherwise anyone could
	// link to a gantry page showing a text of their choosing.
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(p.State)) != 1 {
		h.page(w, h.expired("its state does not match the sign-in this browser started"))
		return
	}
	if e := q.Get("error"); e != "" {
		status := http.StatusBadGateway
		if e == "access_denied" {
			status = http.StatusForbidden
		}
		msg := "The identity provider refused the sign-in: " + truncate(e, 100)
		if d := q.Get("error_description"); d != "" {
			msg += ": " + truncate(d, 300)
		}
		h.page(w, &pageError{status: status, title: "Sign-in refused", msg: msg})
		return
	}
	code := q.Get("code")
	if code == "" {
		h.page(w, &pageError{status: http.StatusBadRequest, title: "Sign-in failed", msg: "The identity provider sent neither a code nor an error."})
		return
	}
	up, err := h.discover(r.Context())
	if err != nil {
		h.page(w, h.unreachable())
		return
	}
	ctx := oidc.ClientContext(r.Context(), h.http)
	tok, err := up.oauth.Exchange(ctx, code, oauth2.VerifierOption(p.Verifier))
	if err != nil {
		h.page(w, upstreamError("trading the code for tokens failed", err))
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		h.page(w, upstreamError("it sent no ID token (is openid among the scopes?)", nil))
		return
	}
	idt, err := up.verifier.Verify(ctx, raw)
	if err != nil {
		h.page(w, &pageError{status: http.StatusUnauthorized, title: "Sign-in failed", msg: "The ID token from the identity provider did not verify.", err: err})
		return
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(p.Nonce)) != 1 {
		h.page(w, &pageError{status: http.StatusUnauthorized, title: "Sign-in failed", msg: "The ID token is not for the sign-in this browser started (nonce mismatch)."})
		return
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			h.page(w, &pageError{status: http.StatusUnauthorized, title: "Sign-in failed", msg: "The access token does not match the ID token.", err: err})
			return
		}
	}
	m, perr := h.claims(ctx, up.prov, tok, idt)
	if perr != nil {
		h.page(w, perr)
		return
	}
	login, perr := h.login(m, idt)
	if perr != nil {
		h.page(w, perr)
		return
	}
	if !h.allowed(login.Groups) {
		h.page(w, &pageError{status: http.StatusForbidden, title: "Not allowed",
			msg: fmt.Sprintf("%s is not in any of the groups allowed to sign in to gantry (allowedGroups in the %s Secret). Groups from the identity provider: %s.",
				login.Username, SecretName, orNone(login.Groups))})
		return
	}
	if err := Provision(r.Context(), h.client, h.cfg, login); err != nil {
		var ref *refusal
		if errors.As(err, &ref) {
			h.page(w, &pageError{status: http.StatusForbidden, title: "Sign-in refused", msg: err.Error()})
		} else {
			h.page(w, &pageError{status: http.StatusInternalServerError, title: "Sign-in failed", msg: "gantry could not record the user (see gantry's log).", err: err})
		}
		return
	}
	h.log.Info("SSO: login", "user", login.Username, "issuer", login.Issuer, "groups", login.Groups)
	h.complete(w, r, login, LocalPath(p.Return))
}

// pageError is an error page: status, title and a message for the user. err,
// if set, goes to the log only: it may hold whatever the provider sent.
type pageError struct {
	status     int
	title, msg string
	err        error
}

func upstreamError(what string, err error) *pageError {
	return &pageError{status: http.StatusBadGateway, title: "Sign-in failed",
		msg: "The identity provider's answer was not usable: " + what + ". See gantry's log for details.", err: err}
}

func (h *Handler) unreachable() *pageError {
	return &pageError{status: http.StatusServiceUnavailable, title: "Identity provider unavailable",
		msg: fmt.Sprintf("gantry cannot reach the identity provider %s at %s right now (see gantry's log). Try again in a moment; "+
			"if this persists, an admin should check the issuer in the %s Secret and that gantry can reach it.", h.cfg.Name, h.cfg.Issuer, SecretName)}
}

func (h *Handler) expired(why string) *pageError {
	return &pageError{status: http.StatusBadRequest, title: "Sign-in expired",
		msg: fmt.Sprintf("This sign-in cannot be finished: %s. It was started in another browser, took over %s, or gantry restarted meanwhile. Start again.", why, stateTTL)}
}

var pageTemplate = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{.Title}} · gantry</title></head>
<body><h1>{{.Title}}</h1><p>{{.Msg}}</p><p><a href="{{.Retry}}">Sign in with {{.Name}}</a></p></body></html>
`))

func (h *Handler) page(w http.ResponseWriter, e *pageError) {
	if e.err != nil {
		h.log.Error(e.err, "SSO: sign-in failed", "reason", e.msg)
	} else if e.status != http.StatusNotFound && e.status != http.StatusMethodNotAllowed {
		// Said to the user, and to the log for the admin they will ask.
		h.log.Info("SSO: sign-in refused", "status", e.status, "reason", e.msg)
	}
	noStore(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "default-src 'none'")
	w.WriteHeader(e.status)
	_ = pageTemplate.Execute(w, struct{ Title, Msg, Retry, Name string }{e.title, e.msg, h.LoginURL("/"), h.cfg.Name})
}

func noStore(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	// The callback URL carries the code: it must not travel on in a Referer.
	w.Header().Set("Referrer-Policy", "no-referrer")
}

func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

func orNone(groups []string) string {
	if len(groups) == 0 {
		return "none"
	}
	return strings.Join(groups, ", ")
}
