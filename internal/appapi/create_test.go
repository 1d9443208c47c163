package appapi

import (
	"context"
	"net/http"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
	"gantry.dev/gantry/internal/identity/authn"
	"gantry.dev/gantry/internal/project"
)

// manifest is an Application as a client sends it.
func manifest(name, proj, namespace string) map[string]any {
	meta := map[string]any{"name": name}
	if namespace != "" {
		meta["namespace"] = namespace
	}
	spec := map[string]any{
		"source":      map[string]any{"repoURL": "https://git.example.com/x.git", "path": "app"},
		"destination": map[string]any{"server": "https://kubernetes.default.svc", "namespace": "web"},
	}
	if proj != "" {
		spec["project"] = proj
	}
	return map[string]any{"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": meta, "spec": spec}
}

// Apps land in their project's namespace, whatever namespace the request
// names: none, Argo CD's own, or the project's; any other is refused.
func TestCreateInProjectNamespace(t *testing.T) {
	f := newFixture(t)
	nsA, nsB := project.Namespace(f.A), project.Namespace(f.B)
	in := func(ns, name string) *gitopsv1alpha1.Application {
		t.Helper()
		app := &gitopsv1alpha1.Application{}
		if err := f.Direct.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, app); err != nil {
			t.Fatalf("app %s/%s: %v", ns, name, err)
		}
		return app
	}
	absent := func(ns, name string) {
		t.Helper()
		err := f.Direct.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, &gitopsv1alpha1.Application{})
		if !apierrors.IsNotFound(err) {
			t.Fatalf("app %s/%s exists (%v)", ns, name, err)
		}
	}

	f.Expect("alice", "POST", Prefix, manifest("plain", f.A, ""), 200, `"namespace":"`+nsA+`"`)
	in(nsA, "plain")
	// An Argo CD manifest as is.
	f.Expect("alice", "POST", Prefix, manifest("from-argo", f.A, "argocd"), 200, `"namespace":"`+nsA+`"`)
	in(nsA, "from-argo")
	f.Expect("alice", "POST", Prefix, manifest("explicit", f.A, nsA), 200)
	// No spec.project: the namespace's project, which is then set.
	f.Expect("alice", "POST", Prefix+"?appNamespace="+nsA, manifest("derived", "", ""), 200, `"project":"`+f.A+`"`)
	if p := in(nsA, "derived").Spec.Project; p != f.A {
		t.Fatalf("spec.project %q, want %s", p, f.A)
	}
	// No project and no namespace: project default.
	if err := f.Direct.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "p-default"}}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	f.Expect("alice", "POST", Prefix, manifest("nowhere", "", ""), 403, "cannot create applications default/nowhere")
	name := "dflt-" + f.A
	f.Expect("root", "POST", Prefix, manifest(name, "", ""), 200, `"project":"default"`, `"namespace":"p-default"`)
	in("p-default", name)

	// Elsewhere is refused, naming both and the fix; nothing is created.
	for _, c := range []struct{ name, ns, query, want string }{
		{"sys", "gantry-system", "", "namespace gantry-system belongs to no project"},
		{"kube", "kube-system", "", "objects of project \"" + f.A + "\" live in namespace " + nsA},
		{"elsewhere", nsB, "", "namespace " + nsB + " belongs to project \"" + f.B + "\", not to project \"" + f.A + "\""},
		{"query", "", "?appNamespace=" + nsB, "leave the namespace out"},
	} {
		f.Expect("root", "POST", Prefix+c.query, manifest(c.name, f.A, c.ns), 400, c.want)
		absent(nsA, c.name)
		absent(nsB, c.name)
	}
	f.Expect("root", "POST", Prefix, manifest("bad", "Not_A_Project", ""), 400, "not a project name")
}

// upsert=true replaces an existing app only for a caller who may update it,
// and never moves it to another project.
func TestUpsert(t *testing.T) {
	f := newFixture(t)
	nsA := project.Namespace(f.A)
	// carl may create apps in A, not change them.
	if err := f.Enforcer.SetPolicy("g, root, role:admin\np, carl, applications, create, "+f.A+"/*, allow\n", "", ""); err != nil {
		t.Fatal(err)
	}
	f.Tokens.Set("carl", authn.Identity{User: "carl", Via: "session"})
	changed := manifest("one", f.A, "")
	changed["spec"].(map[string]any)["source"].(map[string]any)["path"] = "changed"

	f.Expect("carl", "POST", Prefix, changed, http.StatusConflict, "already exists")
	f.Expect("carl", "POST", Prefix+"?upsert=true", changed, http.StatusForbidden, "cannot update applications "+f.A+"/one")
	f.Expect("bob", "POST", Prefix+"?upsert=true", changed, http.StatusForbidden, "cannot create")
	if p := f.app(f.A, "one").Spec.Source.Path; p != "app" {
		t.Fatalf("a refused upsert changed the app: path %q", p)
	}
	f.Expect("alice", "POST", Prefix+"?upsert=true", changed, http.StatusOK, `"path":"changed"`)
	if p := f.app(f.A, "one").Spec.Source.Path; p != "changed" {
		t.Fatalf("upsert: path %q", p)
	}

	// An app in A's namespace that claims project B (made before apps were
	// bound to their namespace): an upsert may not move it.
	legacy := newApp(f.A, "legacy")
	legacy.Spec.Project = f.B
	f.MustCreate(legacy)
	f.Expect("root", "POST", Prefix+"?upsert=true", manifest("legacy", f.A, nsA), http.StatusBadRequest,
		"belongs to project \""+f.B+"\"", "delete it and create it in the other project")
	if p := f.app(f.A, "legacy").Spec.Project; p != f.B {
		t.Fatalf("spec.project moved to %q", p)
	}
}
