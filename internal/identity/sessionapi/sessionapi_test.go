package sessionapi

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/api"
	"gantry.dev/gantry/internal/identity/authn"
	"gantry.dev/gantry/internal/identity/sessions"
)

// passwords knows one password per user.
type passwords map[string]string

func (p passwords) Check(_ context.Context, user, password string) (bool, error) {
	want, ok := p[user]
	return ok && want == password, nil
}

// newServer serves the session API with gantry's real limiter and tokens.
func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	signer, err := sessions.NewSigner(context.Background(), &sessions.MemoryKeyStore{}, sessions.SignerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mgr, err := sessions.NewManager(signer, sessions.NewMemoryRefreshStore(nil), sessions.Config{Issuer: "https://gantry.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	auth := &authn.Authenticator{}
	router := api.NewRouter(auth, func([]string, string, string, string) error { return nil })
	(&API{Passwords: passwords{"admin": "correct horse", "bob": "battery staple"}, Tokens: mgr,
		Limiter: sessions.NewLimiter(sessions.LimiterOptions{}), Auth: auth}).Register(router)
	srv := httptest.NewServer(router)
	t.Cleanup(srv.Close)
	return srv
}

// from returns a client whose connections come from the loopback address ip
// (Linux routes all of 127.0.0.0/8 to lo), so the server sees distinct
// source addresses over real connections.
func from(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
}

func login(t *testing.T, c *http.Client, srv *httptest.Server, user, password string, header ...string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+Prefix, strings.NewReader(`{"username":"`+user+`","password":"`+password+`"}`))
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// A guesser failing as admin from their address is throttled there (429 with
// Retry-After); admin, from another address, still logs in.
func TestGuesserCannotLockOutAdmin(t *testing.T) {
	srv := newServer(t)
	attacker, admin := from("127.0.0.66"), from("127.0.0.1")
	var last *http.Response
	for range 6 {
		// A forged X-Forwarded-For does not give the guesser a fresh address.
		last = login(t, attacker, srv, "admin", "guess", "X-Forwarded-For", "127.0.0.1")
	}
	if last.StatusCode != http.StatusTooManyRequests || last.Header.Get("Retry-After") == "" {
		t.Fatalf("sixth failure from the guessing address: %d Retry-After %q, want 429 with Retry-After", last.StatusCode, last.Header.Get("Retry-After"))
	}
	if resp := login(t, attacker, srv, "admin", "correct horse"); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("the right password from the throttled address: %d, want 429 (checked before the password)", resp.StatusCode)
	}
	if resp := login(t, admin, srv, "admin", "correct horse"); resp.StatusCode != http.StatusOK {
		t.Errorf("admin from another address: %d, want 200", resp.StatusCode)
	}
}

// One address trying many users, a couple of guesses each, is throttled once
// its address budget is spent, for every user; others are not.
func TestAddressSprayingUsersThrottled(t *testing.T) {
	srv := newServer(t)
	sprayer := from("127.0.0.77")
	throttledAt := 0
	for i := range 30 {
		resp := login(t, sprayer, srv, "user"+string(rune('a'+i)), "guess")
		if resp.StatusCode == http.StatusTooManyRequests {
			throttledAt = i + 1
			break
		}
	}
	if throttledAt == 0 || throttledAt > 21 {
		t.Fatalf("one address tried 30 users unthrottled (throttled at %d)", throttledAt)
	}
	if resp := login(t, sprayer, srv, "bob", "battery staple"); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("bob from the spraying address: %d, want 429", resp.StatusCode)
	}
	if resp := login(t, from("127.0.0.1"), srv, "bob", "battery staple"); resp.StatusCode != http.StatusOK {
		t.Errorf("bob from another address: %d, want 200", resp.StatusCode)
	}
}

// A sign-in that ends outside this API (the OpenID Connect provider's page,
// upstream SSO) starts the same session: cookies that authenticate as the
// user. A disabled user gets none, nor does anyone before the signing keys
// are loaded.
func TestStartSession(t *testing.T) {
	signer, err := sessions.NewSigner(context.Background(), &sessions.MemoryKeyStore{}, sessions.SignerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mgr, err := sessions.NewManager(signer, sessions.NewMemoryRefreshStore(nil), sessions.Config{Issuer: "https://gantry.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	scheme := runtime.NewScheme()
	if err := platformv1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	users := fake.NewClientBuilder().WithScheme(scheme).WithObjects(
		&platformv1alpha1.User{ObjectMeta: metav1.ObjectMeta{Name: "alice"}},
		&platformv1alpha1.User{ObjectMeta: metav1.ObjectMeta{Name: "dora"}, Spec: platformv1alpha1.UserSpec{Disabled: true}},
	).Build()
	auth := &authn.Authenticator{Tokens: mgr, Users: users}
	a := &API{Auth: auth, Secure: true}
	start := func(user string) (*httptest.ResponseRecorder, error) {
		w := httptest.NewRecorder()
		return w, a.StartSession(w, httptest.NewRequest("GET", "/oidc/login", nil), user)
	}
	if w, err := start("alice"); err == nil || len(w.Result().Cookies()) != 0 {
		t.Errorf("before the keys are loaded: %v, cookies %v; want an error and none", err, w.Result().Cookies())
	}
	a.Tokens = mgr
	w, err := start("alice")
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/api/v1/applications", nil)
	for _, c := range w.Result().Cookies() {
		if !c.HttpOnly || !c.Secure {
			t.Errorf("cookie %s is not HttpOnly and Secure", c.Name)
		}
		req.AddCookie(c)
	}
	if id, err := auth.Authenticate(req); err != nil || id.User != "alice" || id.Via != "session" {
		t.Errorf("the session's cookie authenticates as %+v, %v; want alice by session", id, err)
	}
	for _, user := range []string{"dora", "nobody"} {
		if w, err := start(user); err == nil || len(w.Result().Cookies()) != 0 {
			t.Errorf("session for %s: %v, cookies %v; want an error and none", user, err, w.Result().Cookies())
		}
	}
}
