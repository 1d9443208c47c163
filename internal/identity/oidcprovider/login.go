package oidcprovider

import (
	"crypto/subtle"
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

// The page is self-contained: no scripts, no external assets, so the CSP
// below can forbid everything but inline style.
var pageTemplate = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} · gantry</title>
<style>
body{font-family:system-ui,sans-serif;background:#f4f5f7;color:#1d2330;margin:0}
main{max-width:22rem;margin:12vh auto;background:#fff;padding:2rem;border-radius:8px;box-shadow:0 1px 4px rgba(0,0,0,.12)}
h1{font-size:1.3rem;margin:0 0 .3rem}
p{margin:.3rem 0 1rem;color:#4a5263}
label{display:block;font-size:.9rem;margin-top:.8rem}
input{width:100%;box-sizing:border-box;padding:.5rem;margin-top:.25rem;border:1px solid #c5cad3;border-radius:4px;font-size:1rem}
button{width:100%;margin-top:1.2rem;padding:.6rem;border:0;border-radius:4px;background:#2f5bd3;color:#fff;font-size:1rem;cursor:pointer}
.error{color:#b3261e;background:#fdecea;padding:.5rem;border-radius:4px}
.alt{display:block;text-align:center;margin-top:1rem}
</style>
</head>
<body>
<main>
<h1>{{.Title}}</h1>
{{if .Message}}<p>{{.Message}}</p>{{end}}
{{if .Form}}
<p>to continue to <strong>{{.Client}}</strong></p>
{{if .Error}}<p class="error" role="alert">{{.Error}}</p>{{end}}
<form method="post" action="{{.Action}}">
<input type="hidden" name="authRequestID" value="{{.AuthRequestID}}">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<label>Username<input name="username" value="{{.Username}}" autocomplete="username" autocapitalize="none" required autofocus></label>
<label>Password<input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button>
</form>
{{if .UpstreamURL}}<a class="alt" href="{{.UpstreamURL}}">Sign in with {{.UpstreamName}}</a>{{end}}
{{end}}
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
	// No form-action: browsers apply it to the redirects after the post,
	// which end at the client's redirect URI.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
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
