package application

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/controlplane"
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
	// No Job controller: without nodes nothing would run a Job's pods; the
	// tests complete hook Jobs themselves (finishJob), as it would.
	env := kubetest.Shared(t, kubetest.Options{CRDs: true,
		Controllers: slices.Concat(controlplane.TenantControllers, []string{"-job", "-cronjob"})})
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

// app creates an automated app (prune on) in namespace from repoURL's
// directory deploy to the host's namespace destNS; with changes the spec
// before it is created.
func (e *engine) app(namespace, name, repoURL, destNS string, with ...func(*gitopsv1alpha1.Application)) types.NamespacedName {
	e.t.Helper()
	app := &gitopsv1alpha1.Application{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: gitopsv1alpha1.ApplicationSpec{
			Source:      &gitopsv1alpha1.ApplicationSource{RepoURL: repoURL, Path: "deploy", TargetRevision: "main"},
			Destination: gitopsv1alpha1.ApplicationDestination{Server: cluster.HostServer, Namespace: destNS},
			SyncPolicy:  &gitopsv1alpha1.SyncPolicy{Automated: &gitopsv1alpha1.SyncPolicyAutomated{Prune: true}},
		},
	}
	for _, f := range with {
		f(app)
	}
	if err := e.env.Client.Create(context.Background(), app); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		// Whatever the test left, the app goes: without finalizers it cannot hang.
		ctx := context.Background()
		_ = e.update(client.ObjectKeyFromObject(app), func(a *gitopsv1alpha1.Application) { a.Finalizers = nil })
		_ = e.env.Client.Delete(ctx, app)
	})
	return client.ObjectKeyFromObject(app)
}

// manual makes an app without an automated sync policy.
func manual(app *gitopsv1alpha1.Application) { app.Spec.SyncPolicy = nil }

// selfHeal turns self-heal on.
func selfHeal(app *gitopsv1alpha1.Application) { app.Spec.SyncPolicy.Automated.SelfHeal = true }

// update changes the stored app with f, retrying on conflicts.
func (e *engine) update(key types.NamespacedName, f func(*gitopsv1alpha1.Application)) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		app := &gitopsv1alpha1.Application{}
		if err := e.env.Client.Get(context.Background(), key, app); err != nil {
			return err
		}
		f(app)
		return e.env.Client.Update(context.Background(), app)
	})
}

// operate asks for an operation on the app, as `gantry app sync` (or
// rollback) does through the API.
func (e *engine) operate(key types.NamespacedName, op *gitopsv1alpha1.Operation) {
	e.t.Helper()
	if err := e.update(key, func(a *gitopsv1alpha1.Application) { a.Operation = op }); err != nil {
		e.t.Fatal(err)
	}
}

// refresh asks for a comparison with Git's latest commit now, as `gantry
// app get --refresh` does: Argo CD's refresh annotation.
func (e *engine) refresh(key types.NamespacedName) {
	e.t.Helper()
	if err := e.update(key, func(a *gitopsv1alpha1.Application) {
		if a.Annotations == nil {
			a.Annotations = map[string]string{}
		}
		a.Annotations[RefreshAnnotation] = "normal"
	}); err != nil {
		e.t.Fatal(err)
	}
}

// syncBy is a manual sync operation of the spec's revision by user.
func syncBy(user string) *gitopsv1alpha1.Operation {
	return &gitopsv1alpha1.Operation{Sync: &gitopsv1alpha1.SyncOperation{}, InitiatedBy: gitopsv1alpha1.OperationInitiator{Username: user}}
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
	return e.get(key)
}

// reconcileUntil reconciles key again and again, as the manager does when
// livestate reports a change or a requeue is due, until done holds for the
// stored app; it fails the test after 30 seconds.
func (e *engine) reconcileUntil(key types.NamespacedName, what string, done func(*gitopsv1alpha1.Application) bool) *gitopsv1alpha1.Application {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		app := e.reconcile(key, 1)
		if done(app) {
			return app
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting for %s: sync %s, health %s, operation %+v, conditions %+v",
				what, app.Status.Sync.Status, app.Status.Health.Status, app.Status.OperationState, app.Status.Conditions)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// reconcileInBackground runs one Reconcile of key as the manager's worker
// would, for a sync that waits (hooks, waves) while the test acts; the
// channel gets its error.
func (e *engine) reconcileInBackground(key types.NamespacedName) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := e.r.Reconcile(context.Background(), reconcile.Request{NamespacedName: key})
		done <- err
	}()
	return done
}

// get returns the stored app.
func (e *engine) get(key types.NamespacedName) *gitopsv1alpha1.Application {
	e.t.Helper()
	app := &gitopsv1alpha1.Application{}
	if err := e.env.Client.Get(context.Background(), key, app); err != nil {
		e.t.Fatal(err)
	}
	return app
}

// eventually waits up to 30 seconds for cond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// project creates a project named after the test and returns its namespace.
func (e *engine) project(spec platformv1alpha1.ProjectSpec) string {
	e.t.Helper()
	_, ns := e.env.Project(e.t, spec)
	return ns
}
