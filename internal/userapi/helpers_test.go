package userapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/identity/authn"
	"gantry.dev/gantry/internal/identity/rbac"
	"gantry.dev/gantry/internal/identity/sessions"
	"gantry.dev/gantry/internal/kubetest"
)

func TestMain(m *testing.M) { os.Exit(kubetest.Main(m)) }

// tokenAuth maps bearer tokens to users (and scopes); groups are worked out
// from the CRDs at each request, as authn does.
type tokenAuth struct {
	groups *authn.Authenticator
	ids    map[string]authn.Identity
}

func (a *tokenAuth) Authenticate(r *http.Request) (authn.Identity, error) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		return authn.Identity{}, authn.ErrNoCredentials
	}
	id, ok := a.ids[tok]
	if !ok {
		return authn.Identity{}, errors.New("invalid token")
	}
	groups, err := a.groups.Groups(r.Context(), id.User)
	if err != nil {
		return authn.Identity{}, err
	}
	id.Groups = groups
	return id, nil
}

// Tokens of the test identities. admin is role:admin (built-in policy);
// the others have no role.
const (
	tAdmin      = "t-admin"
	tAdminToken = "t-admin-token" // the local admin token
	tAdminKey   = "t-admin-key"   // the admin's key scoped to project shop
	tAlice      = "t-alice"
	tAliceKey   = "t-alice-key" // alice's key scoped to project shop
	tBob        = "t-bob"
	tErin       = "t-erin" // a user TestPassword makes
)

var fixtureOnce sync.Once

type fixture struct {
	c       client.Client
	srv     *httptest.Server
	api     *API
	limiter *countLimiter
}

// countLimiter refuses after max failures.
type countLimiter struct {
	mu       sync.Mutex
	max      int
	failures map[string]int
}

func (l *countLimiter) Allow(user, ip string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.failures[user] < l.max, 30 * time.Second
}

func (l *countLimiter) Failed(user, ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failures[user]++
}

func (l *countLimiter) Succeeded(user, ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.failures, user)
}

// setup starts the API over the shared control plane, with password Secrets
// in a namespace of the test's own.
func setup(t *testing.T) *fixture {
	t.Helper()
	env := kubetest.Shared(t, kubetest.Options{CRDs: true})
	ctx := context.Background()
	// The shared client's default rate limit (5 requests a second) would
	// make these tests slow: authentication here reads the CRDs every time.
	cfg := rest.CopyConfig(env.Config)
	cfg.QPS, cfg.Burst = 1000, 1000
	c, err := client.New(cfg, client.Options{Scheme: kubetest.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	fixtureOnce.Do(func() {
		for _, u := range []string{"admin", "alice", "bob"} {
			err := c.Create(ctx, &platformv1alpha1.User{ObjectMeta: metav1.ObjectMeta{Name: u}})
			if err != nil && !apierrors.IsAlreadyExists(err) {
				t.Fatal(err)
			}
		}
	})
	e, err := rbac.New(rbac.Options{})
	if err != nil {
		t.Fatal(err)
	}
	shop := sessions.Scope{Project: "shop"}
	ids := map[string]authn.Identity{
		tAdmin: {User: "admin", Via: "session"}, tAdminToken: {User: "admin", Via: "admin-token"},
		tAdminKey: {User: "admin", Via: "accesskey", Scope: shop},
		tAlice:    {User: "alice", Via: "session"}, tAliceKey: {User: "alice", Via: "accesskey", Scope: shop},
		tBob: {User: "bob", Via: "session"}, tErin: {User: "u-erin", Via: "session"},
	}
	limiter := &countLimiter{max: 3, failures: map[string]int{}}
	api := &API{Client: c, Auth: &tokenAuth{groups: &authn.Authenticator{Users: c}, ids: ids},
		Authorize: e.Authorize, Namespace: env.Namespace(t), Limiter: limiter}
	mux := http.NewServeMux()
	for _, p := range []string{UsersPrefix, TeamsPrefix} {
		mux.Handle(p, api)
		mux.Handle(p+"/", api)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &fixture{c: c, srv: srv, api: api, limiter: limiter}
}

// reply is an answer: code, raw body and the body decoded.
type reply struct {
	code int
	raw  string
	body map[string]any
}

func (r reply) msg() string { s, _ := r.body["message"].(string); return s }

// call sends body (a string as is, anything else as JSON) with token.
func (f *fixture) call(t *testing.T, method, path, token string, body any) reply {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, f.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	out := reply{code: resp.StatusCode, raw: string(data)}
	_ = json.Unmarshal(data, &out.body)
	return out
}

// want fails unless the reply has code and, when given, a message containing msg.
func (r reply) want(t *testing.T, code int, msg string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("got %d %s, want %d", r.code, r.raw, code)
	}
	if msg != "" && !strings.Contains(r.msg(), msg) {
		t.Fatalf("message %q does not mention %q", r.msg(), msg)
	}
}

// exists says whether obj (a User or Team, by name) exists.
func (f *fixture) exists(t *testing.T, obj client.Object, name string) bool {
	t.Helper()
	err := f.c.Get(context.Background(), client.ObjectKey{Name: name}, obj)
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	return err == nil
}

func names(r reply) []string {
	var out []string
	items, _ := r.body["items"].([]any)
	for _, it := range items {
		m, _ := it.(map[string]any)
		out = append(out, m["name"].(string))
	}
	return out
}
