package projectapi

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
// the others get their rights from the projects each test makes.
const (
	tAdmin    = "t-admin"
	tAlice    = "t-alice"   // project-admin where a test makes her one
	tVictor   = "t-victor"  // project-viewer
	tMallory  = "t-mallory" // no role anywhere
	tCarol    = "t-carol"   // may get cluster https://prod.example.com by policy.csv
	tTina     = "t-tina"    // in team web
	tAdminKey = "t-admin-key-"
)

var fixtureOnce sync.Once

type fixture struct {
	c   client.Client
	srv *httptest.Server
	api *API
}

// setup starts the API over the shared control plane. scoped are projects
// for which the admin gets a key scoped to them: token tAdminKey+project.
func setup(t *testing.T, scoped ...string) *fixture {
	t.Helper()
	env := kubetest.Shared(t, kubetest.Options{CRDs: true})
	ctx := context.Background()
	// The shared client's default rate limit (5 requests a second) would
	// make these tests slow: RBAC here reads the CRDs at every decision.
	cfg := rest.CopyConfig(env.Config)
	cfg.QPS, cfg.Burst = 1000, 1000
	c, err := client.New(cfg, client.Options{Scheme: kubetest.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	fixtureOnce.Do(func() {
		for _, u := range []string{"admin", "alice", "victor", "mallory", "carol", "tina", "bob"} {
			err := c.Create(ctx, &platformv1alpha1.User{ObjectMeta: metav1.ObjectMeta{Name: u}})
			if err != nil && !apierrors.IsAlreadyExists(err) {
				t.Fatal(err)
			}
		}
		err := c.Create(ctx, &platformv1alpha1.Team{ObjectMeta: metav1.ObjectMeta{Name: "web"},
			Spec: platformv1alpha1.TeamSpec{Users: []string{"tina"}}})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	})
	e, err := rbac.New(rbac.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.SetPolicy("p, carol, clusters, get, https://prod.example.com, allow\n", "", ""); err != nil {
		t.Fatal(err)
	}
	// The platform refreshes project policies when the reconciler runs; here,
	// before every decision.
	authorize := func(subjects []string, resource, action, object string) error {
		var list platformv1alpha1.ProjectList
		if err := c.List(ctx, &list); err != nil {
			return err
		}
		policies := map[string]string{}
		for _, p := range list.Items {
			var members []rbac.Member
			for _, m := range p.Spec.Members {
				members = append(members, rbac.Member{Kind: rbac.MemberKind(m.Kind), Name: m.Name, Role: rbac.ProjectRole(m.Role)})
			}
			policies[p.Name] = rbac.ProjectPolicy(p.Name, members)
		}
		_ = e.SetProjectPolicies(policies)
		return e.Authorize(subjects, resource, action, object)
	}
	ids := map[string]authn.Identity{
		tAdmin: {User: "admin", Via: "session"}, tAlice: {User: "alice", Via: "session"},
		tVictor: {User: "victor", Via: "session"}, tMallory: {User: "mallory", Via: "session"},
		tCarol: {User: "carol", Via: "session"}, tTina: {User: "tina", Via: "session"},
	}
	for _, p := range scoped {
		ids[tAdminKey+p] = authn.Identity{User: "admin", Via: "accesskey", Scope: sessions.Scope{Project: p}}
	}
	api := &API{Client: c, Auth: &tokenAuth{groups: &authn.Authenticator{Users: c}, ids: ids},
		Authorize: authorize, Namespace: env.Namespace(t)}
	mux := http.NewServeMux()
	mux.Handle(Prefix, api)
	mux.Handle(Prefix+"/", api)
	mux.Handle(ClustersPrefix, api)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &fixture{c: c, srv: srv, api: api}
}

// project makes a project with members, deleted when the test ends.
func (f *fixture) project(t *testing.T, name string, members ...platformv1alpha1.Member) *platformv1alpha1.Project {
	t.Helper()
	p := &platformv1alpha1.Project{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: platformv1alpha1.ProjectSpec{Members: members}}
	if err := f.c.Create(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.c.Delete(context.Background(), p) })
	return p
}

func user(name string, role platformv1alpha1.ProjectRole) platformv1alpha1.Member {
	return platformv1alpha1.Member{Kind: platformv1alpha1.MemberUser, Name: name, Role: role}
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

func (f *fixture) get(t *testing.T, name string) *platformv1alpha1.Project {
	t.Helper()
	p := &platformv1alpha1.Project{}
	if err := f.c.Get(context.Background(), client.ObjectKey{Name: name}, p); err != nil {
		t.Fatal(err)
	}
	return p
}

func (f *fixture) exists(t *testing.T, name string) bool {
	t.Helper()
	err := f.c.Get(context.Background(), client.ObjectKey{Name: name}, &platformv1alpha1.Project{})
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

func ptr[T any](v T) *T { return &v }
