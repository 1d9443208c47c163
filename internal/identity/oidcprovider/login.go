package oidcprovider

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"html/template"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// page is what the login template shows. Everything is escaped by
// html/template, URLs included.
type page struct {
	Title   string
	Message string // a plain page when there is no form
	Error   string

	Form          bool
	Action        string
	AuthRequestID string
	CSRF          string
	Client        string
	Username      string
	UpstreamURL   string
	UpstreamName  string
}

// pageCSS is the SPA's look (ui/src/styles.css: its colours, light and dark
// from prefers-color-scheme, the login card, fields, buttons and alerts), so
// that signing in at gantry's provider looks like signing in to gantry. It is
// a constant, allowed by its hash (pageCSP); no CSS comments: html/template
// drops them from the page, which would change the hash.
const pageCSS = `
:root{color-scheme:light dark;--bg:#f6f7f9;--surface:#ffffff;--surface-2:#eef1f5;--border:#d5dae1;--text:#1b2430;--muted:#5b6675;--accent:#2563eb;--accent-text:#ffffff;--focus:#1d4ed8;--bad:#c42b1c;--bad-bg:#fde8e6;--shadow:0 1px 2px rgb(0 0 0 / 8%),0 4px 16px rgb(0 0 0 / 6%);font-family:system-ui,-apple-system,'Segoe UI',Roboto,'Noto Sans','Liberation Sans',sans-serif;font-size:14px;line-height:1.45;color:var(--text);background:var(--bg)}
@media (prefers-color-scheme: dark){:root{--bg:#0f1419;--surface:#171d24;--surface-2:#1f2730;--border:#313b47;--text:#e4e8ee;--muted:#9aa5b3;--accent:#4f8cff;--accent-text:#0b1220;--focus:#8ab4ff;--bad:#ff7a6b;--bad-bg:#3d1714;--shadow:0 1px 2px rgb(0 0 0 / 40%),0 4px 16px rgb(0 0 0 / 30%)}}
*{box-sizing:border-box}
body{margin:0}
a{color:var(--accent)}
:focus-visible{outline:2px solid var(--focus);outline-offset:2px}
.login-page{display:grid;place-items:center;min-height:100vh;padding:20px}
.login-card{width:min(380px,100%);background:var(--surface);border:1px solid var(--border);border-radius:10px;padding:28px;box-shadow:var(--shadow)}
.login-card h1{font-size:18px;text-align:center;margin:0 0 8px}
.brand{display:flex;align-items:center;justify-content:center;gap:8px;font-weight:700;font-size:22px;margin-bottom:12px;color:var(--text)}
.brand-mark{display:inline-grid;place-items:center;width:26px;height:26px;border-radius:6px;background:var(--accent);color:var(--accent-text);font-weight:800}
.client{text-align:center;color:var(--muted);margin:0 0 8px}
.client strong{color:var(--text)}
.message{color:var(--muted);text-align:center;margin:8px 0 0}
.field{display:flex;flex-direction:column;gap:4px;margin:12px 0}
.field label{font-weight:600}
input{font:inherit;color:var(--text);background:var(--surface);border:1px solid var(--border);border-radius:6px;padding:7px 9px}
input[aria-invalid='true']{border-color:var(--bad)}
.btn{display:flex;align-items:center;justify-content:center;gap:6px;width:100%;padding:9px;border:1px solid var(--border);border-radius:6px;background:var(--surface);color:var(--text);font:inherit;cursor:pointer;text-decoration:none}
.btn:hover{background:var(--surface-2)}
.btn-primary{background:var(--accent);border-color:var(--accent);color:var(--accent-text);font-weight:600}
.btn-primary:hover{background:var(--accent);filter:brightness(1.08)}
.alert{padding:9px 12px;border-radius:6px;margin:10px 0;border:1px solid}
.alert-error{background:var(--bad-bg);border-color:var(--bad);color:var(--text)}
.login-or{display:flex;align-items:center;gap:10px;color:var(--muted);margin:14px 0;font-size:12.5px}
.login-or::before,.login-or::after{content:'';flex:1;border-top:1px solid var(--border)}
`

// pageCSP allows the page's one stylesheet by its hash and nothing else: no
// scripts, no external assets, no inline style attributes. No form-action:
// browsers apply it to the redirects after the post, which end at the
// client's redirect URI.
var pageCSP = func() string {
	sum := sha256.Sum256([]byte(pageCSS))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; " +
		"img-src 'none'; base-uri 'none'; frame-ancestors 'none'"
}()

// The page is self-contained, in the SPA's words: "Log in", "User name",
// "Password", "Sign in with <provider>", and the application's name.
var pageTemplate = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>{{.Title}}{{if .Client}} · {{.Client}}{{end}}</title>
<style>` + pageCSS + `</style>
</head>
<body>
<main class="login-page" id="main">
<div class="login-card">
<div class="brand" aria-hidden="true"><span class="brand-mark">g</span> gantry</div>
{{if .Form}}
<h1 id="login-title">Log in</h1>
<p class="client">to continue to <strong>{{.Client}}</strong></p>
{{if .Error}}<div class="alert alert-error" role="alert"><strong>Login failed: </strong><span class="alert-message">{{.Error}}</span></div>{{end}}
<form method="post" action="{{.Action}}" aria-labelledby="login-title">
<input type="hidden" name="authRequestID" value="{{.AuthRequestID}}">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<div class="field"><label for="username">User name</label><input id="username" name="username" value="{{.Username}}" autocomplete="username" autocapitalize="none" required autofocus></div>
<div class="field"><label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required></div>
<button type="submit" class="btn btn-primary">Log in</button>
</form>
{{if .UpstreamURL}}<p class="login-or" aria-hidden="true"><span>or</span></p>
<a class="btn" href="{{.UpstreamURL}}">Sign in with {{.UpstreamName}}</a>{{end}}
{{else}}
<h1>{{.Title}}</h1>
{{if .Message}}<p class="message">{{.Message}}</p>{{end}}
{{end}}
</div>
</main>
</body>
</html>
`))

const maxFormBytes = 16 << 10

func (p *Provider) serveLogin(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		p.loginGet(w, r)
	case http.MethodPost:
		p.loginPost(w, r)
	default:
		w.Header().Set("Allow", "GET, POST")
		p.render(w, http.StatusMethodNotAllowed, page{Title: "Sign in", Message: "Use the sign-in form."})
	}
}

func (p *Provider) loginGet(w http.ResponseWriter, r *http.Request) {
	req, err := p.store.mem.request(r.URL.Query().Get("authRequestID"))
	if err != nil {
		p.render(w, http.StatusBadRequest, page{Title: "Sign in", Message: capitalize(err.Error()) + "."})
		return
	}
	// prompt=login (op turns it into max_age=0) asks for the password even
	// when the browser has a session. Other max_age values are taken as met:
	// the session does not say when its password was typed.
	forceLogin := req.wants(oidc.PromptLogin) || req.maxAge != nil && *req.maxAge == 0
	if p.opts.Session != nil && !forceLogin {
		if user, ok := p.opts.Session(r); ok {
			if _, err := p.opts.Users.Profile(r.Context(), user); err == nil {
				p.finish(w, r, req, user, nil, "session")
				return
			}
		}
	}
	if req.wants(oidc.PromptNone) {
		op.AuthRequestError(w, r, req, oidc.ErrLoginRequired(), p.op)
		return
	}
	p.form(w, r, req, http.StatusOK, "", req.loginHint)
}

func (p *Provider) loginPost(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		p.render(w, http.StatusBadRequest, page{Title: "Sign in", Message: "The form could not be read: reload the sign-in page."})
		return
	}
	req, err := p.store.mem.request(r.PostForm.Get("authRequestID"))
	if err != nil {
		p.render(w, http.StatusBadRequest, page{Title: "Sign in", Message: capitalize(err.Error()) + "."})
		return
	}
	// The token is bound to this sign-in and only this page has it; the
	// Origin check stops cross-site posts from browsers that send one.
	csrf := r.PostForm.Get("csrf")
	if !p.sameOrigin(r) || csrf == "" || subtle.ConstantTimeCompare([]byte(csrf), []byte(req.csrf)) != 1 {
		p.render(w, http.StatusForbidden, page{Title: "Sign in",
			Message: "This form was not sent by the sign-in page, or it expired: go back to the application and sign in again."})
		return
	}
	user, password := strings.TrimSpace(r.PostForm.Get("username")), r.PostForm.Get("password")
	if user == "" || password == "" {
		p.form(w, r, req, http.StatusBadRequest, "Enter your username and password.", user)
		return
	}
	ip := clientIP(r)
	if ok, wait := p.opts.Limiter.Allow(user, ip); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		p.form(w, r, req, http.StatusTooManyRequests,
			fmt.Sprintf("Too many failed sign-ins: try again in %s.", wait.Round(time.Second)), user)
		return
	}
	ok, err := p.opts.Users.CheckPassword(r.Context(), user, password)
	if err != nil {
		p.log.Error(err, "OIDC sign-in: checking the password failed", "client", req.clientID)
		p.form(w, r, req, http.StatusInternalServerError, "Checking the password failed: try again.", user)
		return
	}
	if ok {
		_, err := p.opts.Users.Profile(r.Context(), user)
		ok = err == nil
	}
	if !ok {
		p.opts.Limiter.Failed(user, ip)
		// No username in the log: people type passwords into that field.
		p.log.Info("OIDC sign-in failed", "client", req.clientID, "ip", ip)
		// One message for unknown users, disabled users and wrong passwords.
		p.form(w, r, req, http.StatusUnauthorized, "invalid username or password", user)
		return
	}
	p.opts.Limiter.Succeeded(user, ip)
	if p.opts.SignedIn != nil {
		p.opts.SignedIn(w, r, user)
	}
	p.finish(w, r, req, user, []string{"pwd"}, "password")
}

// finish marks the sign-in done and sends the browser to op's callback,
// which issues the code and redirects to the client.
func (p *Provider) finish(w http.ResponseWriter, r *http.Request, req *authRequest, user string, amr []string, via string) {
	if err := p.store.mem.complete(req.id, user, amr); err != nil {
		p.render(w, http.StatusBadRequest, page{Title: "Sign in", Message: capitalize(err.Error()) + "."})
		return
	}
	p.log.Info("OIDC sign-in", "user", user, "client", req.clientID, "via", via)
	callback := op.AuthCallbackURL(p.op)(op.ContextWithIssuer(r.Context(), p.issuer), req.id)
	http.Redirect(w, r, callback, http.StatusSeeOther)
}

func (p *Provider) form(w http.ResponseWriter, r *http.Request, req *authRequest, code int, msg, user string) {
	name := req.clientID
	if c, err := p.store.clients.Get(r.Context(), req.clientID); err == nil && c.Name != "" {
		name = c.Name
	}
	pg := page{Title: "Sign in to gantry", Error: msg, Form: true, Action: p.prefix + "/login",
		AuthRequestID: req.id, CSRF: req.csrf, Client: name, Username: user}
	if p.opts.Upstream != nil {
		// A local path: the upstream login only sends browsers back within gantry.
		pg.UpstreamURL, pg.UpstreamName = p.opts.Upstream(p.prefix + "/login?authRequestID=" + url.QueryEscape(req.id))
		if pg.UpstreamName == "" {
			pg.UpstreamName = "SSO"
		}
	}
	p.render(w, code, pg)
}

func (p *Provider) serveLoggedOut(w http.ResponseWriter, _ *http.Request) {
	p.render(w, http.StatusOK, page{Title: "Signed out", Message: "You have signed out of the application."})
}

func (p *Provider) render(w http.ResponseWriter, code int, pg page) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	// Not no-referrer: under it browsers send "Origin: null" with the form's
	// post, which sameOrigin refuses. same-origin keeps the authRequestID in
	// the URL from every other site (the upstream sign-in link included).
	h.Set("Referrer-Policy", "same-origin")
	w.WriteHeader(code)
	if err := pageTemplate.Execute(w, pg); err != nil {
		p.log.Error(err, "rendering the OIDC login page")
	}
}

// sameOrigin is false when the browser says the form came from another site.
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

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
