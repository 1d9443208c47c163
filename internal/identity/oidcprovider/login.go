package oidcprovider

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"math"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"gantry.dev/gantry/internal/api"
	"gantry.dev/gantry/internal/identity/sessions"
	"gantry.dev/gantry/internal/jsonapi"
)

// The sign-in page is the web UI's (Options.LoginPage?oidc=<auth request id>);
// this file is its server side:
//
//   - GET …/login?authRequestID= is where op sends the browser: it completes
//     the sign-in with the browser's gantry session, or sends the browser to
//     the page;
//   - GET …/login/request?authRequestID= tells the page what to show and send;
//   - POST …/login checks the password and answers where the browser goes next.

const maxLoginBytes = 16 << 10

// errLoginExpired is what the page shows for a sign-in gantry does not know:
// expired, swept, or finished already.
const errLoginExpired = "this sign-in expired: go back to the application and sign in again"

// loginInfo is GET …/login/request.
type loginInfo struct {
	AuthRequestID string `json:"authRequestID"`
	// Client is the application's display name: "to continue to <client>".
	Client string `json:"client"`
	// CSRF goes back with the password; it is bound to this sign-in.
	CSRF      string `json:"csrf"`
	LoginHint string `json:"loginHint,omitempty"`
	// SSO is the upstream sign-in that comes back to this one, when configured.
	SSO *upstreamInfo `json:"sso,omitempty"`
}

// upstreamInfo has the shape of /api/v1/sso/info, which the page knows.
type upstreamInfo struct {
	Enabled  bool   `json:"enabled"`
	Name     string `json:"name"`
	LoginURL string `json:"loginURL"`
}

// loginForm is the body of POST …/login.
type loginForm struct {
	AuthRequestID string `json:"authRequestID"`
	CSRF          string `json:"csrf"`
	Username      string `json:"username"`
	Password      string `json:"password"`
}

func (p *Provider) serveLogin(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		p.loginStart(w, r)
	case http.MethodPost:
		p.loginPost(w, r)
	default:
		w.Header().Set("Allow", "GET, POST")
		jsonapi.Error(w, http.StatusMethodNotAllowed, "sign in on gantry's sign-in page")
	}
}

// loginStart decides whether the browser must sign in. An unknown request
// goes to the page too, which says it expired: one place for that message.
func (p *Provider) loginStart(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("authRequestID")
	req, err := p.store.auth.request(r.Context(), id)
	if err != nil {
		p.toLoginPage(w, r, id)
		return
	}
	// prompt=login (op turns it into max_age=0) asks for the password even
	// when the browser has a session. Other max_age values are taken as met:
	// the session does not say when its password was typed.
	forceLogin := req.wants(oidc.PromptLogin) || req.MaxAge != nil && *req.MaxAge == 0
	if p.opts.Session != nil && !forceLogin {
		if user, ok := p.opts.Session(r); ok {
			if _, err := p.opts.Users.Profile(r.Context(), user); err == nil {
				// Fails only when the request ended meanwhile: the page says so.
				if callback, err := p.complete(r, req, user, nil, "session"); err == nil {
					http.Redirect(w, r, callback, http.StatusSeeOther)
					return
				}
			}
		}
	}
	if req.wants(oidc.PromptNone) {
		op.AuthRequestError(w, r, req, oidc.ErrLoginRequired(), p.op)
		return
	}
	p.toLoginPage(w, r, req.ID)
}

// UpstreamReturn reports whether returnTo, where an upstream (SSO) sign-in
// sends the browser back, is this provider's sign-in of an auth request, and
// which.
func (p *Provider) UpstreamReturn(returnTo string) (authRequestID string, ok bool) {
	u, err := url.Parse(returnTo)
	if err != nil || u.Host != "" || u.Path != p.prefix+"/login" {
		return "", false
	}
	id := u.Query().Get("authRequestID")
	return id, id != ""
}

// CompleteUpstream finishes the sign-in of an auth request for a user who has
// just signed in at the upstream identity provider, and returns the callback
// to send the browser to. That sign-in is as fresh as a password typed here,
// so it also answers prompt=login, which going back through loginStart would
// not (the session alone does not say when it was made).
func (p *Provider) CompleteUpstream(r *http.Request, authRequestID, user string) (string, error) {
	req, err := p.store.auth.request(r.Context(), authRequestID)
	if err != nil {
		return "", err
	}
	if _, err := p.opts.Users.Profile(r.Context(), user); err != nil {
		return "", err
	}
	return p.complete(r, req, user, []string{"fed"}, "upstream")
}

// ContinueUpstream is where the browser goes once user has signed in at the
// upstream identity provider, given the local path that sign-in was to
// return to: when it is one of this provider's sign-ins, the sign-in is
// finished here (see CompleteUpstream) and the browser goes on to op's
// callback, as a local path; otherwise (or when it cannot be finished)
// returnTo itself.
func (p *Provider) ContinueUpstream(r *http.Request, user, returnTo string) string {
	id, ok := p.UpstreamReturn(returnTo)
	if !ok {
		return returnTo
	}
	callback, err := p.CompleteUpstream(r, id, user)
	if err != nil {
		return returnTo
	}
	// op names it under the issuer, gantry's own URL: keep the path.
	cu, err := url.Parse(callback)
	if err != nil {
		return returnTo
	}
	return cu.RequestURI()
}

func (p *Provider) toLoginPage(w http.ResponseWriter, r *http.Request, id string) {
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, p.opts.LoginPage+"?oidc="+url.QueryEscape(id), http.StatusSeeOther)
}

// serveLoginInfo answers the page, same-origin only: it sends no CORS
// headers, so other sites cannot read the CSRF token.
func (p *Provider) serveLoginInfo(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET")
		jsonapi.Error(w, http.StatusMethodNotAllowed, "this call is GET only")
		return
	}
	req, err := p.store.auth.request(r.Context(), r.URL.Query().Get("authRequestID"))
	if err != nil {
		p.requestError(w, err)
		return
	}
	info := loginInfo{AuthRequestID: req.ID, Client: req.ClientID, CSRF: req.CSRF, LoginHint: req.LoginHint}
	if c, err := p.store.clients.Get(r.Context(), req.ClientID); err == nil && c.Name != "" {
		info.Client = c.Name
	}
	if p.opts.Upstream != nil {
		// Back to loginStart, which finds the session the upstream sign-in
		// started. A local path: the upstream login only returns within gantry.
		loginURL, name := p.opts.Upstream(p.prefix + "/login?authRequestID=" + url.QueryEscape(req.ID))
		if loginURL != "" {
			if name == "" {
				name = "SSO"
			}
			info.SSO = &upstreamInfo{Enabled: true, Name: name, LoginURL: loginURL}
		}
	}
	jsonapi.Write(w, http.StatusOK, info)
}

// loginPost checks a password sent by the page and answers
// {"redirect": <op's callback>}, or an error the page shows.
func (p *Provider) loginPost(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	// JSON only: a cross-site HTML form cannot send it, and a cross-site
	// fetch that does needs a preflight, which this endpoint never grants.
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/json" {
		jsonapi.Error(w, http.StatusUnsupportedMediaType, "send the sign-in as JSON (Content-Type: application/json), as gantry's sign-in page does")
		return
	}
	var in loginForm
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginBytes)
	if _, err := api.DecodeObject(r, &in); err != nil {
		jsonapi.WriteError(w, err)
		return
	}
	req, err := p.store.auth.request(r.Context(), in.AuthRequestID)
	if err != nil {
		p.requestError(w, err)
		return
	}
	// The token is bound to this sign-in and only the page reads it; the
	// Origin check stops cross-site posts from browsers that send one.
	if !p.sameOrigin(r) || in.CSRF == "" || subtle.ConstantTimeCompare([]byte(in.CSRF), []byte(req.CSRF)) != 1 {
		jsonapi.Error(w, http.StatusForbidden,
			"this sign-in was not sent by gantry's sign-in page, or it expired: go back to the application and sign in again")
		return
	}
	user, password := strings.TrimSpace(in.Username), in.Password
	if user == "" || password == "" {
		jsonapi.Error(w, http.StatusBadRequest, "enter your username and password")
		return
	}
	ip := sessions.SourceAddress(r)
	if ok, wait := p.opts.Limiter.Allow(user, ip); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		jsonapi.Error(w, http.StatusTooManyRequests, fmt.Sprintf("too many failed sign-ins: try again in %s", wait.Round(time.Second)))
		return
	}
	ok, err := p.opts.Users.CheckPassword(r.Context(), user, password)
	if err != nil {
		p.log.Error(err, "OIDC sign-in: checking the password failed", "client", req.ClientID)
		jsonapi.Error(w, http.StatusInternalServerError, "checking the password failed: try again")
		return
	}
	if ok {
		_, err := p.opts.Users.Profile(r.Context(), user)
		ok = err == nil
	}
	if !ok {
		p.opts.Limiter.Failed(user, ip)
		// No username in the log: people type passwords into that field.
		p.log.Info("OIDC sign-in failed", "client", req.ClientID, "ip", ip)
		// One message for unknown users, disabled users and wrong passwords.
		jsonapi.Error(w, http.StatusUnauthorized, "invalid username or password")
		return
	}
	p.opts.Limiter.Succeeded(user, ip)
	callback, err := p.complete(r, req, user, []string{"pwd"}, "password")
	if err != nil {
		jsonapi.Error(w, http.StatusBadRequest, err.Error())
		return
	}
	if p.opts.SignedIn != nil {
		p.opts.SignedIn(w, r, user)
	}
	jsonapi.Write(w, http.StatusOK, map[string]string{"redirect": callback})
}

// complete marks the sign-in done and returns op's callback, which issues
// the code and redirects to the client.
func (p *Provider) complete(r *http.Request, req *authRequest, user string, amr []string, via string) (string, error) {
	if err := p.store.auth.complete(r.Context(), req, user, amr); err != nil {
		return "", err
	}
	p.log.Info("OIDC sign-in", "user", user, "client", req.ClientID, "via", via)
	return op.AuthCallbackURL(p.op)(op.ContextWithIssuer(r.Context(), p.issuer), req.ID), nil
}

// requestError answers the page for a sign-in that could not be read: it
// expired (or was never there), or the host's API failed.
func (p *Provider) requestError(w http.ResponseWriter, err error) {
	if errors.Is(err, errAuthRequestUnknown) {
		jsonapi.Error(w, http.StatusBadRequest, errLoginExpired)
		return
	}
	p.log.Error(err, "OIDC sign-in: reading the sign-in failed")
	jsonapi.Error(w, http.StatusServiceUnavailable, "reading this sign-in failed: try again in a moment")
}

// serveLoggedOut is where end_session sends a browser whose application
// named no post_logout_redirect_uri. A plain page: nothing to load, no script.
func (p *Provider) serveLoggedOut(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	_, _ = fmt.Fprint(w, `<!doctype html><html lang="en"><meta charset="utf-8"><title>Signed out · gantry</title>`+
		`<h1>Signed out</h1><p>You have signed out of the application.</p></html>`)
}

// sameOrigin is false when the browser says the request came from another site.
func (p *Provider) sameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	o, err := url.Parse(origin)
	if err != nil {
		return false
	}
	u, _ := url.Parse(p.issuer)
	return o.Scheme == u.Scheme && o.Hostname() == u.Hostname() && port(o) == port(u)
}

func port(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if u.Scheme == "http" {
		return "80"
	}
	return "443"
}
