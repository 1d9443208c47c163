package projectapi

import (
	"context"
	"os"
	"sync"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/api/apitest"
	"gantry.dev/gantry/internal/identity/accesskeys"
	"gantry.dev/gantry/internal/identity/authn"
)

func TestMain(m *testing.M) { os.Exit(apitest.Main(m)) }

// Tokens of the test identities. admin is role:admin (built-in policy);
// the others get their rights from the projects each test makes.
const (
	tAdmin    = "t-admin"
	tAlice    = "t-alice"   // project-admin where a test makes her one
	tVictor   = "t-victor"  // project-viewer
	tMallory  = "t-mallory" // no role anywhere
	tTina     = "t-tina"    // in team web
	tAdminKey = "t-admin-key-"
)

var fixtureOnce sync.Once

type fixture struct {
	*apitest.Env
	c   client.Client
	api *API
}

// setup starts the API over the shared control plane. scoped are projects
// for which the admin gets a key scoped to them: token tAdminKey+project.
// Groups and project policies are read from the CRDs at every request, as
// the platform keeps them.
func setup(t *testing.T, scoped ...string) *fixture {
	t.Helper()
	env := apitest.New(t, apitest.Options{GroupsFromCRDs: true, ProjectsFromCRDs: true})
	c := env.Direct
	fixtureOnce.Do(func() {
		ctx := context.Background()
		for _, u := range []string{"admin", "alice", "victor", "mallory", "tina", "bob"} {
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
	for tok, user := range map[string]string{tAdmin: "admin", tAlice: "alice", tVictor: "victor", tMallory: "mallory", tTina: "tina"} {
		env.Tokens.Set(tok, authn.Identity{User: user, Via: "session"})
	}
	for _, p := range scoped {
		env.Tokens.Set(tAdminKey+p, authn.Identity{User: "admin", Via: "accesskey", Scope: accesskeys.Scope{Project: p}})
	}
	api := &API{Client: c, Namespace: env.Kube.Namespace(t)}
	api.Register(env.Router)
	return &fixture{Env: env, c: c, api: api}
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

// call sends body (a string as is, anything else as JSON) with token.
func (f *fixture) call(t *testing.T, method, path, token string, body any) apitest.Reply {
	t.Helper()
	return f.Do(token, method, path, body)
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

func ptr[T any](v T) *T { return &v }
