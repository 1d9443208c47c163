package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
	"gantry.dev/gantry/internal/identity/authn"
	"gantry.dev/gantry/internal/project"
)

func TestAppCreateHelmFlags(t *testing.T) {
	create, _, err := NewRoot().Find([]string{"app", "create"})
	if err != nil {
		t.Fatal(err)
	}
	// A comma belongs to the value, as with argocd app create.
	if err := create.ParseFlags([]string{"--helm-set", "tags=a,b", "--helm-set-string", "tag=1.0",
		"--helm-set-file", "config=files/app.conf"}); err != nil {
		t.Fatal(err)
	}
	get := func(name string) []string {
		v, err := create.Flags().GetStringArray(name)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	h, err := helmFromFlags(nil, get("helm-set"), get("helm-set-string"), get("helm-set-file"), "")
	if err != nil {
		t.Fatal(err)
	}
	want := &gitopsv1alpha1.ApplicationSourceHelm{
		Parameters:     []gitopsv1alpha1.HelmParameter{{Name: "tags", Value: "a,b"}, {Name: "tag", Value: "1.0", ForceString: true}},
		FileParameters: []gitopsv1alpha1.HelmFileParameter{{Name: "config", Path: "files/app.conf"}},
	}
	if !reflect.DeepEqual(h, want) {
		t.Errorf("helm block\n got %+v\nwant %+v", h, want)
	}
	if h, err := helmFromFlags(nil, nil, nil, nil, ""); h != nil || err != nil {
		t.Errorf("no flags: %+v, %v; want no helm block", h, err)
	}
	for _, bad := range [][]string{{"novalue"}, {"=x"}} {
		if _, err := helmFromFlags(nil, bad, nil, nil, ""); err == nil || !strings.Contains(err.Error(), "--helm-set") {
			t.Errorf("--helm-set %v: %v", bad, err)
		}
	}
	if _, err := helmFromFlags(nil, nil, nil, []string{"config="}, ""); err == nil || !strings.Contains(err.Error(), "--helm-set-file") {
		t.Errorf("--helm-set-file without a path: %v", err)
	}
}

// TestAppCommandsActAsTheCaller: every `gantry app` command goes through the
// REST API as whoever runs it: a logged-in member within their project,
// refused elsewhere with the server's reason, and on the gantry machine
// without a login the local admin. Syncs and rollbacks record that caller,
// and wait for their own result, not an earlier one.
func TestAppCommandsActAsTheCaller(t *testing.T) {
	f := newRESTFixture(t)
	A := f.A
	theirs := &gitopsv1alpha1.Application{ObjectMeta: metav1.ObjectMeta{Name: "theirs", Namespace: project.Namespace(f.B)},
		Spec: gitopsv1alpha1.ApplicationSpec{Project: f.B, Source: &gitopsv1alpha1.ApplicationSource{RepoURL: "https://git.example.com/b.git"},
			Destination: gitopsv1alpha1.ApplicationDestination{Server: "https://kubernetes.default.svc", Namespace: "b"}}}
	f.create(theirs)

	// create: from flags, again (refused, then --upsert), from an Argo CD manifest.
	create := []string{"app", "create", "web", "-p", A, "--repo", "https://git.example.com/web.git", "--path", "web", "--dest-namespace", "web"}
	if out := f.must("alice", create...); !strings.Contains(out, "application 'web' created") {
		t.Errorf("create:\n%s", out)
	}
	if app := f.app(A, "web"); app.Spec.Project != A || app.Spec.Source.Path != "web" || app.Spec.Destination.Server != "https://kubernetes.default.svc" {
		t.Errorf("created app: %+v", app.Spec)
	}
	if _, err := f.gantry("alice", create...); err == nil || !strings.Contains(err.Error(), "already exists in project "+A+": use --upsert") {
		t.Errorf("create of an existing app: %v", err)
	}
	f.must("alice", append(slices.Clone(create[:len(create)-4]), "--path", "web2", "--dest-namespace", "web", "--upsert")...)
	if app := f.app(A, "web"); app.Spec.Source.Path != "web2" {
		t.Errorf("--upsert left path %q", app.Spec.Source.Path)
	}
	manifest := filepath.Join(t.TempDir(), "app.yaml")
	must(t, os.WriteFile(manifest, []byte(`apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: from-file
  namespace: argocd
spec:
  project: `+A+`
  source: {repoURL: "https://git.example.com/cfg.git", path: cfg}
  destination: {server: "https://kubernetes.default.svc", namespace: cfg}
`), 0o600))
	f.must("alice", "app", "create", "-f", manifest)
	if app := f.app(A, "from-file"); app.Spec.Source.Path != "cfg" {
		t.Errorf("app from the manifest: %+v", app.Spec)
	}
	if _, err := f.gantry("bob", "app", "create", "intruder", "-p", A, "--repo", "https://git.example.com/x.git"); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("bob creating an app in %s: %v", A, err)
	}

	// list and get show what the caller may see.
	if out := f.must("alice", "app", "list", "-o", "name"); out != "from-file\nweb\n" {
		t.Errorf("alice's list:\n%s", out)
	}
	if out := f.must("bob", "app", "list"); !strings.Contains(out, "theirs") || strings.Contains(out, "web") || !strings.HasPrefix(out, "NAME ") {
		t.Errorf("bob's list:\n%s", out)
	}
	out := f.must("alice", "app", "get", "web", "-p", A)
	for _, want := range []string{"Name:          " + project.Namespace(A) + "/web", "Project:       " + A, "Sync Policy:   Manual", "Path:          web2", "GROUP  KIND"} {
		if !strings.Contains(out, want) {
			t.Errorf("app get lacks %q:\n%s", want, out)
		}
	}
	var got gitopsv1alpha1.Application
	if err := json.Unmarshal([]byte(f.must("alice", "app", "get", "web", "-p", A, "-o", "json")), &got); err != nil || got.Name != "web" {
		t.Errorf("app get -o json: %v %+v", err, got.ObjectMeta)
	}
	if _, err := f.gantry("alice", "app", "get", "web", "-p", A, "-o", "xml"); err == nil || !strings.Contains(err.Error(), "use yaml or json") {
		t.Errorf("-o xml: %v", err)
	}
	if _, err := f.gantry("alice", "app", "get", "nope", "-p", A); err == nil || !strings.Contains(err.Error(), `application "nope" not found in project `+A) {
		t.Errorf("get of a missing app: %v", err)
	}
	if _, err := f.gantry("bob", "app", "get", "web", "-p", A); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("bob reading an app of %s: %v", A, err)
	}

	// sync: an earlier failure is in the status; the CLI waits for its own result.
	app := f.app(A, "web")
	app.Status.OperationState = &gitopsv1alpha1.OperationState{Phase: gitopsv1alpha1.OperationFailed, Message: "an earlier failure",
		Operation: gitopsv1alpha1.Operation{Sync: &gitopsv1alpha1.SyncOperation{}}, StartedAt: metav1.Now()}
	must(t, f.direct.Status().Update(context.Background(), app))
	if _, err := f.gantry("bob", "app", "sync", "web", "-p", A); err == nil || !strings.Contains(err.Error(), "permission denied: bob") {
		t.Errorf("bob syncing an app of %s: %v", A, err)
	}
	if f.app(A, "web").Operation != nil {
		t.Fatal("a refused sync started an operation")
	}
	taken := f.controller(A, "web")
	out = f.must("alice", "app", "sync", "web", "-p", A, "--prune", "--resource", "apps:Deployment:web/web")
	op := <-taken
	if op == nil || op.InitiatedBy.Username != "alice" || !op.Sync.Prune || len(op.Sync.Resources) != 1 || op.Sync.Resources[0].Namespace != "web" {
		t.Errorf("alice's sync operation: %+v", op)
	}
	if !strings.Contains(out, "Phase:              Succeeded") || strings.Contains(out, "an earlier failure") {
		t.Errorf("sync printed another operation's result:\n%s", out)
	}
	if h := f.app(A, "web").Status.History; len(h) != 1 || h[0].InitiatedBy.Username != "alice" {
		t.Errorf("history after alice's sync: %+v", h)
	}
	if out := f.must("alice", "app", "history", "web", "-p", A); !strings.Contains(out, "c0ffee0") {
		t.Errorf("history:\n%s", out)
	}
	if _, err := f.gantry("alice", "app", "sync", "web", "-p", A, "--resource", "Deployment:web"); err == nil || !strings.Contains(err.Error(), "GROUP:KIND:NAME") {
		t.Errorf("a bad --resource: %v", err)
	}

	// --async, a second sync meanwhile, and wait.
	if out := f.must("alice", "app", "sync", "web", "-p", A, "--async"); !strings.Contains(out, "sync of 'web' requested") {
		t.Errorf("sync --async:\n%s", out)
	}
	// gantry checks for a pending operation in its cache: once that has it.
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(f.must("alice", "app", "get", "web", "-p", A, "-o", "json"), `"operation"`); {
		if time.Now().After(deadline) {
			t.Fatal("gantry never shows the requested operation")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := f.gantry("alice", "app", "sync", "web", "-p", A); err == nil || !strings.Contains(err.Error(), "another operation is already in progress on web") {
		t.Errorf("a sync while one is pending: %v", err)
	}
	taken = f.controller(A, "web")
	f.must("alice", "app", "wait", "web", "-p", A, "--operation", "--timeout", "20s")
	if op := <-taken; op == nil || op.InitiatedBy.Username != "alice" {
		t.Errorf("the async sync: %+v", op)
	}

	// rollback on the gantry machine without a login: the local admin.
	if _, err := f.gantry("admin", "app", "rollback", "web", "x", "-p", A); err == nil || !strings.Contains(err.Error(), "not a number") {
		t.Errorf("rollback to x: %v", err)
	}
	if _, err := f.gantry("admin", "app", "rollback", "web", "9", "-p", A); err == nil || !strings.Contains(err.Error(), "no history entry 9") {
		t.Errorf("rollback to a missing entry: %v", err)
	}
	taken = f.controller(A, "web")
	f.must("admin", "app", "rollback", "web", "1", "-p", A)
	if op := <-taken; op == nil || op.InitiatedBy.Username != "admin" || op.Sync.Revision != "c0ffee0" {
		t.Errorf("the admin's rollback: %+v", op)
	}

	// delete: not for a project-member; a bad policy is refused before any request.
	if _, err := f.gantry("alice", "app", "delete", "web", "-p", A); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("alice deleting: %v", err)
	}
	if _, err := f.gantry("admin", "app", "delete", "web", "-p", A, "--propagation-policy", "sideways"); err == nil || !strings.Contains(err.Error(), "--propagation-policy") {
		t.Errorf("delete with a bad policy: %v", err)
	}
	if out := f.must("admin", "app", "delete", "web", "-p", A, "--cascade=false"); !strings.Contains(out, "application 'web' deleted") {
		t.Errorf("delete:\n%s", out)
	}
	if err := f.direct.Get(context.Background(), client.ObjectKeyFromObject(app), &gitopsv1alpha1.Application{}); !apierrors.IsNotFound(err) {
		t.Errorf("after delete --wait the app is still there: %v", err)
	}
}

func TestOperationDone(t *testing.T) {
	state := func(phase gitopsv1alpha1.OperationPhase, id string) *gitopsv1alpha1.OperationState {
		return &gitopsv1alpha1.OperationState{Phase: phase, Operation: gitopsv1alpha1.Operation{Info: []gitopsv1alpha1.Info{{Name: requestInfo, Value: id}}}}
	}
	for _, c := range []struct {
		name string
		app  gitopsv1alpha1.Application
		want bool
	}{
		{"no state yet", gitopsv1alpha1.Application{}, false},
		{"still asked for", gitopsv1alpha1.Application{Operation: &gitopsv1alpha1.Operation{}, Status: gitopsv1alpha1.ApplicationStatus{OperationState: state("Succeeded", "mine")}}, false},
		{"an earlier result", gitopsv1alpha1.Application{Status: gitopsv1alpha1.ApplicationStatus{OperationState: state("Succeeded", "earlier")}}, false},
		{"mine, running", gitopsv1alpha1.Application{Status: gitopsv1alpha1.ApplicationStatus{OperationState: state("Running", "mine")}}, false},
		{"mine, failed", gitopsv1alpha1.Application{Status: gitopsv1alpha1.ApplicationStatus{OperationState: state("Failed", "mine")}}, true},
		{"mine, succeeded", gitopsv1alpha1.Application{Status: gitopsv1alpha1.ApplicationStatus{OperationState: state("Succeeded", "mine")}}, true},
	} {
		if got := operationDone(&c.app, "mine"); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// TestAppCreateFromArgoCDDirectory: a directory of Argo CD manifests as they
// are (namespace argocd, project default, an app of apps aimed at argocd,
// several documents in one file, an ApplicationSet) becomes applications and
// a set of the project -p names; a directory holding anything else creates
// nothing.
func TestAppCreateFromArgoCDDirectory(t *testing.T) {
	f := newRESTFixture(t)
	A := f.A
	dir := t.TempDir()
	write := func(name, content string) { must(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600)) }
	write("apps.yaml", `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: apps, namespace: argocd}
spec:
  project: default
  source: {repoURL: "https://git.example.com/apps.git", path: apps}
  destination: {server: "https://kubernetes.default.svc", namespace: argocd}
`)
	write("more.yml", `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: guestbook, namespace: argocd, finalizers: [resources-finalizer.argocd.argoproj.io]}
spec:
  project: other
  source: {repoURL: "https://git.example.com/apps.git", path: guestbook}
  destination: {server: "https://kubernetes.default.svc", namespace: guestbook}
---
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: envs, namespace: argocd}
spec:
  generators: [{list: {elements: [{env: dev}]}}]
  template:
    metadata: {name: '{{env}}', namespace: argocd}
    spec:
      project: default
      source: {repoURL: "https://git.example.com/apps.git", path: '{{env}}'}
      destination: {server: "https://kubernetes.default.svc", namespace: '{{env}}'}
`)
	write("README.md", "not a manifest\n")
	// A project member creates apps, not sets: the API refuses the set, the
	// rest is created and the command fails naming what was refused.
	out, err := f.gantry("alice", "app", "create", "-f", dir, "-p", A)
	if err == nil || !strings.Contains(err.Error(), "ApplicationSet envs: permission denied") ||
		!strings.Contains(out, "application 'apps' created") || !strings.Contains(out, "application 'guestbook' created") {
		t.Errorf("alice creating the directory: %v\n%s", err, out)
	}
	out = f.must(authn.AdminUser, "app", "create", "-f", dir, "-p", A, "--upsert")
	for _, want := range []string{"application 'apps' created", "application 'guestbook' created", "ApplicationSet 'envs' created"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if app := f.app(A, "apps"); app.Spec.Project != A || app.Spec.Destination.Namespace != project.Namespace(A) {
		t.Errorf("apps: project %q, destination namespace %q; want %s and %s", app.Spec.Project, app.Spec.Destination.Namespace, A, project.Namespace(A))
	}
	if app := f.app(A, "guestbook"); app.Spec.Project != A || app.Spec.Destination.Namespace != "guestbook" || len(app.Finalizers) != 1 {
		t.Errorf("guestbook: %+v %v", app.Spec, app.Finalizers)
	}
	set := &gitopsv1alpha1.ApplicationSet{}
	must(t, f.direct.Get(context.Background(), client.ObjectKey{Namespace: project.Namespace(A), Name: "envs"}, set))
	if set.Spec.Template.Spec.Project != A {
		t.Errorf("envs' template project %q, want %s", set.Spec.Template.Spec.Project, A)
	}

	// Bob is no member of A: the API refuses each, and says so.
	if _, err := f.gantry("bob", "app", "create", "-f", dir, "-p", A, "--upsert"); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("bob creating in %s: %v", A, err)
	}

	// Anything but Applications and ApplicationSets: nothing is created.
	write("zz-config.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
	write("aa-new.yaml", "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: new}\nspec: {project: default, source: {repoURL: x}, destination: {server: https://kubernetes.default.svc, namespace: x}}\n")
	if _, err := f.gantry("alice", "app", "create", "-f", dir, "-p", A); err == nil || !strings.Contains(err.Error(), "zz-config.yaml is a ConfigMap (v1), not an Application or ApplicationSet") {
		t.Errorf("a directory with a ConfigMap: %v", err)
	}
	if err := f.direct.Get(context.Background(), client.ObjectKey{Namespace: project.Namespace(A), Name: "new"}, &gitopsv1alpha1.Application{}); !apierrors.IsNotFound(err) {
		t.Errorf("app new: %v, want it never created", err)
	}
	// A Helm chart's templates are not manifests yet.
	chart := t.TempDir()
	must(t, os.WriteFile(filepath.Join(chart, "app.yaml"), []byte("apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: {{ .Values.name }}\n"), 0o600))
	if _, err := f.gantry("alice", "app", "create", "-f", chart, "-p", A); err == nil || !strings.Contains(err.Error(), "gantry renders those from Git") {
		t.Errorf("a Helm template: %v", err)
	}
}
