package controller

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/gitops/cluster"
	"gantry.dev/gantry/internal/gitops/livestate"
	"gantry.dev/gantry/internal/gitops/render"
	"gantry.dev/gantry/internal/gitops/source"
	"gantry.dev/gantry/internal/kubetest"
)

func TestMain(m *testing.M) { os.Exit(kubetest.Main(m)) }

// The Application reconciler on its own: a real API server from kubetest is
// both the app's home and its destination (the host), repositories are real
// git repositories read through the real source cache as file:// URLs, and
// the reconciler is driven by calling Reconcile, as the manager would.

type engine struct {
	t   *testing.T
	env *kubetest.Env
	r   *Reconciler
	// fetched counts the repositories the engine asked the source cache for.
	fetched *countingSources
}

// countingSources is the real source cache, counting what is asked of it:
// a refused repository must never be fetched.
type countingSources struct {
	*source.Cache
	resolved []string
}

func (c *countingSources) ResolveAfter(ctx context.Context, repo source.Repo, revision string, after time.Time) (string, error) {
	c.resolved = append(c.resolved, repo.URL)
	return c.Cache.ResolveAfter(ctx, repo, revision, after)
}

func newEngine(t *testing.T) *engine {
	t.Helper()
	env := kubetest.Shared(t, kubetest.Options{CRDs: true})
	cache, err := source.NewCache(source.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	srcs := &countingSources{Cache: cache}
	r := &Reconciler{
		Client:   env.Client,
		Clusters: &cluster.Registry{Reader: env.Client, Namespace: "gantry-system", Host: env.Config},
		Live: livestate.New(ctx, livestate.Options{InstanceLabel: InstanceLabel, TrackingAnnotation: TrackingAnnotation,
			UserAgent: UserAgent}),
		Sources:      srcs,
		Renderer:     render.New(render.Options{ChartCacheDir: t.TempDir(), Cache: render.NewCache(render.CacheOptions{})}),
		Log:          testr.New(t),
		PollInterval: time.Minute,
	}
	return &engine{t: t, env: env, r: r, fetched: srcs}
}

// repo makes a git repository holding files and returns its file:// URL.
func (e *engine) repo(files map[string]string) string {
	e.t.Helper()
	root := e.t.TempDir()
	bare, work := filepath.Join(root, "repo.git"), filepath.Join(root, "work")
	git := func(dir string, args ...string) {
		e.t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
			"GIT_AUTHOR_NAME=Test", "GIT_AUTHOR_EMAIL=test@example.com", "GIT_COMMITTER_NAME=Test", "GIT_COMMITTER_EMAIL=test@example.com")
		if out, err := cmd.CombinedOutput(); err != nil {
			e.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	git(root, "init", "--quiet", "--bare", "--initial-branch=main", bare)
	git(root, "init", "--quiet", "--initial-branch=main", work)
	for name, content := range files {
		p := filepath.Join(work, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			e.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			e.t.Fatal(err)
		}
	}
	git(work, "add", "-A")
	git(work, "commit", "--quiet", "-m", "manifests")
	git(work, "push", "--quiet", bare, "main")
	return "file://" + bare
}

// app creates an automated app (prune on) in namespace from repoURL's
// directory deploy to the host's namespace destNS.
func (e *engine) app(namespace, name, repoURL, destNS string) types.NamespacedName {
	e.t.Helper()
	app := &gitopsv1alpha1.Application{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: gitopsv1alpha1.ApplicationSpec{
			Source:      &gitopsv1alpha1.ApplicationSource{RepoURL: repoURL, Path: "deploy", TargetRevision: "main"},
			Destination: gitopsv1alpha1.ApplicationDestination{Server: cluster.HostServer, Namespace: destNS},
			SyncPolicy:  &gitopsv1alpha1.SyncPolicy{Automated: &gitopsv1alpha1.SyncPolicyAutomated{Prune: true}},
		},
	}
	if err := e.env.Client.Create(context.Background(), app); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = e.env.Client.Delete(context.Background(), app) })
	return client.ObjectKeyFromObject(app)
}

// reconcile runs the reconciler for key as the manager would, following its
// requeues (a sync asks to be compared again at once) up to n times, and
// returns the app as stored then.
func (e *engine) reconcile(key types.NamespacedName, n int) *gitopsv1alpha1.Application {
	e.t.Helper()
	for i := 0; i < n; i++ {
		res, err := e.r.Reconcile(context.Background(), reconcile.Request{NamespacedName: key})
		if err != nil {
			e.t.Fatalf("Reconcile %s: %v", key, err)
		}
		if res.RequeueAfter == 0 || res.RequeueAfter >= time.Second {
			break
		}
		time.Sleep(res.RequeueAfter)
	}
	app := &gitopsv1alpha1.Application{}
	if err := e.env.Client.Get(context.Background(), key, app); err != nil {
		e.t.Fatal(err)
	}
	return app
}

// project creates a project named after the test and returns its namespace.
func (e *engine) project(spec platformv1alpha1.ProjectSpec) string {
	e.t.Helper()
	_, ns := e.env.Project(e.t, spec)
	return ns
}

func conditionOf(app *gitopsv1alpha1.Application, typ string) string {
	for _, c := range app.Status.Conditions {
		if c.Type == typ {
			return c.Message
		}
	}
	return ""
}
