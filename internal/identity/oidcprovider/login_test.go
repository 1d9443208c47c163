package oidcprovider

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// A browser that must sign in goes to the web UI's sign-in page, with the
// sign-in's id; so does one with an unknown id, and the page says it expired.
func TestLoginGoesToThePage(t *testing.T) {
	e := newEnv(t)
	const redirect = "https://app.example.com/cb"
	secret := e.register(ClientSpec{ID: "app", RedirectURIs: []string{redirect}})
	r := e.rp("app", secret, redirect, "openid")

	get := func(u string) *http.Response {
		t.Helper()
		resp, err := e.browser().Get(u)
		if err != nil {
			t.Fatal(err)
		}
		read(t, resp)
		return resp
	}
	resp := get(r.authURL(newFlow(), oauth2.SetAuthURLParam("login_hint", "bob")))
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || loc.Path != "/login" || loc.Host != "" || loc.Query().Get("oidc") == "" {
		t.Fatalf("authorize: %d Location %q, want /login?oidc=<id>", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("the redirect to the page may be cached: %q", resp.Header.Get("Cache-Control"))
	}
	if pg := e.loginInfo(e.browser(), loc.Query().Get("oidc")); pg.LoginHint != "bob" {
		t.Errorf("login hint %q, want bob", pg.LoginHint)
	}

	resp = get(e.issuer + "/login?authRequestID=gone")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?oidc=gone" {
		t.Errorf("unknown sign-in: %d Location %q, want the page", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// …/login/request gives the page what it shows and sends back, to the page
// only, never cached.
func TestLoginRequest(t *testing.T) {
	e := newEnv(t)
	const redirect = "https://app.example.com/cb"
	secret := e.register(ClientSpec{ID: "wiki", Name: "Team Wiki", RedirectURIs: []string{redirect}})
	e.register(ClientSpec{ID: "nameless", RedirectURIs: []string{redirect}, Public: true})

	b := e.browser()
	pg := e.openLogin(b, e.rp("wiki", secret, redirect, "openid").authURL(newFlow()))
	if pg.Client != "Team Wiki" || len(pg.CSRF) < 16 || pg.SSO == nil || pg.SSO.Name != "Example <SSO>" {
		t.Errorf("login/request: %+v", pg)
	}
	if pg := e.openLogin(b, e.rp("nameless", "", redirect, "openid").authURL(newFlow())); pg.Client != "nameless" {
		t.Errorf("a client without a name is shown as %q, want its id", pg.Client)
	}
	e.noSSO.Store(true)
	if pg := e.loginInfo(b, pg.AuthRequestID); pg.SSO != nil {
		t.Errorf("SSO offered while it is off: %+v", pg.SSO)
	}

	req, _ := http.NewRequest(http.MethodGet, e.issuer+"/login/request?authRequestID="+url.QueryEscape(pg.AuthRequestID), nil)
	req.Header.Set("Origin", "https://evil.example.com")
	resp, err := b.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	read(t, resp)
	h := resp.Header
	if h.Get("Cache-Control") != "no-store" || h.Get("Content-Type") != "application/json" || h.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("headers: %v", h)
	}
	if h.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("another site may read the CSRF token: Access-Control-Allow-Origin %q", h.Get("Access-Control-Allow-Origin"))
	}

	resp, err = b.Get(e.issuer + "/login/request?authRequestID=gone")
	if err != nil {
		t.Fatal(err)
	}
	if msg := loginError(t, resp); resp.StatusCode != http.StatusBadRequest || msg != errLoginExpired {
		t.Errorf("unknown sign-in: %d %q", resp.StatusCode, msg)
	}
	resp, err = b.Post(e.issuer+"/login/request", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	if loginError(t, resp); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST login/request: %d, want 405", resp.StatusCode)
	}
}

// The answer to a good password is JSON naming op's callback, with the
// session's cookies.
func TestLoginAnswer(t *testing.T) {
	e := newEnv(t)
	const redirect = "https://app.example.com/cb"
	secret := e.register(ClientSpec{ID: "app", RedirectURIs: []string{redirect}})
	r := e.rp("app", secret, redirect, "openid")
	b := e.browser()
	pg := e.openLogin(b, r.authURL(newFlow()))

	resp := e.postLogin(b, credentials(pg, "alice", "correct horse"))
	body := read(t, resp)
	var out map[string]string
	if err := json.Unmarshal([]byte(body), &out); err != nil || resp.StatusCode != http.StatusOK || len(out) != 1 ||
		out["redirect"] != e.issuer+"/authorize/callback?id="+url.QueryEscape(pg.AuthRequestID) {
		t.Fatalf("good password: %d %s", resp.StatusCode, body)
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", resp.Header.Get("Cache-Control"))
	}
	if c := resp.Cookies(); len(c) != 1 || c[0].Name != testSessionCookie || c[0].Value != "alice" {
		t.Errorf("SignedIn did not start the session: %v", c)
	}
}

// An upstream (SSO) sign-in that comes back to an application's sign-in
// finishes it, prompt=login included: going back through the page would ask
// for a password the user does not have here.
func TestUpstreamSignInFinishesPromptLogin(t *testing.T) {
	e := newEnv(t)
	const redirect = "https://app.example.com/cb"
	secret := e.register(ClientSpec{ID: "app", RedirectURIs: []string{redirect}})
	r := e.rp("app", secret, redirect, "openid")
	b := e.browser()
	f := newFlow()
	pg := e.openLogin(b, r.authURL(f, oauth2.SetAuthURLParam("prompt", "login")))
	start, err := url.Parse(pg.SSO.LoginURL)
	if err != nil {
		t.Fatal(err)
	}
	prov := e.provider.Load()
	id, ok := prov.UpstreamReturn(start.Query().Get("return"))
	if !ok || id != pg.AuthRequestID {
		t.Fatalf("UpstreamReturn(%q) = %q, %v; want %q", start.Query().Get("return"), id, ok, pg.AuthRequestID)
	}
	for _, other := range []string{"/", "/applications", "https://evil.example.com/oidc/login?authRequestID=" + id, "/oidc/login"} {
		if _, ok := prov.UpstreamReturn(other); ok {
			t.Errorf("UpstreamReturn(%q) took it for a sign-in", other)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, e.issuer+"/sso/callback", nil)
	if _, err := prov.CompleteUpstream(req, id, "nobody"); err == nil {
		t.Error("an unknown user finished a sign-in")
	}
	ret := start.Query().Get("return")
	if next := prov.ContinueUpstream(req, "nobody", ret); next != ret {
		t.Errorf("an unknown user's sign-in continues to %q; want back to %q", next, ret)
	}
	if next := prov.ContinueUpstream(req, "alice", "/applications"); next != "/applications" {
		t.Errorf("a sign-in to gantry itself continues to %q; want /applications", next)
	}
	next := prov.ContinueUpstream(req, "alice", ret)
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || next == ret {
		t.Fatalf("ContinueUpstream(alice, %q) = %q; want op's callback as a local path", ret, next)
	}
	issuer, _ := url.Parse(e.issuer)
	resp, err := b.Get(issuer.Scheme + "://" + issuer.Host + next)
	if err != nil {
		t.Fatal(err)
	}
	q := callback(t, resp, redirect)
	tok, err := r.conf.Exchange(e.ctx(), q.Get("code"), oauth2.VerifierOption(f.verifier))
	if err != nil {
		t.Fatal(err)
	}
	if _, c := r.verify(tok); c.Subject != "alice" {
		t.Errorf("signed in %q, want alice", c.Subject)
	}
	if _, err := prov.CompleteUpstream(req, id, "alice"); err == nil {
		t.Error("a finished sign-in was finished again")
	}
}
