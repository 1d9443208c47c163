package appsetapi

import (
	"context"
	"os"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/api/apitest"
	"gantry.dev/gantry/internal/identity/accesskeys"
	"gantry.dev/gantry/internal/identity/authn"
	"gantry.dev/gantry/internal/identity/rbac"
	"gantry.dev/gantry/internal/project"
)

func TestMain(m *testing.M) { os.Exit(apitest.Main(m)) }

// fixture: projects A (alice admin, victor viewer) and B (bob admin), each with
// a set; root is a global admin. A real API server and a real enforcer.
type fixture struct {
	*apitest.Env
	t    *testing.T
	A, B string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	A, B := apitest.Unique("alpha"), apitest.Unique("beta")
	f := &fixture{t: t, A: A, B: B, Env: apitest.New(t, apitest.Options{
		Policy: "g, root, role:admin\n",
		Projects: map[string][]rbac.Member{
			A: {{Kind: rbac.MemberUser, Name: "alice", Role: rbac.ProjectAdmin}, {Kind: rbac.MemberUser, Name: "victor", Role: rbac.ProjectViewer}},
			B: {{Kind: rbac.MemberUser, Name: "bob", Role: rbac.ProjectAdmin}},
		},
	})}
	for _, u := range []string{"alice", "victor", "bob", "root"} {
		f.Tokens.Set(u, authn.Identity{User: u, Via: "session"})
	}
	f.Tokens.Set("alice-B", authn.Identity{User: "alice", Via: "accesskey", Scope: accesskeys.Scope{Project: B}})
	(&API{Client: f.Direct, DefaultNamespace: project.Namespace(A)}).Register(f.Router)
	for _, p := range []string{A, B} {
		f.MustCreate(&platformv1alpha1.Project{ObjectMeta: metav1.ObjectMeta{Name: p}})
		if err := f.Direct.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: project.Namespace(p)}}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	f.must("root", "POST", "", f.set("a1", A), 200)
	f.must("root", "POST", "?appsetNamespace="+project.Namespace(B), f.set("b1", B), 200)
	return f
}

// set is an ApplicationSet manifest as a client sends it.
func (f *fixture) set(name, proj string) map[string]any {
	return map[string]any{
		"apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet",
		"metadata": map[string]any{"name": name},
		"spec": map[string]any{
			"generators": []any{map[string]any{"list": map[string]any{"elements": []any{map[string]any{"env": "dev"}}}}},
			"template": map[string]any{
				"metadata": map[string]any{"name": "web-{{env}}"},
				"spec": map[string]any{
					"project":     proj,
					"source":      map[string]any{"repoURL": "https://git.example/shop.git", "path": "web"},
					"destination": map[string]any{"server": "https://kubernetes.default.svc", "namespace": "{{env}}"},
				},
			},
		},
	}
}

// call sends a request as token ("" = none) and returns the status and body.
func (f *fixture) call(token, method, path string, body any) (int, map[string]any) {
	f.t.Helper()
	r := f.Do(token, method, Prefix+path, body)
	return r.Code, r.JSON
}

func (f *fixture) must(token, method, path string, body any, code int) map[string]any {
	f.t.Helper()
	return f.Expect(token, method, Prefix+path, body, code).JSON
}

func names(list map[string]any) []string {
	var out []string
	items, _ := list["items"].([]any)
	for _, it := range items {
		m, _ := it.(map[string]any)["metadata"].(map[string]any)
		out = append(out, m["name"].(string))
	}
	return out
}

func TestAuthn(t *testing.T) {
	f := newFixture(t)
	if code, body := f.call("", "GET", "", nil); code != 401 || !strings.Contains(body["message"].(string), "Unauthorized") {
		t.Errorf("no token: %d %v", code, body)
	}
	if code, _ := f.call("nobody", "GET", "/a1", nil); code != 401 {
		t.Errorf("bad token: %d", code)
	}
}

func TestListFiltered(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct {
		token, query string
		want         []string
	}{
		{"alice", "?appsetNamespace=" + project.Namespace(f.A), []string{"a1"}},
		{"victor", "?appsetNamespace=" + project.Namespace(f.A), []string{"a1"}},
		{"bob", "?appsetNamespace=" + project.Namespace(f.A), nil},
		{"bob", "?appsetNamespace=" + project.Namespace(f.B), []string{"b1"}},
		{"alice-B", "?appsetNamespace=" + project.Namespace(f.A), nil},
		{"root", "?projects=" + f.B, []string{"b1"}},
	} {
		got := names(f.must(c.token, "GET", c.query, nil, 200))
		if strings.Join(got, ",") != strings.Join(c.want, ",") {
			t.Errorf("list%s as %s: %v, want %v", c.query, c.token, got, c.want)
		}
	}
	// Across namespaces, each sees only its own project's sets.
	for _, name := range names(f.must("bob", "GET", "", nil, 200)) {
		if name == "a1" {
			t.Errorf("bob sees a1")
		}
	}
}

func TestGet(t *testing.T) {
	f := newFixture(t)
	got := f.must("victor", "GET", "/a1", nil, 200)
	if got["kind"] != "ApplicationSet" || got["apiVersion"] != "gitops.gantry.dev/v1alpha1" {
		t.Errorf("get: %v %v", got["kind"], got["apiVersion"])
	}
	f.must("bob", "GET", "/a1", nil, 403)
	f.must("alice-B", "GET", "/a1", nil, 403)
	f.must("bob", "GET", "/b1?appsetNamespace="+project.Namespace(f.B), nil, 200)
	if _, body := f.call("alice", "GET", "/nope", nil); !strings.Contains(body["message"].(string), `"nope" not found`) {
		t.Errorf("missing: %v", body)
	}
	f.must("alice", "PUT", "/a1", nil, 405)
	f.must("alice", "GET", "/a1/x", nil, 404)
}

func TestCreateUpsertDelete(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	set := f.set("web", f.A)
	out := f.must("alice", "POST", "", set, 200)
	if out["apiVersion"] != "gitops.gantry.dev/v1alpha1" {
		t.Errorf("created as %v", out["apiVersion"])
	}
	stored := &gitopsv1alpha1.ApplicationSet{}
	if err := f.Direct.Get(ctx, types.NamespacedName{Namespace: project.Namespace(f.A), Name: "web"}, stored); err != nil {
		t.Fatal(err)
	}
	// Again: refused without upsert, replaced with it.
	if code, body := f.call("alice", "POST", "", set); code != 409 || !strings.Contains(body["message"].(string), "upsert") {
		t.Errorf("create twice: %d %v", code, body)
	}
	set["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["source"].(map[string]any)["path"] = "api"
	f.must("victor", "POST", "?upsert=true", set, 403)
	f.must("alice", "POST", "?upsert=true", set, 200)
	if err := f.Direct.Get(ctx, types.NamespacedName{Namespace: project.Namespace(f.A), Name: "web"}, stored); err != nil || stored.Spec.Template.Spec.Source.Path != "api" {
		t.Errorf("after upsert: %v %+v", err, stored.Spec.Template.Spec.Source)
	}
	// Delete: a viewer may not, the admin may.
	f.must("victor", "DELETE", "/web", nil, 403)
	f.must("bob", "DELETE", "/web", nil, 403)
	f.must("alice", "DELETE", "/web", nil, 200)
	if err := f.Direct.Get(ctx, types.NamespacedName{Namespace: project.Namespace(f.A), Name: "web"}, stored); !apierrors.IsNotFound(err) {
		t.Errorf("after delete: %v", err)
	}
	f.must("alice", "DELETE", "/web", nil, 404)
}

func TestCreateRefused(t *testing.T) {
	f := newFixture(t)
	withSpec := func(fn func(spec map[string]any)) map[string]any {
		s := f.set("x", f.A)
		fn(s["spec"].(map[string]any))
		return s
	}
	tmplSpec := func(spec map[string]any) map[string]any {
		return spec["template"].(map[string]any)["spec"].(map[string]any)
	}
	for _, c := range []struct {
		name, token string
		body        any
		code        int
		msg         string
	}{
		{"viewer", "victor", f.set("x", f.A), 403, ""},
		{"other project", "bob", f.set("x", f.A), 403, ""},
		{"scoped key", "alice-B", f.set("x", f.A), 403, "scoped"},
		{"empty", "alice", "", 400, "empty"},
		{"not JSON", "alice", "{", 400, "not a JSON object"},
		{"kind", "alice", map[string]any{"kind": "Application", "metadata": map[string]any{"name": "x"}}, 400, `"Application", not an ApplicationSet`},
		{"apiVersion", "alice", map[string]any{"apiVersion": "v1", "kind": "ApplicationSet"}, 400, "apiVersion"},
		{"no name", "alice", func() any { s := f.set("", f.A); return s }(), 400, "metadata.name is required"},
		{"bad name", "alice", f.set("Web_1", f.A), 400, "metadata.name"},
		{"no generators", "alice", withSpec(func(s map[string]any) { delete(s, "generators") }), 400, "spec.generators"},
		{"no project", "alice", withSpec(func(s map[string]any) { delete(tmplSpec(s), "project") }), 400, "spec.template.spec.project is required"},
		{"templated project", "alice", withSpec(func(s map[string]any) { tmplSpec(s)["project"] = "{{p}}" }), 400, "templated"},
		{"project of another namespace", "root", withNamespace(f.set("x", f.B), project.Namespace(f.A)), 400, "belongs to project"},
		{"namespace of another project", "root", withNamespace(f.set("x", f.A), project.Namespace(f.B)), 400, "belongs to project \"" + f.B + "\", not to project \"" + f.A + "\""},
		{"namespace of no project", "root", withNamespace(f.set("x", f.A), "gantry-system"), 400, "namespace gantry-system belongs to no project"},
		{"missing project", "root", f.set("x", "nope"), 400, ""},
		{"wrong type", "alice", withSpec(func(s map[string]any) { s["goTemplate"] = "yes" }), 400, "goTemplate"},
	} {
		code, body := f.call(c.token, "POST", "", c.body)
		msg, _ := body["message"].(string)
		if code != c.code || !strings.Contains(msg, c.msg) {
			t.Errorf("%s: %d %q, want %d %q", c.name, code, msg, c.code, c.msg)
		}
	}
	// A namespace that is no project's, named in the query.
	code, body := f.call("root", "POST", "?appsetNamespace=default", f.set("x", f.A))
	if code != 400 || !strings.Contains(body["message"].(string), "namespace default belongs to no project") {
		t.Errorf("namespace default: %d %v", code, body)
	}
	for _, p := range []string{f.A, f.B} {
		if err := f.Direct.Get(context.Background(), types.NamespacedName{Namespace: project.Namespace(p), Name: "x"}, &gitopsv1alpha1.ApplicationSet{}); !apierrors.IsNotFound(err) {
			t.Errorf("a refused set was stored in %s: %v", p, err)
		}
	}
}

func withNamespace(set map[string]any, ns string) map[string]any {
	set["metadata"].(map[string]any)["namespace"] = ns
	return set
}

// A set lands in its project's namespace when the request names none or
// Argo CD's, and an upsert cannot move one to another project.
func TestProjectNamespace(t *testing.T) {
	f := newFixture(t)
	nsA, nsB := project.Namespace(f.A), project.Namespace(f.B)
	get := func(ns, name string) (*gitopsv1alpha1.ApplicationSet, error) {
		set := &gitopsv1alpha1.ApplicationSet{}
		return set, f.Direct.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, set)
	}
	// The default namespace is A's, but the set is B's.
	f.must("bob", "POST", "", f.set("own", f.B), 200)
	if _, err := get(nsB, "own"); err != nil {
		t.Fatalf("bob's set is not in %s: %v", nsB, err)
	}
	f.must("alice", "POST", "", withNamespace(f.set("argo", f.A), "argocd"), 200)
	if _, err := get(nsA, "argo"); err != nil {
		t.Fatalf("an Argo CD manifest's set is not in %s: %v", nsA, err)
	}

	// Made before sets were bound to their namespace: in A's, of project B.
	legacy := &gitopsv1alpha1.ApplicationSet{}
	if err := f.Direct.Get(context.Background(), types.NamespacedName{Namespace: nsA, Name: "a1"}, legacy); err != nil {
		t.Fatal(err)
	}
	legacy.Name, legacy.ResourceVersion, legacy.UID = "legacy", "", ""
	legacy.Spec.Template.Spec.Project = f.B
	f.MustCreate(legacy)
	f.must("alice", "POST", "?upsert=true", f.set("legacy", f.A), 403) // update on B's set
	code, body := f.call("root", "POST", "?upsert=true", f.set("legacy", f.A))
	if code != 400 || !strings.Contains(body["message"].(string), "delete it and create it in the other project") {
		t.Errorf("moving legacy to %s: %d %v", f.A, code, body)
	}
	if set, err := get(nsA, "legacy"); err != nil || set.Spec.Template.Spec.Project != f.B {
		t.Errorf("legacy after a refused upsert: %v %v", err, set.Spec.Template.Spec.Project)
	}
}
