package sso

import (
	"context"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// The upstream in these tests is zitadel's example OpenID provider, a real
// one: discovery, authorize, its login form, token, keys, userinfo. Its
// storage knows no groups, so upstreamStorage wraps it to add a "groups"
// claim (and scope), as Dex or Keycloak send.

func TestMain(m *testing.M) {
	// The example provider logs every request through slog's default logger.
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	os.Exit(m.Run())
}

const (
	idpClientID     = "gantry"
	idpClientSecret = "gantry-client-secret"
	idpPassword     = "verysecure"
)

type idpUser struct {
	id, username, email string
	groups              []string
}

// userStore implements storage.UserStore over a fixed list.
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

// upstreamStorage is the example storage plus groups.
type upstreamStorage struct {
	*storage.Storage
	groups map[string][]string // by user ID
	// groupsInIDToken puts groups in the ID token too, not only in userinfo.
	groupsInIDToken bool
	// claimsInIDToken makes the provider put profile and email claims in the
	// ID token (by default it leaves them to userinfo, as OIDC Core 5.4 lets it).
	claimsInIDToken bool
	userinfoCalls   atomic.Int32
}

type upstreamClient struct {
	op.Client
	claimsInIDToken bool
}

func (c upstreamClient) IsScopeAllowed(scope string) bool {
	return scope == "groups" || c.Client.IsScopeAllowed(scope)
}
func (c upstreamClient) IDTokenUserinfoClaimsAssertion() bool { return c.claimsInIDToken }

func (s *upstreamStorage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.Storage.GetClientByClientID(ctx, id)
	if err != nil {
		return nil, err
	}
	return upstreamClient{c, s.claimsInIDToken}, nil
}

func (s *upstreamStorage) SetUserinfoFromRequest(ctx context.Context, ui *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	if err := s.Storage.SetUserinfoFromRequest(ctx, ui, req, scopes); err != nil {
		return err
	}
	if s.groupsInIDToken && slices.Contains(scopes, "groups") {
		ui.AppendClaims("groups", s.groups[req.GetSubject()])
	}
	return nil
}

func (s *upstreamStorage) SetUserinfoFromToken(ctx context.Context, ui *oidc.UserInfo, tokenID, subject, origin string) error {
	s.userinfoCalls.Add(1)
	if err := s.Storage.SetUserinfoFromToken(ctx, ui, tokenID, subject, origin); err != nil {
		return err
	}
	if g, ok := s.groups[ui.Subject]; ok {
		ui.AppendClaims("groups", g)
	}
	return nil
}

// idp is a running upstream provider.
type idp struct {
	srv     *httptest.Server
	store   *upstreamStorage
	handler atomic.Pointer[http.Handler]
	down    atomic.Bool
	rootCA  string
}

// startIDP serves the example provider over TLS (its own test CA, handed to
// gantry as rootCA) with a client registered for redirectURL.
func startIDP(t *testing.T, redirectURL string, users []idpUser, configure func(*upstreamStorage)) *idp {
	t.Helper()
	p := &idp{}
	p.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.down.Load() {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		(*p.handler.Load()).ServeHTTP(w, r)
	}))
	p.srv.StartTLS()
	t.Cleanup(p.srv.Close)
	p.rootCA = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.srv.Certificate().Raw}))

	us := userStore{users: map[string]*storage.User{}}
	groups := map[string][]string{}
	for _, u := range users {
		us.users[u.id] = &storage.User{ID: u.id, Username: u.username, Password: idpPassword,
			FirstName: "Test", LastName: u.username, Email: u.email, EmailVerified: true}
		groups[u.id] = u.groups
	}
	clients := map[string]*storage.Client{idpClientID: storage.WebClient(idpClientID, idpClientSecret, redirectURL)}
	p.store = &upstreamStorage{Storage: storage.NewStorageWithClients(us, clients), groups: groups, groupsInIDToken: true}
	if configure != nil {
		configure(p.store)
	}
	var h http.Handler = exampleop.SetupServer(p.srv.URL, p.store, nil, false)
	p.handler.Store(&h)
	return p
}
