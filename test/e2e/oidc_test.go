package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"gantry.dev/gantry/internal/identity/sso/ssotest"
)

// rp is a relying party as a web application is one: golang.org/x/oauth2 for
// the code flow with PKCE, coreos/go-oidc for discovery and ID token checks.
type rp struct {
	t        *testing.T
	ctx      context.Context // carries the HTTP client that trusts gantry's CA
	provider *oidc.Provider
	cfg      oauth2.Config
	verifier string
	state    string
}

type idClaims struct {
	Subject           string   `json:"sub"`
	PreferredUsername string   `json:"preferred_username"`
	Email             string   `json:"email"`
	Groups            []string `json:"groups"`
}

func newRP(t *testing.T, g *gantry, clientID, secret, redirect string) *rp {
	t.Helper()
	ctx := oidc.ClientContext(context.Background(), g.httpsClient(t))
	var provider *oidc.Provider
	eventually(t, 30*time.Second, "OIDC discovery", func() (err error) {
		provider, err = oidc.NewProvider(ctx, "https://"+g.httpAddr+"/oidc")
		return err
	})
	return &rp{t: t, ctx: ctx, provider: provider, cfg: oauth2.Config{
		ClientID: clientID, ClientSecret: secret, RedirectURL: redirect, Endpoint: provider.Endpoint(),
		Scopes: []string{oidc.ScopeOpenID, "profile", "email", "groups", oidc.ScopeOfflineAccess},
	}}
}

// authURL starts a sign-in: a fresh state and PKCE verifier.
func (r *rp) authURL() string {
	r.verifier, r.state = oauth2.GenerateVerifier(), oauth2.GenerateVerifier()
	return r.cfg.AuthCodeURL(r.state, oauth2.S256ChallengeOption(r.verifier))
}

// finish takes the URL the browser was sent back to, checks its state and
// exchanges its code for verified tokens.
func (r *rp) finish(back *url.URL) (*oauth2.Token, idClaims) {
	r.t.Helper()
	if back.Query().Get("state") != r.state || back.Query().Get("code") == "" {
		r.t.Fatalf("back at the application without code or with another state: %s", back)
	}
	tok, err := r.cfg.Exchange(r.ctx, back.Query().Get("code"), oauth2.VerifierOption(r.verifier))
	if err != nil {
		r.t.Fatalf("exchanging the code: %v", err)
	}
	return tok, r.verify(tok)
}

func (r *rp) verify(tok *oauth2.Token) idClaims {
	r.t.Helper()
	raw, _ := tok.Extra("id_token").(string)
	idt, err := r.provider.Verifier(&oidc.Config{ClientID: r.cfg.ClientID}).Verify(r.ctx, raw)
	if err != nil {
		r.t.Fatalf("verifying the ID token: %v", err)
	}
	var c idClaims
	if err := idt.Claims(&c); err != nil {
		r.t.Fatal(err)
	}
	return c
}

// browser follows redirects until one leads to the application (redirect)
// or to the web UI's login page, which it cannot run, and reports where it
// stopped. It signs in as that page does (signIn).
type browser struct {
	t        *testing.T
	c        *http.Client
	redirect string
}

func newBrowser(t *testing.T, g *gantry, redirect string, extraCA string) *browser {
	ca, _ := os.ReadFile(filepath.Join(g.dataDir, "pki", "ca.crt"))
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	pool.AppendCertsFromPEM([]byte(extraCA))
	jar, _ := cookiejar.New(nil)
	b := &browser{t: t, redirect: redirect}
	b.c = &http.Client{Jar: jar, Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if strings.HasPrefix(req.URL.String(), redirect) {
				return http.ErrUseLastResponse // the application's address: nothing listens there
			}
			if req.URL.Host == g.httpAddr && req.URL.Path == "/login" {
				return http.ErrUseLastResponse // the web UI's login page: signIn does what its script does
			}
			return nil
		}}
	return b
}

// page is where the browser ended: the body, the URL it was sent back to the
// application with, or the sign-in it was sent to the login page for.
type page struct {
	status int
	body   string
	url    *url.URL
	back   *url.URL
	login  string // the auth request id of /login?oidc=<id>
}

func (b *browser) do(resp *http.Response, err error) page {
	b.t.Helper()
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	p := page{status: resp.StatusCode, body: string(data), url: resp.Request.URL}
	if loc, err := resp.Location(); err == nil && strings.HasPrefix(loc.String(), b.redirect) {
		p.back = loc
	} else if err == nil && loc.Path == "/login" && loc.Query().Has("oidc") {
		p.login = loc.Query().Get("oidc")
	}
	return p
}

func (b *browser) get(u string) page { return b.do(b.c.Get(u)) }

var metaRefresh = regexp.MustCompile(`<meta http-equiv="refresh" content="0;url=([^"]+)">`)

// loginInfo is what the login page reads for an application's sign-in.
type loginInfo struct {
	AuthRequestID, Client, CSRF, LoginHint string
	SSO                                    *struct {
		Enabled        bool
		Name, LoginURL string
	}
}

// loginInfo reads the sign-in the browser was sent to the login page for.
func (b *browser) loginInfo(g *gantry, p page) loginInfo {
	b.t.Helper()
	if p.login == "" {
		b.t.Fatalf("not sent to the login page (%d at %s):\n%s", p.status, p.url, p.body)
	}
	got := b.get("https://" + g.httpAddr + "/oidc/login/request?authRequestID=" + url.QueryEscape(p.login))
	var info loginInfo
	if err := json.Unmarshal([]byte(got.body), &info); err != nil || got.status != 200 || info.CSRF == "" {
		b.t.Fatalf("the login page's sign-in (%d):\n%s", got.status, got.body)
	}
	return info
}

// signIn does what the login page does on p: it posts the password with the
// sign-in's CSRF token, from gantry's origin, and goes where the answer says.
// A refusal is returned as it came (status and JSON error).
func (b *browser) signIn(g *gantry, p page, user, password string) page {
	b.t.Helper()
	info := b.loginInfo(g, p)
	body, _ := json.Marshal(map[string]string{"authRequestID": info.AuthRequestID, "csrf": info.CSRF, "username": user, "password": password})
	req, _ := http.NewRequest(http.MethodPost, "https://"+g.httpAddr+"/oidc/login", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Origin", "https://"+g.httpAddr)
	answer := b.do(b.c.Do(req))
	answer.login = p.login
	var next struct{ Redirect string }
	if answer.status != 200 {
		return answer
	}
	if err := json.Unmarshal([]byte(answer.body), &next); err != nil || !strings.HasPrefix(next.Redirect, "https://"+g.httpAddr+"/") {
		b.t.Fatalf("signing in: want {\"redirect\": <a URL of gantry>}, got:\n%s", answer.body)
	}
	return b.get(next.Redirect)
}

// TestOIDCProvider: applications sign users in with gantry (code flow with
// PKCE, as x/oauth2 and go-oidc do it): with a password on gantry's login page,
// or through an upstream identity provider whose groups map to a team. Tokens
// carry the user's teams and project roles; refresh tokens survive a restart.
func TestOIDCProvider(t *testing.T) {
	parallel(t)
	dataDir := t.TempDir()
	g := startGantry(t, dataDir, "--nodes", "1")
	g.waitReady(2 * time.Minute)
	ctx := context.Background()
	host := g.client()
	cmd := []string{"user", "create", "alice", "--email", "alice@example.com", "--password-stdin", "--data-dir", dataDir}
	if out, err := runStdin(t, "alice-secret-pw\n", cmd...); err != nil {
		t.Fatalf("user create: %v\n%s", err, out)
	}
	if out, err := run(t, "project", "add-member", "default", "--user", "alice", "--role", "project-member", "--data-dir", dataDir); err != nil {
		t.Fatalf("add-member: %v\n%s", err, out)
	}

	// An application registers; its secret is shown once and stored hashed.
	const redirect = "http://127.0.0.1:5555/callback"
	out, err := run(t, "oidc-client", "create", "demo", "--name", "Demo app", "--redirect-uri", redirect, "--data-dir", dataDir)
	m := regexp.MustCompile(`client secret: (\S+)`).FindStringSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("oidc-client create: %v\n%s", err, out)
	}
	secret := m[1]
	secrets, _ := host.CoreV1().Secrets("gantry-system").List(ctx, metav1.ListOptions{})
	for _, s := range secrets.Items {
		for k, v := range s.Data {
			if strings.Contains(string(v), secret) {
				t.Errorf("Secret %s (%s) holds the client secret in clear", s.Name, k)
			}
		}
	}

	// alice signs in with her password.
	app := newRP(t, g, "demo", secret, redirect)
	b := newBrowser(t, g, redirect, "")
	// The browser goes to the web UI's login page, which names the application.
	form := b.get(app.authURL())
	if info := b.loginInfo(g, form); info.Client != "Demo app" || info.SSO != nil {
		t.Fatalf("the login page's sign-in does not name the application, or offers SSO that is off: %+v", info)
	}
	if wrong := b.signIn(g, form, "alice", "not-her-password"); wrong.status != 401 || wrong.back != nil || !strings.Contains(wrong.body, "invalid username or password") {
		t.Fatalf("a wrong password: %d, back at the app: %v\n%s", wrong.status, wrong.back, wrong.body)
	}
	// The page stays, and the next try works.
	done := b.signIn(g, form, "alice", "alice-secret-pw")
	if done.back == nil {
		t.Fatalf("signing in did not lead back to the application (%d at %s):\n%s", done.status, done.url, done.body)
	}
	tok, claims := app.finish(done.back)
	if claims.Subject != "alice" || claims.Email != "alice@example.com" || !slices.Contains(claims.Groups, "gantry:project:default:project-member") {
		t.Errorf("ID token claims: %+v", claims)
	}
	info, err := app.provider.UserInfo(app.ctx, oauth2.StaticTokenSource(tok))
	if err != nil || info.Subject != "alice" {
		t.Errorf("userinfo: %+v %v", info, err)
	}
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token for offline_access")
	}

	// Single sign-on: the same browser is not asked again.
	again := b.get(app.authURL())
	if again.back == nil {
		t.Errorf("a second application sign-in asked for the password again (%d):\n%s", again.status, again.body)
	}

	// A redirect URI that is not registered is refused, never followed.
	evil := app.cfg
	evil.RedirectURL = "https://evil.example.com/callback"
	if p := b.get(evil.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))); p.back != nil || strings.Contains(p.url.Host, "evil") {
		t.Errorf("an unregistered redirect URI was followed: %s", p.url)
	}

	// Refresh tokens survive a restart of gantry, and the new ID token verifies.
	g.stop()
	g = startGantry(t, dataDir, "--nodes", "1")
	g.waitReady(2 * time.Minute)
	app = newRP(t, g, "demo", secret, redirect)
	tok.Expiry = time.Now().Add(-time.Minute)
	fresh, err := app.cfg.TokenSource(app.ctx, tok).Token()
	if err != nil {
		t.Fatalf("refresh after a restart: %v", err)
	}
	if fresh.RefreshToken == tok.RefreshToken {
		t.Error("the refresh token was not rotated")
	}
	if c := app.verify(fresh); c.Subject != "alice" {
		t.Errorf("refreshed ID token: %+v", c)
	}
	if _, err := app.cfg.TokenSource(app.ctx, tok).Token(); err == nil {
		t.Error("a used refresh token worked again")
	}

	if code, info := g.apiCall(t, "GET", "/api/v1/sso/info", "", ""); code != 200 || info["enabled"] != false {
		t.Errorf("sso/info before SSO is configured: %d %v", code, info)
	}

	// Upstream SSO: dave signs in at his company's identity provider; his
	// group "platform" is mapped to a team that administers project default.
	idp := ssotest.Start(t, "https://"+g.httpAddr+"/api/v1/sso/callback",
		[]ssotest.User{{ID: "u-dave", Username: "dave", Email: "dave@example.com", Groups: []string{"platform"}}}, nil)
	for _, args := range [][]string{
		{"team", "create", "platform-team", "--group", "platform"},
		{"project", "add-member", "default", "--team", "platform-team", "--role", "project-admin"},
	} {
		if out, err := run(t, append(args, "--data-dir", dataDir)...); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	config := fmt.Sprintf("name: Company\nissuer: %s\nclientID: %s\nclientSecret: %s\ncreateUsers: true\nrootCA: |\n%s",
		idp.URL(), ssotest.ClientID, ssotest.ClientSecret, indent(idp.RootCA, "  "))
	if _, err := host.CoreV1().Secrets("gantry-system").Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "gantry-sso", Namespace: "gantry-system"},
		StringData: map[string]string{"config.yaml": config},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	b = newBrowser(t, g, redirect, idp.RootCA)
	// The web UI's login page learns whether to offer the button (no credentials needed).
	eventually(t, 30*time.Second, "sso/info says SSO is on", func() error {
		code, info := g.apiCall(t, "GET", "/api/v1/sso/info", "", "")
		if code != 200 || info["enabled"] != true || info["name"] != "Company" {
			return fmt.Errorf("%d %v", code, info)
		}
		return nil
	})
	var offer loginInfo
	eventually(t, 30*time.Second, "the login page offers the company's SSO", func() error {
		if offer = b.loginInfo(g, b.get(app.authURL())); offer.SSO == nil {
			return fmt.Errorf("no upstream sign-in for the login page: %+v", offer)
		}
		return nil
	})
	if offer.SSO.Name != "Company" {
		t.Errorf("the upstream sign-in is named %q", offer.SSO.Name)
	}
	gantryURL, _ := url.Parse("https://" + g.httpAddr + "/")
	upstream, _ := gantryURL.Parse(offer.SSO.LoginURL)
	idpForm := b.get(upstream.String())
	id := ssotest.LoginForm(idpForm.body)
	if id == "" {
		t.Fatalf("no login form at the identity provider (%d at %s):\n%s", idpForm.status, idpForm.url, idpForm.body)
	}
	signedIn := b.do(idp.SubmitLogin(b.c, id, "dave"))
	next := metaRefresh.FindStringSubmatch(signedIn.body)
	if signedIn.status != 200 || next == nil {
		t.Fatalf("after the identity provider, gantry did not sign dave in (%d at %s):\n%s", signedIn.status, signedIn.url, signedIn.body)
	}
	resume, _ := signedIn.url.Parse(html.UnescapeString(next[1]))
	done = b.get(resume.String())
	if done.back == nil {
		t.Fatalf("signing in through SSO did not lead back to the application (%d at %s):\n%s", done.status, done.url, done.body)
	}
	_, claims = app.finish(done.back)
	if claims.Subject != "dave" || !slices.Contains(claims.Groups, "team:platform-team") ||
		!slices.Contains(claims.Groups, "gantry:project:default:project-admin") {
		t.Errorf("dave's ID token claims: %+v", claims)
	}
	var user struct {
		Metadata struct{ Labels map[string]string }
		Spec     struct{ Groups []string }
	}
	raw, err := host.RESTClient().Get().AbsPath("/apis/platform.gantry.dev/v1alpha1/users/dave").DoRaw(ctx)
	if err != nil {
		t.Fatalf("dave was not created on first login: %v", err)
	}
	if err := json.Unmarshal(raw, &user); err != nil || user.Metadata.Labels["gantry.dev/sso"] != "true" || !slices.Contains(user.Spec.Groups, "platform") {
		t.Errorf("dave's User: %s", raw)
	}

	// No secret in any log.
	logs, _ := filepath.Glob(filepath.Join(dataDir, "logs", "*.log"))
	for _, f := range logs {
		data, _ := os.ReadFile(f)
		for _, s := range []string{secret, "alice-secret-pw", tok.RefreshToken, fresh.AccessToken, ssotest.ClientSecret} {
			if strings.Contains(string(data), s) {
				t.Errorf("%s contains a secret or token", filepath.Base(f))
			}
		}
	}
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return prefix + strings.Join(lines, "\n"+prefix) + "\n"
}
