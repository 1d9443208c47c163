// Package ssotest runs a real upstream OpenID Connect provider for tests:
// zitadel's example provider (discovery, authorize, its login form, token,
// keys, userinfo) over TLS, with a "groups" claim added as Dex or Keycloak send
// it. gantry's SSO tests and its end-to-end tests log in through it. Test
// support only: imported by _test files, never by gantry itself.
package ssotest

import (
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

const (
	// ClientID and ClientSecret are the client registered for gantry.
	ClientID     = "gantry"
	ClientSecret = "gantry-client-secret"
	// Password is every user's password.
	Password = "verysecure"
)

// User is an account of the provider.
type User struct {
	ID, Username, Email string
	Groups              []string
}

type userStore struct{ users map[string]*storage.User }

func (s userStore) GetUserByID(id string) *storage.User { return s.users[id] }
func (s userStore) GetUserByUsername(name string) *storage.User {
	for _, u := range s.users {
		if u.Username == name {
			return u
		}
	}
	return nil
}
func (s userStore) ExampleClientID() string { return storage.ServiceUserID }

// Storage is the example storage plus groups.
type Storage struct {
	*storage.Storage
	// Groups by user ID.
	Groups map[string][]string
	// GroupsInIDToken puts groups in the ID token too, not only in userinfo.
	GroupsInIDToken bool
	// ClaimsInIDToken makes the provider put profile and email claims in the
	// ID token (by default it leaves them to userinfo, as OIDC Core 5.4 lets it).
	ClaimsInIDToken bool
	UserinfoCalls   atomic.Int32
}

type client struct {
	op.Client
	claimsInIDToken bool
}

func (c client) IsScopeAllowed(scope string) bool {
	return scope == "groups" || c.Client.IsScopeAllowed(scope)
}
func (c client) IDTokenUserinfoClaimsAssertion() bool { return c.claimsInIDToken }

func (s *Storage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.Storage.GetClientByClientID(ctx, id)
	if err != nil {
		return nil, err
	}
	return client{c, s.ClaimsInIDToken}, nil
}

func (s *Storage) SetUserinfoFromRequest(ctx context.Context, ui *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	if err := s.Storage.SetUserinfoFromRequest(ctx, ui, req, scopes); err != nil {
		return err
	}
	if s.GroupsInIDToken && slices.Contains(scopes, "groups") {
		ui.AppendClaims("groups", s.Groups[req.GetSubject()])
	}
	return nil
}

func (s *Storage) SetUserinfoFromToken(ctx context.Context, ui *oidc.UserInfo, tokenID, subject, origin string) error {
	s.UserinfoCalls.Add(1)
	if err := s.Storage.SetUserinfoFromToken(ctx, ui, tokenID, subject, origin); err != nil {
		return err
	}
	if g, ok := s.Groups[ui.Subject]; ok {
		ui.AppendClaims("groups", g)
	}
	return nil
}

// IdP is a running provider.
type IdP struct {
	Server *httptest.Server
	Store  *Storage
	// Down makes every request fail with 503 while set.
	Down atomic.Bool
	// RootCA is the PEM of the provider's test CA.
	RootCA  string
	handler atomic.Pointer[http.Handler]
}

// URL is the issuer.
func (p *IdP) URL() string { return p.Server.URL }

// Start serves the provider over TLS with ClientID registered for redirectURL.
// It stops when the test ends.
func Start(t testing.TB, redirectURL string, users []User, configure func(*Storage)) *IdP {
	t.Helper()
	p := &IdP{}
	p.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.Down.Load() {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		(*p.handler.Load()).ServeHTTP(w, r)
	}))
	p.Server.StartTLS()
	t.Cleanup(p.Server.Close)
	p.RootCA = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.Server.Certificate().Raw}))

	us := userStore{users: map[string]*storage.User{}}
	groups := map[string][]string{}
	for _, u := range users {
		us.users[u.ID] = &storage.User{ID: u.ID, Username: u.Username, Password: Password,
			FirstName: "Test", LastName: u.Username, Email: u.Email, EmailVerified: true}
		groups[u.ID] = u.Groups
	}
	clients := map[string]*storage.Client{ClientID: storage.WebClient(ClientID, ClientSecret, redirectURL)}
	p.Store = &Storage{Storage: storage.NewStorageWithClients(us, clients), Groups: groups, GroupsInIDToken: true}
	if configure != nil {
		configure(p.Store)
	}
	var h http.Handler = exampleop.SetupServer(p.Server.URL, p.Store, nil, false)
	p.handler.Store(&h)
	return p
}

var formID = regexp.MustCompile(`name="id" value="([^"]+)"`)

// LoginForm returns the auth request id of the provider's login page body, or "".
func LoginForm(body string) string {
	if m := formID.FindStringSubmatch(body); m != nil {
		return m[1]
	}
	return ""
}

// SubmitLogin fills in the login form of auth request id as username, as a
// browser would, and returns the answer (after redirects, if the client follows them).
func (p *IdP) SubmitLogin(browser *http.Client, id, username string) (*http.Response, error) {
	return browser.PostForm(p.Server.URL+"/login/username",
		url.Values{"id": {id}, "username": {username}, "password": {Password}})
}
