package oidcprovider

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"gantry.dev/gantry/internal/identity/sessions"
)

const testNamespace = "gantry-system"

// testSessionCookie stands for gantry's session: SignedIn sets it, Session reads it.
const testSessionCookie = "test-session"

// testUsers is a small user directory.
type testUsers struct {
	mu       sync.Mutex
	password map[string]string
	profile  map[string]Profile
	disabled map[string]bool
}

func newTestUsers() *testUsers {
	return &testUsers{
		password: map[string]string{"alice": "correct horse", "bob": "battery staple"},
		profile: map[string]Profile{
			"alice": {User: "alice", Email: "alice@example.com", Name: "Alice A", Groups: []string{"team:platform", "gantry:project:shop:admin"}},
			"bob":   {User: "bob", Email: "bob@example.com", Name: "Bob B"},
		},
		disabled: map[string]bool{},
	}
}

func (u *testUsers) CheckPassword(_ context.Context, user, password string) (bool, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	pw, ok := u.password[user]
	return ok && !u.disabled[user] && pw == password, nil
}

func (u *testUsers) Profile(_ context.Context, user string) (Profile, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	p, ok := u.profile[user]
	if !ok || u.disabled[user] {
		return Profile{}, fmt.Errorf("user %q is disabled or deleted", user)
	}
	p.Groups = slices.Clone(p.Groups)
	return p, nil
}

func (u *testUsers) set(user string, f func(*Profile)) {
	u.mu.Lock()
	defer u.mu.Unlock()
	p := u.profile[user]
	f(&p)
	u.profile[user] = p
}

func (u *testUsers) disable(user string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.disabled[user] = true
}

// env is a provider served over TLS, as gantry serves it, under /oidc/.
type env struct {
	t        *testing.T
	srv      *httptest.Server
	issuer   string
	kube     client.Client
	ns       string
	signer   *sessions.Signer
	users    *testUsers
	clients  ClientStore
	provider atomic.Pointer[Provider]
	// replicas, when set, serve instead of provider: the one a request's
	// X-Replica header names, otherwise each in turn.
	replicas atomic.Pointer[[]*Provider]
	turn     atomic.Uint64
	session  atomic.Pointer[string] // the browser's gantry session user, if any
	noSSO    atomic.Bool            // upstream SSO is not configured
	now      atomic.Pointer[time.Time]
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvOn(t, fake.NewClientBuilder().Build(), testNamespace, &sessions.MemoryKeyStore{})
}

// newEnvOn is an env whose provider keeps its Secrets in namespace ns of
// kube and its signing keys in keys.
func newEnvOn(t *testing.T, kube client.Client, ns string, keys sessions.KeyStore) *env {
	t.Helper()
	e := &env{t: t, users: newTestUsers(), kube: kube, ns: ns}
	e.clients = ClientStore{Client: e.kube, Namespace: ns}
	var err error
	e.signer, err = sessions.NewSigner(context.Background(), keys, sessions.SignerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/oidc/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { e.serving(r).ServeHTTP(w, r) }))
	e.srv = httptest.NewTLSServer(mux)
	t.Cleanup(e.srv.Close)
	e.issuer = e.srv.URL + "/oidc"
	e.restart()
	return e
}

// serving is the provider that answers r.
func (e *env) serving(r *http.Request) *Provider {
	rs := e.replicas.Load()
	if rs == nil {
		return e.provider.Load()
	}
	switch r.Header.Get("X-Replica") {
	case "a":
		return (*rs)[0]
	case "b":
		return (*rs)[1]
	}
	return (*rs)[e.turn.Add(1)%uint64(len(*rs))]
}

// restart replaces the provider with a new one on the same Secrets and keys,
// as a gantry restart does.
func (e *env) restart() {
	e.t.Helper()
	e.provider.Store(e.newProvider(e.signer))
}

// newProvider is a provider (a replica of gantry) on env's Secrets, signing
// with signer.
func (e *env) newProvider(signer *sessions.Signer) *Provider {
	e.t.Helper()
	p, err := New(Options{
		Issuer: e.issuer, Signer: signer, Client: e.kube, Namespace: e.ns, Users: e.users,
		Limiter: sessions.NewLimiter(sessions.LimiterOptions{MaxFailures: 3}),
		Session: func(r *http.Request) (string, bool) {
			if u := e.session.Load(); u != nil {
				return *u, true
			}
			if c, err := r.Cookie(testSessionCookie); err == nil {
				return c.Value, true
			}
			return "", false
		},
		SignedIn: func(w http.ResponseWriter, _ *http.Request, user string) {
			http.SetCookie(w, &http.Cookie{Name: testSessionCookie, Value: user, Path: "/", Secure: true, HttpOnly: true})
		},
		Upstream: func(returnTo string) (string, string) {
			if e.noSSO.Load() {
				return "", ""
			}
			return "https://sso.example.com/start?return=" + url.QueryEscape(returnTo), "Example <SSO>"
		},
		Now: func() time.Time {
			if n := e.now.Load(); n != nil {
				return *n
			}
			return time.Now()
		},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *env) ctx() context.Context {
	return gooidc.ClientContext(context.Background(), e.srv.Client())
}

// browser is a user agent with cookies that stops at the first redirect
// leaving gantry, where the relying party would take over, or going to the
// web UI's sign-in page, which this server does not serve.
func (e *env) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	host := e.srv.Listener.Addr().String()
	return &http.Client{
		Jar:       jar,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: e.srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs}},
		CheckRedirect: func(req *http.Request, _ []*http.Request) error {
			if req.URL.Host != host || req.URL.Path == "/login" {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}
}

func (e *env) register(spec ClientSpec) string {
	e.t.Helper()
	secret, err := e.clients.Create(context.Background(), spec)
	if err != nil {
		e.t.Fatal(err)
	}
	return secret
}

// rp is a relying party: oauth2 and go-oidc, as Argo CD and kubelogin use them.
type rp struct {
	e        *env
	conf     oauth2.Config
	verifier *gooidc.IDTokenVerifier
	provider *gooidc.Provider
}

func (e *env) rp(clientID, secret, redirect string, scopes ...string) *rp {
	e.t.Helper()
	provider, err := gooidc.NewProvider(e.ctx(), e.issuer)
	if err != nil {
		e.t.Fatalf("discovery: %v", err)
	}
	return &rp{e: e, provider: provider, verifier: provider.Verifier(&gooidc.Config{ClientID: clientID}),
		conf: oauth2.Config{ClientID: clientID, ClientSecret: secret, Endpoint: provider.Endpoint(),
			RedirectURL: redirect, Scopes: scopes}}
}

// flow is one sign-in's state on the relying party's side.
type flow struct {
	verifier, state, nonce string
}

func (r *rp) authURL(f flow, opts ...oauth2.AuthCodeOption) string {
	opts = append(opts, gooidc.Nonce(f.nonce))
	if f.verifier != "" {
		opts = append(opts, oauth2.S256ChallengeOption(f.verifier))
	}
	return r.conf.AuthCodeURL(f.state, opts...)
}

func newFlow() flow {
	return flow{verifier: oauth2.GenerateVerifier(), state: randomString(12), nonce: randomString(12)}
}

// loginPage is what the web UI's sign-in page reads from …/login/request.
type loginPage struct {
	AuthRequestID, Client, CSRF, LoginHint string
	SSO                                    *struct {
		Enabled        bool
		Name, LoginURL string
	}
}

func read(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// openLogin follows the authorization request to the web UI's sign-in page
// and reads what the page reads.
func (e *env) openLogin(b *http.Client, authURL string) loginPage {
	e.t.Helper()
	resp, err := b.Get(authURL)
	if err != nil {
		e.t.Fatal(err)
	}
	body := read(e.t, resp)
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || loc == nil || loc.Path != "/login" || loc.Query().Get("oidc") == "" {
		e.t.Fatalf("authorize: %d at %s, Location %q, want the web UI's sign-in page:\n%s", resp.StatusCode, resp.Request.URL, resp.Header.Get("Location"), body)
	}
	return e.loginInfo(b, loc.Query().Get("oidc"))
}

// loginInfo is the page's GET …/login/request.
func (e *env) loginInfo(b *http.Client, id string) loginPage {
	e.t.Helper()
	resp, err := b.Get(e.issuer + "/login/request?authRequestID=" + url.QueryEscape(id))
	if err != nil {
		e.t.Fatal(err)
	}
	body := read(e.t, resp)
	var pg loginPage
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &pg) != nil || pg.AuthRequestID != id || pg.CSRF == "" {
		e.t.Fatalf("login/request %s: %d\n%s", id, resp.StatusCode, body)
	}
	return pg
}

// postLogin sends what the page's fetch sends: JSON, from gantry's origin.
func (e *env) postLogin(b *http.Client, body map[string]string) *http.Response {
	e.t.Helper()
	data, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, e.issuer+"/login", bytes.NewReader(data))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Origin", e.srv.URL)
	resp, err := b.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp
}

func credentials(pg loginPage, user, password string) map[string]string {
	return map[string]string{"authRequestID": pg.AuthRequestID, "csrf": pg.CSRF, "username": user, "password": password}
}

// loginError reads an error answer of the sign-in endpoints.
func loginError(t *testing.T, resp *http.Response) string {
	t.Helper()
	body := read(t, resp)
	var out struct{ Error string }
	if err := json.Unmarshal([]byte(body), &out); err != nil || out.Error == "" || resp.Header.Get("Location") != "" {
		t.Fatalf("%d, want a JSON error and no redirect:\n%s", resp.StatusCode, body)
	}
	return out.Error
}

// follow goes where the answer to a good password says, as the page does
// (window.location), and returns the redirect to the client.
func (e *env) follow(b *http.Client, resp *http.Response) *http.Response {
	e.t.Helper()
	body := read(e.t, resp)
	var out struct{ Redirect string }
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &out) != nil || !strings.HasPrefix(out.Redirect, e.issuer+"/") {
		e.t.Fatalf("signing in: %d, want {\"redirect\": <a URL of the provider>}:\n%s", resp.StatusCode, body)
	}
	next, err := b.Get(out.Redirect)
	if err != nil {
		e.t.Fatal(err)
	}
	return next
}

// callback returns the query the browser brings to the redirect URI.
func callback(t *testing.T, resp *http.Response, redirectURI string) url.Values {
	t.Helper()
	body := read(t, resp)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, redirectURI+"?") {
		t.Fatalf("want a redirect to %s, got %d Location %q:\n%s", redirectURI, resp.StatusCode, loc, body)
	}
	u, _ := url.Parse(loc)
	return u.Query()
}

// signIn runs the whole browser part and returns the code.
func (e *env) signIn(r *rp, f flow, user, password string, opts ...oauth2.AuthCodeOption) string {
	e.t.Helper()
	b := e.browser()
	pg := e.openLogin(b, r.authURL(f, opts...))
	q := callback(e.t, e.follow(b, e.postLogin(b, credentials(pg, user, password))), r.conf.RedirectURL)
	if q.Get("state") != f.state || q.Get("code") == "" {
		e.t.Fatalf("callback %v: want state %q and a code", q, f.state)
	}
	return q.Get("code")
}

type idClaims struct {
	Subject           string   `json:"sub"`
	PreferredUsername string   `json:"preferred_username"`
	Email             string   `json:"email"`
	Name              string   `json:"name"`
	Groups            []string `json:"groups"`
	Nonce             string   `json:"nonce"`
}

func (r *rp) verify(tok *oauth2.Token) (*gooidc.IDToken, idClaims) {
	r.e.t.Helper()
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		r.e.t.Fatal("no id_token in the token response")
	}
	id, err := r.verifier.Verify(r.e.ctx(), raw)
	if err != nil {
		r.e.t.Fatalf("verifying the ID token: %v", err)
	}
	var c idClaims
	if err := id.Claims(&c); err != nil {
		r.e.t.Fatal(err)
	}
	return id, c
}

func (r *rp) refresh(refreshToken string) (*oauth2.Token, error) {
	return r.conf.TokenSource(r.e.ctx(), &oauth2.Token{RefreshToken: refreshToken, Expiry: time.Unix(1, 0)}).Token()
}

func TestDiscoveryAndKeys(t *testing.T) {
	e := newEnv(t)
	resp, err := e.srv.Client().Get(e.issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Issuer          string   `json:"issuer"`
		Authorization   string   `json:"authorization_endpoint"`
		Token           string   `json:"token_endpoint"`
		JWKS            string   `json:"jwks_uri"`
		EndSession      string   `json:"end_session_endpoint"`
		Scopes          []string `json:"scopes_supported"`
		Methods         []string `json:"code_challenge_methods_supported"`
		TokenAuth       []string `json:"token_endpoint_auth_methods_supported"`
		SigningAlgs     []string `json:"id_token_signing_alg_values_supported"`
		ClaimsSupported []string `json:"claims_supported"`
	}
	if err := json.Unmarshal([]byte(read(t, resp)), &d); err != nil {
		t.Fatal(err)
	}
	if d.Issuer != e.issuer || d.Authorization != e.issuer+"/authorize" || d.Token != e.issuer+"/oauth/token" ||
		d.JWKS != e.issuer+"/keys" || d.EndSession != e.issuer+"/end_session" {
		t.Errorf("discovery endpoints: %+v", d)
	}
	for _, s := range []string{"openid", "profile", "email", "groups", "offline_access"} {
		if !slices.Contains(d.Scopes, s) {
			t.Errorf("scope %s not supported: %v", s, d.Scopes)
		}
	}
	if !slices.Equal(d.Methods, []string{"S256"}) || !slices.Contains(d.TokenAuth, "client_secret_basic") ||
		!slices.Contains(d.TokenAuth, "client_secret_post") || !slices.Equal(d.SigningAlgs, []string{"ES256"}) ||
		!slices.Contains(d.ClaimsSupported, "groups") {
		t.Errorf("discovery: %+v", d)
	}

	kids := func() []string {
		resp, err := e.srv.Client().Get(d.JWKS)
		if err != nil {
			t.Fatal(err)
		}
		var set struct {
			Keys []struct{ Kid, Alg, Use, Kty, Crv string } `json:"keys"`
		}
		if err := json.Unmarshal([]byte(read(t, resp)), &set); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, k := range set.Keys {
			if k.Alg != "ES256" || k.Use != "sig" || k.Kty != "EC" || k.Crv != "P-256" {
				t.Errorf("key %+v", k)
			}
			ids = append(ids, k.Kid)
		}
		return ids
	}
	old, _ := e.signer.SigningKey()
	if got := kids(); !slices.Equal(got, []string{old}) {
		t.Errorf("JWKS %v, want [%s]", got, old)
	}
	if err := e.signer.Rotate(context.Background()); err != nil {
		t.Fatal(err)
	}
	current, _ := e.signer.SigningKey()
	if got := kids(); !slices.Equal(got, []string{current, old}) {
		t.Errorf("JWKS after rotation %v, want [%s %s]", got, current, old)
	}
}

// TestConfidentialClient runs Argo CD's flow and everything after it:
// userinfo, refresh with rotation, a restart, key rotation.
func TestConfidentialClient(t *testing.T) {
	e := newEnv(t)
	const redirect = "https://argocd.example.com/auth/callback"
	secret := e.register(ClientSpec{ID: "argocd", Name: "Argo CD", RedirectURIs: []string{redirect}})
	r := e.rp("argocd", secret, redirect, "openid", "profile", "email", "groups", "offline_access")
	f := newFlow()

	b := e.browser()
	pg := e.openLogin(b, r.authURL(f))
	// The page names the application and offers the upstream sign-in, which
	// comes back to this sign-in.
	if pg.Client != "Argo CD" || pg.SSO == nil || !pg.SSO.Enabled || pg.SSO.Name != "Example <SSO>" ||
		pg.SSO.LoginURL != "https://sso.example.com/start?return="+url.QueryEscape("/oidc/login?authRequestID="+pg.AuthRequestID) {
		t.Errorf("login/request: %+v %+v", pg, pg.SSO)
	}
	q := callback(t, e.follow(b, e.postLogin(b, credentials(pg, "alice", "correct horse"))), redirect)
	if q.Get("state") != f.state {
		t.Fatalf("state %q, want %q", q.Get("state"), f.state)
	}

	tok, err := r.conf.Exchange(e.ctx(), q.Get("code"), oauth2.VerifierOption(f.verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token for offline_access")
	}
	if life := time.Until(tok.Expiry); life < 14*time.Minute || life > 16*time.Minute {
		t.Errorf("access token lives %s, want 15m", life)
	}
	idTok, c := r.verify(tok)
	if c.Subject != "alice" || c.PreferredUsername != "alice" || c.Email != "alice@example.com" || c.Name != "Alice A" ||
		!slices.Equal(c.Groups, []string{"team:platform", "gantry:project:shop:admin"}) || c.Nonce != f.nonce {
		t.Errorf("ID token claims %+v", c)
	}
	if idTok.Issuer != e.issuer || !slices.Equal(idTok.Audience, []string{"argocd"}) {
		t.Errorf("ID token iss %s aud %v", idTok.Issuer, idTok.Audience)
	}
	if life := time.Until(idTok.Expiry); life > 16*time.Minute {
		t.Errorf("ID token lives %s", life)
	}

	// The code is single-use.
	if _, err := r.conf.Exchange(e.ctx(), q.Get("code"), oauth2.VerifierOption(f.verifier)); err == nil {
		t.Error("a code was exchanged twice")
	}

	// The access token is a JWT verifiable with the JWKS, with groups.
	at, err := r.provider.VerifierContext(e.ctx(), &gooidc.Config{ClientID: "argocd"}).Verify(e.ctx(), tok.AccessToken)
	if err != nil {
		t.Fatalf("access token does not verify: %v", err)
	}
	var atc idClaims
	_ = at.Claims(&atc)
	if atc.Subject != "alice" || len(atc.Groups) != 2 {
		t.Errorf("access token claims %+v", atc)
	}

	info, err := r.provider.UserInfo(e.ctx(), oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	var ic idClaims
	_ = info.Claims(&ic)
	if info.Subject != "alice" || info.Email != "alice@example.com" || !slices.Equal(ic.Groups, c.Groups) {
		t.Errorf("userinfo %+v %+v", info, ic)
	}

	// Refresh: new claims, a new refresh token, the old one refused.
	e.users.set("alice", func(p *Profile) { p.Groups = []string{"team:apps"} })
	tok2, err := r.refresh(tok.RefreshToken)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if tok2.RefreshToken == "" || tok2.RefreshToken == tok.RefreshToken {
		t.Fatalf("refresh token not rotated")
	}
	if _, c2 := r.verify(tok2); !slices.Equal(c2.Groups, []string{"team:apps"}) {
		t.Errorf("refreshed groups %v, want [team:apps]", c2.Groups)
	}
	if _, err := r.refresh(tok.RefreshToken); err == nil {
		t.Error("the used refresh token still works")
	}

	// A restart keeps refresh tokens.
	e.restart()
	r = e.rp("argocd", secret, redirect)
	tok3, err := r.refresh(tok2.RefreshToken)
	if err != nil {
		t.Fatalf("refresh after restart: %v", err)
	}

	// Key rotation: new tokens carry the new key; old ones still verify.
	if err := e.signer.Rotate(context.Background()); err != nil {
		t.Fatal(err)
	}
	tok4, err := r.refresh(tok3.RefreshToken)
	if err != nil {
		t.Fatalf("refresh after key rotation: %v", err)
	}
	r.verify(tok4)
	r.verify(tok3)
	kid := func(tok *oauth2.Token) string {
		raw := tok.Extra("id_token").(string)
		hdr, _ := base64URLDecode(strings.Split(raw, ".")[0])
		var h struct{ Kid string }
		_ = json.Unmarshal(hdr, &h)
		return h.Kid
	}
	if current, _ := e.signer.SigningKey(); kid(tok4) != current || kid(tok3) == current {
		t.Errorf("kids: old %s new %s current %s", kid(tok3), kid(tok4), current)
	}

	// Revocation (RFC 7009) ends the refresh token.
	if err := revoke(e, "argocd", secret, tok4.RefreshToken); err != nil {
		t.Fatal(err)
	}
	if _, err := r.refresh(tok4.RefreshToken); err == nil {
		t.Error("a revoked refresh token still works")
	}
}

func revoke(e *env, clientID, secret, token string, hint ...string) error {
	return revokeWith(e, e.srv.Client(), clientID, secret, token, hint...)
}

func revokeWith(e *env, c *http.Client, clientID, secret, token string, hint ...string) error {
	v := url.Values{"token": {token}, "token_type_hint": {"refresh_token"}}
	if len(hint) > 0 {
		v.Set("token_type_hint", hint[0])
	}
	req, _ := http.NewRequest(http.MethodPost, e.issuer+"/revoke", strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(clientID, secret)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	if body := read(e.t, resp); resp.StatusCode != http.StatusOK {
		return fmt.Errorf("revoke: %d %s", resp.StatusCode, body)
	}
	return nil
}

// TestPublicClient runs kubelogin's flow: a public client on a loopback
// redirect, scope openid only and access_type=offline, PKCE.
func TestPublicClient(t *testing.T) {
	e := newEnv(t)
	const redirect = "http://localhost:8000"
	e.register(ClientSpec{ID: "kubelogin", RedirectURIs: []string{redirect, "http://localhost:18000"}, Public: true})
	r := e.rp("kubelogin", "", redirect, "openid")
	f := newFlow()
	code := e.signIn(r, f, "bob", "battery staple", oauth2.AccessTypeOffline)
	tok, err := r.conf.Exchange(e.ctx(), code, oauth2.VerifierOption(f.verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if tok.RefreshToken == "" {
		t.Error("access_type=offline gave no refresh token")
	}
	if _, c := r.verify(tok); c.Subject != "bob" || c.Groups != nil {
		t.Errorf("claims %+v (no groups scope, so no groups claim)", c)
	}
	if _, err := r.refresh(tok.RefreshToken); err != nil {
		t.Errorf("public client refresh: %v", err)
	}

	t.Run("without PKCE", func(t *testing.T) {
		resp, err := e.browser().Get(r.authURL(flow{state: "s", nonce: "n"}))
		if err != nil {
			t.Fatal(err)
		}
		q := callback(t, resp, redirect)
		if q.Get("error") != "invalid_request" || q.Get("code") != "" || !strings.Contains(q.Get("error_description"), "PKCE") {
			t.Errorf("callback %v, want invalid_request about PKCE", q)
		}
	})

	t.Run("wrong verifier", func(t *testing.T) {
		f := newFlow()
		code := e.signIn(r, f, "bob", "battery staple")
		if _, err := r.conf.Exchange(e.ctx(), code, oauth2.VerifierOption(oauth2.GenerateVerifier())); err == nil {
			t.Error("a wrong code_verifier was accepted")
		}
	})

	t.Run("another port", func(t *testing.T) {
		// Exact matching: a loopback port not registered is refused.
		r := e.rp("kubelogin", "", "http://localhost:9999", "openid")
		resp, err := e.browser().Get(r.authURL(newFlow()))
		if err != nil {
			t.Fatal(err)
		}
		body := read(t, resp)
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
			t.Errorf("unregistered port: %d %q %s", resp.StatusCode, resp.Header.Get("Location"), body)
		}
	})
}

func TestLoginRefusals(t *testing.T) {
	e := newEnv(t)
	const redirect = "https://app.example.com/cb"
	secret := e.register(ClientSpec{ID: "app", RedirectURIs: []string{redirect}})
	r := e.rp("app", secret, redirect, "openid")

	t.Run("unregistered redirect URI", func(t *testing.T) {
		r := e.rp("app", secret, "https://evil.example.com/cb", "openid")
		resp, err := e.browser().Get(r.authURL(newFlow()))
		if err != nil {
			t.Fatal(err)
		}
		read(t, resp)
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
			t.Errorf("got %d Location %q, want 400 and no redirect", resp.StatusCode, resp.Header.Get("Location"))
		}
	})

	t.Run("unknown client", func(t *testing.T) {
		r := e.rp("nobody", "", redirect, "openid")
		resp, err := e.browser().Get(r.authURL(newFlow()))
		if err != nil {
			t.Fatal(err)
		}
		read(t, resp)
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
			t.Errorf("got %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
		}
	})

	t.Run("wrong password, then rate limited", func(t *testing.T) {
		b := e.browser()
		pg := e.openLogin(b, r.authURL(newFlow()))
		for i := range 4 {
			resp := e.postLogin(b, credentials(pg, "alice", "wrong"))
			msg := loginError(t, resp)
			switch {
			case i < 3 && (resp.StatusCode != http.StatusUnauthorized || msg != "invalid username or password"):
				t.Errorf("attempt %d: %d %q, want 401", i, resp.StatusCode, msg)
			case i == 3 && (resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || !strings.Contains(msg, "try again in")):
				t.Errorf("attempt %d: %d Retry-After %q %q, want 429", i, resp.StatusCode, resp.Header.Get("Retry-After"), msg)
			}
		}
		// Limited before the password is checked: the right one waits too.
		if resp := e.postLogin(b, credentials(pg, "alice", "correct horse")); resp.StatusCode != http.StatusTooManyRequests {
			t.Errorf("the right password while limited: %d, want 429", resp.StatusCode)
		}
		e.restart() // a fresh limiter: this address is blocked now
	})

	t.Run("empty fields", func(t *testing.T) {
		b := e.browser()
		pg := e.openLogin(b, r.authURL(newFlow()))
		for _, c := range [][2]string{{"", "battery staple"}, {"bob", ""}, {"  ", "x"}} {
			resp := e.postLogin(b, credentials(pg, c[0], c[1]))
			if msg := loginError(t, resp); resp.StatusCode != http.StatusBadRequest || !strings.Contains(msg, "username and password") {
				t.Errorf("%q/%q: %d %q, want 400", c[0], c[1], resp.StatusCode, msg)
			}
		}
	})

	t.Run("missing or wrong CSRF token, another origin", func(t *testing.T) {
		b := e.browser()
		pg := e.openLogin(b, r.authURL(newFlow()))
		for _, csrf := range []string{"", "forged"} {
			body := credentials(pg, "bob", "battery staple")
			body["csrf"] = csrf
			if resp := e.postLogin(b, body); resp.StatusCode != http.StatusForbidden || loginError(t, resp) == "" {
				t.Errorf("csrf %q: %d, want 403", csrf, resp.StatusCode)
			}
		}
		// Another sign-in's token does not fit this one.
		other := e.openLogin(b, r.authURL(newFlow()))
		body := credentials(pg, "bob", "battery staple")
		body["csrf"] = other.CSRF
		if resp := e.postLogin(b, body); resp.StatusCode != http.StatusForbidden {
			t.Errorf("a CSRF token of another sign-in: %d, want 403", resp.StatusCode)
		}
		post := func(contentType, origin, body string) *http.Response {
			req, _ := http.NewRequest(http.MethodPost, e.issuer+"/login", strings.NewReader(body))
			req.Header.Set("Content-Type", contentType)
			if origin != "" {
				req.Header.Set("Origin", origin)
			}
			resp, err := b.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			return resp
		}
		good, _ := json.Marshal(credentials(pg, "bob", "battery staple"))
		// A cross-site fetch is refused even with the token.
		if resp := post("application/json", "https://evil.example.com", string(good)); resp.StatusCode != http.StatusForbidden || loginError(t, resp) == "" {
			t.Errorf("cross-site post: %d, want 403", resp.StatusCode)
		}
		// So is what a cross-site HTML form can send, which browsers of old
		// send without an Origin.
		form := url.Values{"authRequestID": {pg.AuthRequestID}, "csrf": {pg.CSRF}, "username": {"bob"}, "password": {"battery staple"}}.Encode()
		if resp := post("application/x-www-form-urlencoded", "", form); resp.StatusCode != http.StatusUnsupportedMediaType || loginError(t, resp) == "" {
			t.Errorf("form post: %d, want 415", resp.StatusCode)
		}
		// The request is still good for the page.
		if resp := post("application/json", e.srv.URL, string(good)); resp.StatusCode != http.StatusOK {
			t.Errorf("the page's own post after refusals: %d, want 200", resp.StatusCode)
		}
	})

	t.Run("wrong client secret", func(t *testing.T) {
		f := newFlow()
		code := e.signIn(r, f, "bob", "battery staple")
		bad := *r
		bad.conf.ClientSecret = "not-the-secret"
		if _, err := bad.conf.Exchange(e.ctx(), code, oauth2.VerifierOption(f.verifier)); err == nil {
			t.Error("a wrong client secret was accepted")
		}
		bad.conf.ClientSecret = ""
		if _, err := bad.conf.Exchange(e.ctx(), code, oauth2.VerifierOption(f.verifier)); err == nil {
			t.Error("a confidential client without its secret was accepted")
		}
	})

	t.Run("client_secret_post", func(t *testing.T) {
		f := newFlow()
		code := e.signIn(r, f, "bob", "battery staple")
		post := *r
		post.conf.Endpoint.AuthStyle = oauth2.AuthStyleInParams
		if _, err := post.conf.Exchange(e.ctx(), code, oauth2.VerifierOption(f.verifier)); err != nil {
			t.Errorf("client_secret_post: %v", err)
		}
	})

	t.Run("expired sign-in", func(t *testing.T) {
		b := e.browser()
		pg := e.openLogin(b, r.authURL(newFlow()))
		later := time.Now().Add(authRequestLifetime + time.Second)
		e.now.Store(&later)
		defer e.now.Store(nil)
		resp := e.postLogin(b, credentials(pg, "bob", "battery staple"))
		if msg := loginError(t, resp); resp.StatusCode != http.StatusBadRequest || msg != errLoginExpired {
			t.Errorf("expired sign-in: %d %q", resp.StatusCode, msg)
		}
	})
}

func TestDisabledUser(t *testing.T) {
	e := newEnv(t)
	const redirect = "https://app.example.com/cb"
	secret := e.register(ClientSpec{ID: "app", RedirectURIs: []string{redirect}})
	r := e.rp("app", secret, redirect, "openid", "offline_access")
	f := newFlow()
	tok, err := r.conf.Exchange(e.ctx(), e.signIn(r, f, "bob", "battery staple"), oauth2.VerifierOption(f.verifier))
	if err != nil {
		t.Fatal(err)
	}
	e.users.disable("bob")
	if _, err := r.refresh(tok.RefreshToken); err == nil {
		t.Error("a disabled user refreshed")
	}
	if _, err := r.provider.UserInfo(e.ctx(), oauth2.StaticTokenSource(tok)); err == nil {
		t.Error("userinfo answered for a disabled user")
	}
	// And cannot sign in: the same message as a wrong password.
	b := e.browser()
	resp := e.postLogin(b, credentials(e.openLogin(b, r.authURL(newFlow())), "bob", "battery staple"))
	if msg := loginError(t, resp); resp.StatusCode != http.StatusUnauthorized || msg != "invalid username or password" {
		t.Errorf("disabled user sign-in: %d %q", resp.StatusCode, msg)
	}
}

func TestSingleSignOnAndPrompt(t *testing.T) {
	e := newEnv(t)
	const redirect = "https://app.example.com/cb"
	secret := e.register(ClientSpec{ID: "app", RedirectURIs: []string{redirect}})
	r := e.rp("app", secret, redirect, "openid", "groups")

	t.Run("prompt=none without a session", func(t *testing.T) {
		resp, err := e.browser().Get(r.authURL(newFlow(), oauth2.SetAuthURLParam("prompt", "none")))
		if err != nil {
			t.Fatal(err)
		}
		if q := callback(t, resp, redirect); q.Get("error") != "login_required" {
			t.Errorf("callback %v, want login_required", q)
		}
	})

	alice := "alice"
	e.session.Store(&alice)
	defer e.session.Store(nil)
	f := newFlow()
	resp, err := e.browser().Get(r.authURL(f))
	if err != nil {
		t.Fatal(err)
	}
	q := callback(t, resp, redirect)
	tok, err := r.conf.Exchange(e.ctx(), q.Get("code"), oauth2.VerifierOption(f.verifier))
	if err != nil {
		t.Fatal(err)
	}
	if _, c := r.verify(tok); c.Subject != "alice" || len(c.Groups) != 2 {
		t.Errorf("SSO claims %+v", c)
	}
	// prompt=none is answered by the session.
	resp, err = e.browser().Get(r.authURL(newFlow(), oauth2.SetAuthURLParam("prompt", "none")))
	if err != nil {
		t.Fatal(err)
	}
	if q := callback(t, resp, redirect); q.Get("code") == "" {
		t.Errorf("prompt=none with a session: %v, want a code", q)
	}

	// prompt=login asks for the password despite the session, and the
	// password then completes the sign-in.
	f = newFlow()
	b := e.browser()
	pg := e.openLogin(b, r.authURL(f, oauth2.SetAuthURLParam("prompt", "login")))
	q = callback(t, e.follow(b, e.postLogin(b, credentials(pg, "bob", "battery staple"))), redirect)
	if tok, err = r.conf.Exchange(e.ctx(), q.Get("code"), oauth2.VerifierOption(f.verifier)); err != nil {
		t.Fatal(err)
	}
	if _, c := r.verify(tok); c.Subject != "bob" {
		t.Errorf("prompt=login signed in %q, want bob (who typed the password)", c.Subject)
	}
}

// A password typed on the page starts a gantry session (SignedIn): the next
// application's sign-in in that browser needs no page.
func TestPasswordStartsSession(t *testing.T) {
	e := newEnv(t)
	const redirect = "https://app.example.com/cb"
	secret := e.register(ClientSpec{ID: "app", RedirectURIs: []string{redirect}})
	r := e.rp("app", secret, redirect, "openid")
	b := e.browser()
	callback(t, e.follow(b, e.postLogin(b, credentials(e.openLogin(b, r.authURL(newFlow())), "alice", "correct horse"))), redirect)
	f := newFlow()
	resp, err := b.Get(r.authURL(f))
	if err != nil {
		t.Fatal(err)
	}
	q := callback(t, resp, redirect)
	tok, err := r.conf.Exchange(e.ctx(), q.Get("code"), oauth2.VerifierOption(f.verifier))
	if err != nil {
		t.Fatal(err)
	}
	if _, c := r.verify(tok); c.Subject != "alice" {
		t.Errorf("second sign-in as %q, want alice", c.Subject)
	}
	// A wrong password starts none.
	b = e.browser()
	read(t, e.postLogin(b, credentials(e.openLogin(b, r.authURL(newFlow())), "alice", "wrong")))
	e.openLogin(b, r.authURL(newFlow()))
}

func TestEndSession(t *testing.T) {
	e := newEnv(t)
	const redirect = "https://app.example.com/cb"
	const loggedOut = "https://app.example.com/logged-out"
	secret := e.register(ClientSpec{ID: "app", RedirectURIs: []string{redirect}, PostLogoutRedirectURIs: []string{loggedOut}})
	r := e.rp("app", secret, redirect, "openid", "offline_access")
	f := newFlow()
	tok, err := r.conf.Exchange(e.ctx(), e.signIn(r, f, "alice", "correct horse"), oauth2.VerifierOption(f.verifier))
	if err != nil {
		t.Fatal(err)
	}
	idToken := tok.Extra("id_token").(string)

	end := func(v url.Values) *http.Response {
		resp, err := e.browser().Get(e.issuer + "/end_session?" + v.Encode())
		if err != nil {
			t.Fatal(err)
		}
		read(t, resp)
		return resp
	}
	resp := end(url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {"https://evil.example.com/"}})
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusBadRequest || strings.Contains(loc, "evil") {
		t.Errorf("unregistered post_logout_redirect_uri: %d %q", resp.StatusCode, loc)
	}
	resp = end(url.Values{"client_id": {"app"}, "post_logout_redirect_uri": {"https://evil.example.com/"}})
	if loc := resp.Header.Get("Location"); strings.Contains(loc, "evil") {
		t.Errorf("unregistered post_logout_redirect_uri followed: %q", loc)
	}
	resp = end(url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {loggedOut}, "state": {"xyz"}})
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || loc != loggedOut+"?state=xyz" {
		t.Errorf("end_session: %d %q", resp.StatusCode, loc)
	}
	// Ending the session ends the client's refresh tokens of the user.
	if _, err := r.refresh(tok.RefreshToken); err == nil {
		t.Error("refresh works after end_session")
	}
	resp = end(url.Values{})
	if resp.StatusCode != http.StatusOK || resp.Request.URL.String() != e.issuer+"/logged-out" ||
		!strings.HasPrefix(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("end_session without a client: %d at %s, CSP %q", resp.StatusCode, resp.Request.URL, resp.Header.Get("Content-Security-Policy"))
	}
}

func TestIssueIDToken(t *testing.T) {
	e := newEnv(t)
	raw, exp, err := e.provider.Load().IssueIDToken(context.Background(), "alice", []string{"team:platform"}, "vcluster-shop-dev", 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(exp); d < 9*time.Minute || d > 11*time.Minute {
		t.Errorf("expiry in %s", d)
	}
	provider, err := gooidc.NewProvider(e.ctx(), e.issuer)
	if err != nil {
		t.Fatal(err)
	}
	id, err := provider.Verifier(&gooidc.Config{ClientID: "vcluster-shop-dev"}).Verify(e.ctx(), raw)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	var c idClaims
	_ = id.Claims(&c)
	if id.Subject != "alice" || c.PreferredUsername != "alice" || !slices.Equal(c.Groups, []string{"team:platform"}) {
		t.Errorf("claims %+v", c)
	}
	if _, err := provider.Verifier(&gooidc.Config{ClientID: "vcluster-other"}).Verify(e.ctx(), raw); err == nil {
		t.Error("the token verified for another audience")
	}
	if _, _, err := e.provider.Load().IssueIDToken(context.Background(), "alice", nil, "x", 2*time.Hour); err == nil {
		t.Error("a lifetime beyond the key retention was accepted")
	}
}

func TestSweep(t *testing.T) {
	e := newEnv(t)
	const redirect = "https://app.example.com/cb"
	secret := e.register(ClientSpec{ID: "app", RedirectURIs: []string{redirect}})
	r := e.rp("app", secret, redirect, "openid", "offline_access")
	f := newFlow()
	tok, err := r.conf.Exchange(e.ctx(), e.signIn(r, f, "alice", "correct horse"), oauth2.VerifierOption(f.verifier))
	if err != nil {
		t.Fatal(err)
	}
	count := func() int {
		var list corev1.SecretList
		_ = e.kube.List(context.Background(), &list, client.MatchingLabels{LabelRefreshToken: "true"})
		for _, s := range list.Items {
			if s.Type != RefreshTokenSecretType || s.Name != refreshSecretName(tok.RefreshToken) {
				t.Errorf("refresh token Secret %s type %s", s.Name, s.Type)
			}
			for k, v := range s.Data {
				if strings.Contains(string(v), tok.RefreshToken) {
					t.Errorf("the token is stored in clear in %s", k)
				}
			}
		}
		return len(list.Items)
	}
	if n := count(); n != 1 {
		t.Fatalf("%d refresh token Secrets, want 1", n)
	}
	if err := e.provider.Load().Sweep(context.Background()); err != nil || count() != 1 {
		t.Fatalf("Sweep removed a live token (err %v)", err)
	}
	later := time.Now().Add(RefreshTokenLifetime + time.Minute)
	e.now.Store(&later)
	if _, err := r.refresh(tok.RefreshToken); err == nil {
		t.Error("an expired refresh token works")
	}
	if err := e.provider.Load().Sweep(context.Background()); err != nil || count() != 0 {
		t.Errorf("Sweep left the expired token (err %v)", err)
	}
}

func TestNewValidates(t *testing.T) {
	e := newEnv(t)
	base := Options{Signer: e.signer, Client: e.kube, Namespace: testNamespace, Users: e.users}
	for _, issuer := range []string{"", "gantry.example.com/oidc", "http://gantry.example.com/oidc", "ftp://x/oidc", "https://x/oidc?a=b"} {
		o := base
		o.Issuer = issuer
		if _, err := New(o); err == nil {
			t.Errorf("issuer %q accepted", issuer)
		}
	}
	o := base
	o.Issuer = "http://127.0.0.1:8080/oidc"
	if _, err := New(o); err != nil {
		t.Errorf("loopback http issuer: %v", err)
	}
	o.Users = nil
	if _, err := New(o); err == nil || !strings.Contains(err.Error(), "Users") {
		t.Errorf("missing Users: %v", err)
	}
	// Requests outside the issuer's path are not the provider's.
	rec := httptest.NewRecorder()
	e.provider.Load().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/oidcx/keys", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("/oidcx/keys: %d", rec.Code)
	}
}

func base64URLDecode(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(s)
}

func TestRevocation(t *testing.T) {
	e := newEnv(t)
	const redirect = "https://app.example.com/cb"
	secret := e.register(ClientSpec{ID: "app", RedirectURIs: []string{redirect}})
	other := e.register(ClientSpec{ID: "other", RedirectURIs: []string{redirect}})
	r := e.rp("app", secret, redirect, "openid", "offline_access")
	f := newFlow()
	tok, err := r.conf.Exchange(e.ctx(), e.signIn(r, f, "alice", "correct horse"), oauth2.VerifierOption(f.verifier))
	if err != nil {
		t.Fatal(err)
	}
	// Another client cannot revoke app's tokens.
	if err := revoke(e, "other", other, tok.RefreshToken); err == nil {
		t.Error("another client revoked the refresh token")
	}
	if err := revoke(e, "other", other, tok.AccessToken, "access_token"); err == nil {
		t.Error("another client revoked the access token")
	}
	if _, err := r.provider.UserInfo(e.ctx(), oauth2.StaticTokenSource(tok)); err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	if err := revoke(e, "app", secret, tok.AccessToken, "access_token"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.provider.UserInfo(e.ctx(), oauth2.StaticTokenSource(tok)); err == nil {
		t.Error("userinfo accepts a revoked access token")
	}
	// A wrong hint still finds the refresh token (RFC 7009 section 2.1).
	if err := revoke(e, "app", secret, tok.RefreshToken, "access_token"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.refresh(tok.RefreshToken); err == nil {
		t.Error("a revoked refresh token still works")
	}
	if err := revoke(e, "app", secret, "garbage"); err != nil {
		t.Errorf("revoking an unknown token: %v, want 200", err)
	}
}

// TestRevocationWrongHintEveryToken revokes many refresh tokens with
// token_type_hint=access_token. About one in ten used to slip through (op's
// legacy decrypter turned the refresh token into a garbage token id), so a
// single token cannot show it.
func TestRevocationWrongHintEveryToken(t *testing.T) {
	e := newEnv(t)
	const redirect = "https://app.example.com/cb"
	secret := e.register(ClientSpec{ID: "app", RedirectURIs: []string{redirect}})
	r := e.rp("app", secret, redirect, "openid", "offline_access")
	for i := range 40 {
		f := newFlow()
		tok, err := r.conf.Exchange(e.ctx(), e.signIn(r, f, "alice", "correct horse"), oauth2.VerifierOption(f.verifier))
		if err != nil {
			t.Fatal(err)
		}
		if err := revoke(e, "app", secret, tok.RefreshToken, "access_token"); err != nil {
			t.Fatalf("revoke %d: %v", i, err)
		}
		if _, err := r.refresh(tok.RefreshToken); err == nil {
			t.Fatalf("sign-in %d: a refresh token revoked with token_type_hint=access_token still works", i)
		}
	}
}
