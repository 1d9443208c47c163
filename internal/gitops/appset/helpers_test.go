package appset

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/go-logr/logr/testr"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/yaml"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/gitops/appset/generate"
	"gantry.dev/gantry/internal/gitops/source"
	"gantry.dev/gantry/internal/kubetest"
)

func TestMain(m *testing.M) { os.Exit(kubetest.Main(m)) }

// Test helpers: a real kube-apiserver with gantry's CRDs, real repositories
// made with the git CLI and read through the real source cache as file://
// URLs, and Reconcile called directly.

type fixture struct {
	t   *testing.T
	env *kubetest.Env
	ns  string
	r   *Reconciler
}

type noClusters struct{}

func (noClusters) List(context.Context) ([]generate.Cluster, error) {
	return []generate.Cluster{{Name: "in-cluster", Server: "https://kubernetes.default.svc", Local: true}}, nil
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	// The tests are about generation, not tenancy (policy_test.go is): their
	// project may deploy anywhere and read local repositories.
	return newProjectFixture(t, platformv1alpha1.ProjectSpec{LocalRepositories: true,
		AllowedDestinations: []platformv1alpha1.ProjectDestination{{Server: "*", Namespace: "*"}, {Name: "*", Namespace: "*"}}})
}

// newProjectFixture is a fixture whose sets live in a project with spec.
func newProjectFixture(t *testing.T, spec platformv1alpha1.ProjectSpec) *fixture {
	t.Helper()
	env := kubetest.Shared(t, kubetest.Options{CRDs: true})
	cache, err := source.NewCache(source.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	r := New(Options{
		Client:    env.Client,
		Generator: &generate.Generator{Sources: generate.CacheSources{Cache: cache}, Clusters: noClusters{}},
		Namespace: "gantry-system",
		Logger:    testr.New(t),
	})
	_, ns := env.Project(t, spec)
	return &fixture{t: t, env: env, ns: ns, r: r}
}

// create makes the ApplicationSet written in YAML in the test's namespace.
func (f *fixture) create(y string) *gitopsv1alpha1.ApplicationSet {
	f.t.Helper()
	set := &gitopsv1alpha1.ApplicationSet{}
	if err := yaml.UnmarshalStrict([]byte(y), set); err != nil {
		f.t.Fatalf("bad test ApplicationSet: %v\n%s", err, y)
	}
	set.Namespace = f.ns
	if err := f.env.Client.Create(context.Background(), set); err != nil {
		f.t.Fatal(err)
	}
	return set
}

// update replaces the set's spec with the one written in YAML.
func (f *fixture) update(name, y string) {
	f.t.Helper()
	next := &gitopsv1alpha1.ApplicationSet{}
	if err := yaml.UnmarshalStrict([]byte(y), next); err != nil {
		f.t.Fatalf("bad test ApplicationSet: %v\n%s", err, y)
	}
	set := f.get(name)
	set.Spec = next.Spec
	if err := f.env.Client.Update(context.Background(), set); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) get(name string) *gitopsv1alpha1.ApplicationSet {
	f.t.Helper()
	set := &gitopsv1alpha1.ApplicationSet{}
	if err := f.env.Client.Get(context.Background(), types.NamespacedName{Namespace: f.ns, Name: name}, set); err != nil {
		f.t.Fatal(err)
	}
	return set
}

func (f *fixture) reconcile(name string) reconcile.Result {
	f.t.Helper()
	res, err := f.r.Reconcile(context.Background(), reconcile.Request{NamespacedName: types.NamespacedName{Namespace: f.ns, Name: name}})
	if err != nil {
		f.t.Fatalf("Reconcile: %v", err)
	}
	return res
}

// apps returns the namespace's Applications by name.
func (f *fixture) apps() map[string]*gitopsv1alpha1.Application {
	f.t.Helper()
	var list gitopsv1alpha1.ApplicationList
	if err := f.env.Client.List(context.Background(), &list, client.InNamespace(f.ns)); err != nil {
		f.t.Fatal(err)
	}
	out := map[string]*gitopsv1alpha1.Application{}
	for i := range list.Items {
		out[list.Items[i].Name] = &list.Items[i]
	}
	return out
}

func (f *fixture) vcs() map[string]*platformv1alpha1.VirtualCluster {
	f.t.Helper()
	var list platformv1alpha1.VirtualClusterList
	if err := f.env.Client.List(context.Background(), &list, client.InNamespace(f.ns)); err != nil {
		f.t.Fatal(err)
	}
	out := map[string]*platformv1alpha1.VirtualCluster{}
	for i := range list.Items {
		out[list.Items[i].Name] = &list.Items[i]
	}
	return out
}

func (f *fixture) appNames() string {
	var names []string
	for n, a := range f.apps() {
		if a.DeletionTimestamp.IsZero() {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}

func condition(set *gitopsv1alpha1.ApplicationSet, t gitopsv1alpha1.ApplicationSetConditionType) gitopsv1alpha1.ApplicationSetCondition {
	for _, c := range set.Status.Conditions {
		if c.Type == t {
			return c
		}
	}
	return gitopsv1alpha1.ApplicationSetCondition{}
}

type repo struct {
	t    *testing.T
	bare string
	work string
}

func (r *repo) url() string { return "file://" + r.bare }

func newRepo(t *testing.T) *repo {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skipf("git CLI not installed: %v", err)
	}
	root := t.TempDir()
	r := &repo{t: t, bare: filepath.Join(root, "repo.git"), work: filepath.Join(root, "work")}
	runGit(t, root, "init", "--quiet", "--bare", "--initial-branch=main", r.bare)
	runGit(t, root, "init", "--quiet", "--initial-branch=main", r.work)
	runGit(t, r.work, "remote", "add", "origin", r.bare)
	return r
}

// commit makes an empty commit on branch (created from the current one if
// new) and pushes it.
func (r *repo) commit(branch string) {
	r.t.Helper()
	if cur := runGit(r.t, r.work, "symbolic-ref", "--short", "HEAD"); cur != branch {
		if runGit(r.t, r.work, "branch", "--list", branch) != "" {
			runGit(r.t, r.work, "checkout", "--quiet", branch)
		} else {
			runGit(r.t, r.work, "checkout", "--quiet", "-b", branch)
		}
	}
	runGit(r.t, r.work, "commit", "--quiet", "--allow-empty", "-m", "commit on "+branch)
	runGit(r.t, r.work, "push", "--quiet", "origin", branch)
}

func (r *repo) deleteBranch(branch string) {
	r.t.Helper()
	runGit(r.t, r.work, "push", "--quiet", "origin", "--delete", branch)
}

func runGit(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=Test", "GIT_AUTHOR_EMAIL=test@example.com",
		"GIT_COMMITTER_NAME=Test", "GIT_COMMITTER_EMAIL=test@example.com",
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}
