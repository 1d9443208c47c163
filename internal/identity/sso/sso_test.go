package sso

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/identity/sso/ssotest"
)

type completed struct {
	login    Login
	returnTo string
}

// env is gantry's SSO handler on a test server, an upstream provider, and a
// browser with a cookie jar.
type env struct {
	t       *testing.T
	idp     *ssotest.IdP
	gantry  *httptest.Server
	h       *Handler
	c       client.Client
	jar     http.CookieJar
	browser *http.Client

	mu     sync.Mutex
	logins []completed
	logs   []string
}

type envOptions struct {
	users   []idpUser
	idp     func(*ssotest.Storage)
	config  func(*Config)
	objects []client.Object
	idpDown bool
}

var alice = idpUser{ID: "id1", Username: "alice", Email: "alice@example.com", Groups: []string{"ops", "dev"}}

func newScheme(t *testing.T) *runtime.Scheme {
	s := runtime.NewScheme()
	if err := platformv1alpha1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := corev1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return s
}

func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	e := &env{t: t}
	mux := http.NewServeMux()
	e.gantry = httptest.NewServer(mux)
	t.Cleanup(e.gantry.Close)
	if o.users == nil {
		o.users = []idpUser{alice}
	}
	e.idp = startIDP(t, e.gantry.URL+Prefix+"callback", o.users, o.idp)
	e.idp.Down.Store(o.idpDown)

	cfg := Config{Name: "Upstream", Issuer: e.idp.Server.URL, ClientID: idpClientID, ClientSecret: idpClientSecret,
		RootCA: e.idp.RootCA, CreateUsers: true}
	if o.config != nil {
		o.config(&cfg)
	}
	e.c = fake.NewClientBuilder().WithScheme(newScheme(t)).WithObjects(o.objects...).Build()
	// The handler's log goes to the test's and is kept for tests to read.
	logger := funcr.New(func(prefix, args string) {
		t.Log(prefix, args)
		e.mu.Lock()
		e.logs = append(e.logs, args)
		e.mu.Unlock()
	}, funcr.Options{})
	h, err := New(context.Background(), Options{Config: cfg, ExternalURL: e.gantry.URL, Client: e.c, Logger: logger,
		Complete: func(w http.ResponseWriter, r *http.Request, login Login, returnTo string) {
			e.mu.Lock()
			e.logins = append(e.logins, completed{login, returnTo})
			e.mu.Unlock()
			fmt.Fprintf(w, "signed in as %s", login.Username)
		}})
	if err != nil {
		t.Fatal(err)
	}
	e.h = h
	mux.Handle(Prefix, h)

	pool := x509.NewCertPool()
	pool.AddCert(e.idp.Server.Certificate())
	e.jar, _ = cookiejar.New(nil)
	e.browser = &http.Client{Jar: e.jar, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	return e
}

var formID = regexp.MustCompile(`name="id" value="([^"]+)"`)

// signIn is a user clicking "Sign in", then filling in the provider's form as
// username. beforeForm runs just before the form is sent. It returns the
// status and body of the page the browser ends on.
func (e *env) signIn(returnTo, username string, beforeForm func()) (int, string) {
	e.t.Helper()
	status, body, final := e.get(e.gantry.URL + e.h.LoginURL(returnTo))
	if final.Host != e.idp.Server.Listener.Addr().String() {
		return status, body // gantry answered itself: an error page
	}
	m := formID.FindStringSubmatch(body)
	if m == nil {
		e.t.Fatalf("no login form from the provider (%d): %s", status, body)
	}
	if beforeForm != nil {
		beforeForm()
	}
	resp, err := e.browser.PostForm(e.idp.Server.URL+"/login/username",
		url.Values{"id": {m[1]}, "username": {username}, "password": {idpPassword}})
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (e *env) get(u string) (int, string, *url.URL) {
	e.t.Helper()
	resp, err := e.browser.Get(u)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Request.URL
}

func (e *env) completed() []completed {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.logins)
}

func (e *env) user(name string) *platformv1alpha1.User {
	e.t.Helper()
	u := &platformv1alpha1.User{}
	if err := e.c.Get(context.Background(), client.ObjectKey{Name: name}, u); err != nil {
		e.t.Fatalf("user %s: %v", name, err)
	}
	return u
}

// expectRefused checks the browser ended on a gantry error page.
func (e *env) expectRefused(status int, body string, wantStatus int, wantText ...string) {
	e.t.Helper()
	if status != wantStatus {
		e.t.Fatalf("status %d, want %d: %s", status, wantStatus, body)
	}
	for _, w := range wantText {
		if !strings.Contains(body, w) {
			e.t.Errorf("page does not say %q: %s", w, body)
		}
	}
	for _, secret := range []string{idpClientSecret, "id_token", "access_token"} {
		if strings.Contains(body, secret) {
			e.t.Errorf("page holds %q: %s", secret, body)
		}
	}
	if n := len(e.completed()); n != 0 {
		e.t.Errorf("Complete was called %d times for a refused login", n)
	}
}

func TestSignIn(t *testing.T) {
	e := newEnv(t, envOptions{})
	status, body := e.signIn("/projects/p1?tab=apps", "alice", nil)
	if status != http.StatusOK || body != "signed in as alice" {
		t.Fatalf("%d %s", status, body)
	}
	got := e.completed()
	want := completed{Login{Username: "alice", Email: "alice@example.com", Name: "Test alice", Groups: []string{"dev", "ops"},
		Issuer: e.idp.Server.URL, Subject: "id1"}, "/projects/p1?tab=apps"}
	if len(got) != 1 || fmt.Sprint(got[0]) != fmt.Sprint(want) {
		t.Fatalf("Complete got %+v, want %+v", got, want)
	}
	u := e.user("alice")
	if u.Labels[LabelSSO] != "true" || u.Annotations[AnnotationIssuer] != e.idp.Server.URL || u.Annotations[AnnotationSubject] != "id1" {
		t.Errorf("labels %v annotations %v", u.Labels, u.Annotations)
	}
	if u.Spec.Email != "alice@example.com" || u.Spec.DisplayName != "Test alice" || !slices.Equal(u.Spec.Groups, []string{"dev", "ops"}) {
		t.Errorf("spec %+v", u.Spec)
	}
	if e.idp.Store.UserinfoCalls.Load() == 0 {
		t.Error("userinfo was not asked, though the ID token lacked email and name")
	}
	cb, _ := url.Parse(e.gantry.URL + Prefix + "callback")
	if cs := e.jar.Cookies(cb); len(cs) != 0 {
		t.Errorf("the login cookie outlived the login: %v", cs)
	}

	// Groups follow the provider: one removed upstream is removed here.
	e.idp.Store.Groups["id1"] = []string{"ops"}
	if status, body := e.signIn("/", "alice", nil); status != http.StatusOK {
		t.Fatalf("second login: %d %s", status, body)
	}
	if g := e.user("alice").Spec.Groups; !slices.Equal(g, []string{"ops"}) {
		t.Errorf("groups after the second login: %v", g)
	}
}

func TestSignInClaimsFromUserinfoOrIDToken(t *testing.T) {
	t.Run("groups only in userinfo", func(t *testing.T) {
		e := newEnv(t, envOptions{idp: func(s *ssotest.Storage) { s.GroupsInIDToken = false }})
		if status, body := e.signIn("/", "alice", nil); status != http.StatusOK {
			t.Fatalf("%d %s", status, body)
		}
		if g := e.completed()[0].login.Groups; !slices.Equal(g, []string{"dev", "ops"}) {
			t.Errorf("groups %v", g)
		}
	})
	t.Run("all in the ID token", func(t *testing.T) {
		e := newEnv(t, envOptions{idp: func(s *ssotest.Storage) { s.ClaimsInIDToken = true }})
		if status, body := e.signIn("/", "alice", nil); status != http.StatusOK {
			t.Fatalf("%d %s", status, body)
		}
		if l := e.completed()[0].login; l.Email != "alice@example.com" || len(l.Groups) != 2 {
			t.Errorf("login %+v", l)
		}
		if n := e.idp.Store.UserinfoCalls.Load(); n != 0 {
			t.Errorf("userinfo asked %d times though the ID token had every claim", n)
		}
	})
}

func TestOpenRedirectRefused(t *testing.T) {
	e := newEnv(t, envOptions{})
	if status, body := e.signIn("//evil.com/x", "alice", nil); status != http.StatusOK {
		t.Fatalf("%d %s", status, body)
	}
	if r := e.completed()[0].returnTo; r != "/" {
		t.Errorf("returnTo %q, want /", r)
	}
	// The raw query too, not only what LoginURL builds.
	e.browser.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := e.browser.Get(e.gantry.URL + Prefix + "login?return=" + url.QueryEscape("/\\evil.com"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	for _, c := range resp.Cookies() {
		if c.Name == cookieName && (!c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != Prefix || c.MaxAge != 600) {
			t.Errorf("cookie attributes %+v", c)
		}
	}
	p, err := e.h.seal.open(resp.Cookies()[0].Value, time.Now())
	if err != nil || p.Return != "/" {
		t.Errorf("sealed return %q (%v), want /", p.Return, err)
	}
}

func TestLocalPath(t *testing.T) {
	for in, want := range map[string]string{
		"/":                 "/",
		"/projects?x=1#top": "/projects?x=1#top",
		"":                  "/",
		"//evil.com":        "/",
		"/\\evil.com":       "/",
		"/\t/evil.com":      "/",
		"https://evil.com":  "/",
		"evil.com":          "/",
		"javascript:alert":  "/",
		"/a/b/../c":         "/a/b/../c",
	} {
		if got := LocalPath(in); got != want {
			t.Errorf("LocalPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestStateCookie(t *testing.T) {
	cb, _ := url.Parse("http://placeholder" + Prefix + "callback")
	t.Run("missing", func(t *testing.T) {
		e := newEnv(t, envOptions{})
		status, body := e.signIn("/", "alice", func() {
			cb.Host = e.gantry.Listener.Addr().String()
			e.jar.SetCookies(cb, []*http.Cookie{{Name: cookieName, Path: Prefix, MaxAge: -1}})
		})
		e.expectRefused(status, body, http.StatusBadRequest, "no sign-in cookie")
	})
	t.Run("tampered", func(t *testing.T) {
		e := newEnv(t, envOptions{})
		status, body := e.signIn("/", "alice", func() {
			cb.Host = e.gantry.Listener.Addr().String()
			c := e.jar.Cookies(cb)[0]
			v := []byte(c.Value)
			v[len(v)/2] ^= 1
			e.jar.SetCookies(cb, []*http.Cookie{{Name: cookieName, Value: string(v), Path: Prefix}})
		})
		e.expectRefused(status, body, http.StatusBadRequest, "not valid")
	})
	t.Run("another login's state", func(t *testing.T) {
		e := newEnv(t, envOptions{})
		state := e.startOnly(t)
		status, body, _ := e.get(e.gantry.URL + Prefix + "callback?code=x&state=" + url.QueryEscape(state+"x"))
		e.expectRefused(status, body, http.StatusBadRequest, "state does not match")
	})
}

// startOnly starts a login and returns its state, without visiting the provider.
func (e *env) startOnly(t *testing.T) string {
	t.Helper()
	noFollow := *e.browser
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := noFollow.Get(e.gantry.URL + e.h.LoginURL("/"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("login: %d %v", resp.StatusCode, err)
	}
	q := loc.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("nonce") == "" || q.Get("state") == "" {
		t.Fatalf("authorize request lacks PKCE, nonce or state: %s", loc)
	}
	return q.Get("state")
}

func TestProviderErrorShownEscaped(t *testing.T) {
	e := newEnv(t, envOptions{})
	state := e.startOnly(t)
	status, body, _ := e.get(e.gantry.URL + Prefix + "callback?error=access_denied&error_description=" +
		url.QueryEscape("<script>alert(1)</script>") + "&state=" + url.QueryEscape(state))
	e.expectRefused(status, body, http.StatusForbidden, "access_denied", "&lt;script&gt;")
	if strings.Contains(body, "<script>") {
		t.Errorf("unescaped: %s", body)
	}
}

func TestUnknownUserRefused(t *testing.T) {
	e := newEnv(t, envOptions{config: func(c *Config) { c.CreateUsers = false }})
	status, body := e.signIn("/", "alice", nil)
	e.expectRefused(status, body, http.StatusForbidden, "user alice is not known to gantry", "gantry user create alice --sso", "createUsers: true")
}

func TestExistingUserBound(t *testing.T) {
	e := newEnv(t, envOptions{config: func(c *Config) { c.CreateUsers = false },
		objects: []client.Object{&platformv1alpha1.User{ObjectMeta: metav1.ObjectMeta{Name: "alice"},
			Spec: platformv1alpha1.UserSpec{DisplayName: "Alice A.", Groups: []string{"stale"}}}}})
	if status, body := e.signIn("/", "alice", nil); status != http.StatusOK {
		t.Fatalf("%d %s", status, body)
	}
	u := e.user("alice")
	if u.Annotations[AnnotationSubject] != "id1" || u.Labels[LabelSSO] != "" {
		t.Errorf("labels %v annotations %v", u.Labels, u.Annotations)
	}
	if u.Spec.DisplayName != "Alice A." || u.Spec.Email != "alice@example.com" || !slices.Equal(u.Spec.Groups, []string{"dev", "ops"}) {
		t.Errorf("spec %+v", u.Spec)
	}
}

func TestDisabledUserRefused(t *testing.T) {
	e := newEnv(t, envOptions{objects: []client.Object{&platformv1alpha1.User{ObjectMeta: metav1.ObjectMeta{Name: "alice"},
		Spec: platformv1alpha1.UserSpec{Disabled: true}}}})
	status, body := e.signIn("/", "alice", nil)
	e.expectRefused(status, body, http.StatusForbidden, "user alice is disabled")
}

func TestAllowedGroups(t *testing.T) {
	e := newEnv(t, envOptions{config: func(c *Config) { c.AllowedGroups = []string{"admins"} }})
	status, body := e.signIn("/", "alice", nil)
	e.expectRefused(status, body, http.StatusForbidden, "not in any of the groups allowed", "dev, ops")
	if err := e.c.Get(context.Background(), client.ObjectKey{Name: "alice"}, &platformv1alpha1.User{}); err == nil {
		t.Error("a user outside allowedGroups was created")
	}

	e = newEnv(t, envOptions{config: func(c *Config) { c.AllowedGroups = []string{"admins", "ops"} }})
	if status, body := e.signIn("/", "alice", nil); status != http.StatusOK {
		t.Fatalf("member of an allowed group: %d %s", status, body)
	}
}

func TestLocalPasswordUserNotTakenOver(t *testing.T) {
	e := newEnv(t, envOptions{
		users: []idpUser{{ID: "id9", Username: "admin", Email: "mallory@example.com"}},
		objects: []client.Object{
			&platformv1alpha1.User{ObjectMeta: metav1.ObjectMeta{Name: "admin"}, Spec: platformv1alpha1.UserSpec{Username: "admin"}},
			&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "gantry-user-admin", Namespace: "gantry-system"}},
		}})
	status, body := e.signIn("/", "admin", nil)
	e.expectRefused(status, body, http.StatusForbidden, "user admin of gantry has a local password")
	if u := e.user("admin"); len(u.Annotations) != 0 || u.Spec.Email != "" {
		t.Errorf("the admin was changed: %+v %+v", u.Annotations, u.Spec)
	}
}

func TestSecondSubjectRefused(t *testing.T) {
	// Two upstream accounts whose names both map to "alice".
	e := newEnv(t, envOptions{users: []idpUser{alice, {ID: "id2", Username: "Alice", Email: "other@example.com"}}})
	if status, body := e.signIn("/", "alice", nil); status != http.StatusOK {
		t.Fatalf("first: %d %s", status, body)
	}
	e.mu.Lock()
	e.logins = nil
	e.mu.Unlock()
	status, body := e.signIn("/", "Alice", nil)
	e.expectRefused(status, body, http.StatusForbidden, "belongs to another account")
	if u := e.user("alice"); u.Annotations[AnnotationSubject] != "id1" || u.Spec.Email != "alice@example.com" {
		t.Errorf("alice was changed: %v %+v", u.Annotations, u.Spec)
	}
}

func TestUsernames(t *testing.T) {
	e := newEnv(t, envOptions{users: []idpUser{{ID: "id3", Username: "carol@example.com"}, {ID: "id4", Username: "Bob"}}})
	status, body := e.signIn("/", "carol@example.com", nil)
	e.expectRefused(status, body, http.StatusForbidden, "preferred_username", "carol@example.com", "usernameClaim")
	if status, body := e.signIn("/", "Bob", nil); status != http.StatusOK || body != "signed in as bob" {
		t.Fatalf("upper case name: %d %s", status, body)
	}
}

func TestProviderDownAtStart(t *testing.T) {
	e := newEnv(t, envOptions{idpDown: true})
	status, body := e.signIn("/", "alice", nil)
	e.expectRefused(status, body, http.StatusServiceUnavailable, "cannot reach the identity provider Upstream")

	e.idp.Down.Store(false)
	e.h.retryEvery = 0
	if status, body := e.signIn("/apps", "alice", nil); status != http.StatusOK {
		t.Fatalf("after the provider came up: %d %s", status, body)
	}
	if r := e.completed()[0].returnTo; r != "/apps" {
		t.Errorf("returnTo %q", r)
	}
}

// An identity provider (or whoever can name groups in it) must not hand out
// Kubernetes' system: groups nor gantry's own: they are dropped, with a log
// line naming each, when the user is created and when it is updated.
func TestReservedGroupsFromProviderDropped(t *testing.T) {
	evil := []string{"system:masters", "system:serviceaccounts", "gantry:admins", "gantry:project:prod:project-admin", "role:admin", "team:ops", "proj:prod:project-admin"}
	e := newEnv(t, envOptions{users: []idpUser{{ID: "id1", Username: "alice", Email: "alice@example.com",
		Groups: append([]string{"dev"}, evil...)}}})
	check := func(when string) {
		t.Helper()
		if g := e.user("alice").Spec.Groups; !slices.Equal(g, []string{"dev"}) {
			t.Errorf("%s: stored groups %v, want [dev]", when, g)
		}
		c := e.completed()
		if g := c[len(c)-1].login.Groups; !slices.Equal(g, []string{"dev"}) {
			t.Errorf("%s: the login carries groups %v, want [dev]", when, g)
		}
		e.mu.Lock()
		logs := strings.Join(e.logs, "\n")
		e.logs = nil
		e.mu.Unlock()
		for _, g := range evil {
			if !strings.Contains(logs, `"group"="`+g+`"`) {
				t.Errorf("%s: no log line names the dropped group %s", when, g)
			}
		}
	}
	if status, body := e.signIn("/", "alice", nil); status != http.StatusOK {
		t.Fatalf("%d %s", status, body)
	}
	check("created")
	// An admin (or an earlier gantry) stored a reserved group: the next login
	// replaces the groups with the provider's, reserved ones dropped again.
	u := e.user("alice")
	u.Spec.Groups = []string{"system:masters", "stale"}
	if err := e.c.Update(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	if status, body := e.signIn("/", "alice", nil); status != http.StatusOK {
		t.Fatalf("%d %s", status, body)
	}
	check("updated")
}

// Provision is where groups are stored: it drops reserved ones whoever calls it.
func TestProvisionDropsReservedGroups(t *testing.T) {
	c := fake.NewClientBuilder().WithScheme(newScheme(t)).Build()
	login := Login{Username: "bob", Issuer: "https://idp", Subject: "s1", Groups: []string{"system:masters", "ops", "gantry:admins"}}
	if err := Provision(context.Background(), c, Config{CreateUsers: true}, login); err != nil {
		t.Fatal(err)
	}
	u := &platformv1alpha1.User{}
	if err := c.Get(context.Background(), client.ObjectKey{Name: "bob"}, u); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(u.Spec.Groups, []string{"ops"}) {
		t.Errorf("stored groups %v, want [ops]", u.Spec.Groups)
	}
}
