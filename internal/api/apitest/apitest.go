// Package apitest is the fixture of API tests: a real API server (kubetest),
// the API under test registered on a real api.Router with a real RBAC
// enforcer, served over HTTP, and callers named by bearer token. Test
// support only: imported by _test files.
//
//	func TestMain(m *testing.M) { os.Exit(apitest.Main(m)) }
//
//	env := apitest.New(t, apitest.Options{Policy: "g, root, role:admin\n"})
//	env.Tokens.Set("alice", authn.Identity{User: "alice", Via: "session"})
//	(&API{Client: env.Direct}).Register(env.Router)
//	env.Expect("alice", "GET", "/api/v1/things", nil, 200, `"items"`)
package apitest

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/api"
	"gantry.dev/gantry/internal/identity/authn"
	"gantry.dev/gantry/internal/identity/rbac"
	"gantry.dev/gantry/internal/identity/rbacconfig"
	"gantry.dev/gantry/internal/kubetest"
)

// Main runs a test package whose tests use New: the shared API server is
// stopped at the end, and controller-runtime's logger is silenced (informers
// log through it).
func Main(m *testing.M) int {
	ctrllog.SetLogger(logr.Discard())
	return kubetest.Main(m)
}

// Options shape an Env.
type Options struct {
	// Policy is the user policy (policy.csv of gantry-rbac-cm).
	Policy string
	// Projects are the project policies: members per project name.
	Projects map[string][]rbac.Member
	// ProjectsFromCRDs makes every decision read the Projects first and take
	// their members, as the platform does when the Project reconciler runs.
	ProjectsFromCRDs bool
	// GroupsFromCRDs gives each caller the groups authn gives (teams, project
	// roles), read from the CRDs at each request.
	GroupsFromCRDs bool
	// Cache starts informers and a cached client (Cached), as gantry's
	// manager has: for APIs that read from the cache or stream its changes.
	Cache bool
	// HTTP2 serves over TLS with HTTP/2, as browsers reach gantry.
	HTTP2 bool
}

// Env is one API under test.
type Env struct {
	// Client calls Server.
	*Client
	T    *testing.T
	Kube *kubetest.Env
	// Direct reads and writes the API server without a cache: the truth.
	Direct client.Client
	// Cached and Informers are set with Options.Cache.
	Cached    client.Client
	Informers cache.Cache
	Tokens    *Tokens
	Enforcer  *rbac.Enforcer
	// Authorize is what the router authorizes with.
	Authorize api.Authorize
	Router    *api.Router
	// Server serves Router.
	Server *httptest.Server
}

var names atomic.Int32

// Unique returns prefix with a number no other call in this test binary
// returned, for names of projects and objects that tests share the API
// server with.
func Unique(prefix string) string { return prefix + strconv.Itoa(int(names.Add(1))) }

// New starts an Env on the package's shared API server. Register the API on
// env.Router; env.Server serves it already.
func New(t *testing.T, opts Options) *Env {
	t.Helper()
	kube := kubetest.Shared(t, kubetest.Options{CRDs: true})
	// client-go's default rate limit (5 requests a second) would make these
	// tests slow: authentication and RBAC may read the CRDs at every request.
	cfg := rest.CopyConfig(kube.Config)
	cfg.QPS, cfg.Burst = 1000, 1000
	direct, err := client.New(cfg, client.Options{Scheme: kubetest.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	e := &Env{T: t, Kube: kube, Direct: direct, Tokens: &Tokens{}}
	if opts.GroupsFromCRDs {
		e.Tokens.groups = &authn.Authenticator{Users: direct}
	}
	if opts.Cache {
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		if e.Informers, err = cache.New(cfg, cache.Options{Scheme: kubetest.Scheme()}); err != nil {
			t.Fatal(err)
		}
		go func() { _ = e.Informers.Start(ctx) }()
		if e.Cached, err = client.New(cfg, client.Options{Scheme: kubetest.Scheme(), Cache: &client.CacheOptions{Reader: e.Informers}}); err != nil {
			t.Fatal(err)
		}
	}
	if e.Enforcer, err = rbac.New(rbac.Options{}); err != nil {
		t.Fatal(err)
	}
	if err := e.Enforcer.SetPolicy(opts.Policy, "", ""); err != nil {
		t.Fatal(err)
	}
	policies := map[string]string{}
	for p, members := range opts.Projects {
		policies[p] = rbac.ProjectPolicy(p, members)
	}
	if err := e.Enforcer.SetProjectPolicies(policies); err != nil {
		t.Fatal(err)
	}
	e.Authorize = e.Enforcer.Authorize
	if opts.ProjectsFromCRDs {
		e.Authorize = e.authorizeFromCRDs
	}
	e.Router = api.NewRouter(e.Tokens, e.Authorize)
	e.Server = httptest.NewUnstartedServer(e.Router)
	if opts.HTTP2 {
		e.Server.EnableHTTP2 = true
		e.Server.StartTLS()
	} else {
		e.Server.Start()
	}
	e.Client = &Client{T: t, URL: e.Server.URL, HTTP: e.Server.Client()}
	t.Cleanup(e.Server.Close)
	return e
}

// authorizeFromCRDs sets the project policies from the Projects, then decides.
func (e *Env) authorizeFromCRDs(subjects []string, resource, action, object string) error {
	var list platformv1alpha1.ProjectList
	if err := e.Direct.List(context.Background(), &list); err != nil {
		return err
	}
	if err := rbacconfig.SetProjects(e.Enforcer, list.Items); err != nil {
		return err
	}
	return e.Enforcer.Authorize(subjects, resource, action, object)
}

// SetProjects replaces the project policies (members per project).
func (e *Env) SetProjects(projects map[string][]rbac.Member) {
	e.T.Helper()
	policies := map[string]string{}
	for p, members := range projects {
		policies[p] = rbac.ProjectPolicy(p, members)
	}
	if err := e.Enforcer.SetProjectPolicies(policies); err != nil {
		e.T.Fatal(err)
	}
}

// MustCreate creates o on the API server, failing the test on an error.
func (e *Env) MustCreate(o client.Object) {
	e.T.Helper()
	if err := e.Direct.Create(context.Background(), o); err != nil {
		e.T.Fatal(err)
	}
}

// Eventually waits up to ten seconds for cond.
func (e *Env) Eventually(what string, cond func() bool) {
	e.T.Helper()
	Eventually(e.T, 10*time.Second, what, cond)
}

// Eventually waits up to within for cond, failing the test after.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Tokens is the Env's authenticator: a bearer token names a caller.
type Tokens struct {
	mu  sync.RWMutex
	ids map[string]authn.Identity
	// groups, when set, fills in the caller's groups from the CRDs.
	groups *authn.Authenticator
}

// Set makes token authenticate as id.
func (t *Tokens) Set(token string, id authn.Identity) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ids == nil {
		t.ids = map[string]authn.Identity{}
	}
	t.ids[token] = id
}

// Revoke makes token fail from now on (a stream checks it at its heartbeat).
func (t *Tokens) Revoke(token string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.ids, token)
}

// Authenticate reads "Authorization: Bearer <token>", as authn does.
func (t *Tokens) Authenticate(r *http.Request) (authn.Identity, error) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		return authn.Identity{}, authn.ErrNoCredentials
	}
	t.mu.RLock()
	id, ok := t.ids[tok]
	t.mu.RUnlock()
	if !ok {
		return authn.Identity{}, errors.New("invalid token")
	}
	if t.groups != nil {
		groups, err := t.groups.Groups(r.Context(), id.User)
		if err != nil {
			return authn.Identity{}, err
		}
		id.Groups = groups
	}
	return id, nil
}
