package statuswrite_test

import (
	"context"
	"maps"
	"os"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/kubetest"
	"gantry.dev/gantry/internal/statuswrite"
)

func TestMain(m *testing.M) { os.Exit(kubetest.Main(m)) }

// staleCache answers Get with a copy frozen at some point, as an informer that
// has not yet seen the latest writes does.
type staleCache struct {
	client.Client
	frozen *gitopsv1alpha1.Application
}

func (c *staleCache) Get(_ context.Context, _ types.NamespacedName, obj client.Object, _ ...client.GetOption) error {
	c.frozen.DeepCopyInto(obj.(*gitopsv1alpha1.Application))
	return nil
}

// newApp creates an Application in the test's namespace.
func newApp(t *testing.T, op *gitopsv1alpha1.Operation) (*kubetest.Env, types.NamespacedName) {
	t.Helper()
	env := kubetest.Shared(t, kubetest.Options{CRDs: true})
	app := &gitopsv1alpha1.Application{
		ObjectMeta: metav1.ObjectMeta{Namespace: env.Namespace(t), Name: "app"},
		Spec: gitopsv1alpha1.ApplicationSpec{
			Source:      &gitopsv1alpha1.ApplicationSource{RepoURL: "https://example.com/repo.git", Path: "."},
			Destination: gitopsv1alpha1.ApplicationDestination{Server: "https://kubernetes.default.svc", Namespace: "default"},
		},
		Operation: op,
	}
	if err := env.Client.Create(context.Background(), app); err != nil {
		t.Fatal(err)
	}
	return env, client.ObjectKeyFromObject(app)
}

func changed(server, desired *gitopsv1alpha1.Application) bool {
	return !equality.Semantic.DeepEqual(server.Status, desired.Status)
}

// The race that kept Applications OutOfSync after a successful sync: the
// controller wrote OutOfSync, its cache still showed the older Synced, and a
// merge patch of Synced computed from that copy was empty.
func TestStaleCacheDoesNotDropAWrite(t *testing.T) {
	env, key := newApp(t, nil)
	ctx := context.Background()
	cache := &staleCache{Client: env.Client}
	w := &statuswrite.Writer{Client: cache, Reader: env.Client}

	// Reconcile 1 sees Synced at revision a (as the cache will keep showing).
	base := &gitopsv1alpha1.Application{}
	if err := env.Client.Get(ctx, key, base); err != nil {
		t.Fatal(err)
	}
	desired := base.DeepCopy()
	desired.Status.Sync.Status, desired.Status.Sync.Revision = gitopsv1alpha1.SyncStatusSynced, "a"
	if err := statuswrite.Patch(ctx, w, base, desired, changed); err != nil {
		t.Fatal(err)
	}
	cache.frozen = desired.DeepCopy()

	// Reconcile 2 reads that copy and records OutOfSync at revision a.
	base = &gitopsv1alpha1.Application{}
	if err := w.Get(ctx, key, base); err != nil {
		t.Fatal(err)
	}
	desired = base.DeepCopy()
	desired.Status.Sync.Status = gitopsv1alpha1.SyncStatusOutOfSync
	if err := statuswrite.Patch(ctx, w, base, desired, changed); err != nil {
		t.Fatal(err)
	}

	// Reconcile 3: the cache still shows Synced; the sync succeeded, so the
	// status is Synced again. It must reach the server.
	base = &gitopsv1alpha1.Application{}
	if err := w.Get(ctx, key, base); err != nil {
		t.Fatal(err)
	}
	if base.Status.Sync.Status != gitopsv1alpha1.SyncStatusOutOfSync {
		t.Fatalf("Get returned the stale cached copy (%s), not the server's", base.Status.Sync.Status)
	}
	desired = base.DeepCopy()
	desired.Status.Sync.Status = gitopsv1alpha1.SyncStatusSynced
	if err := statuswrite.Patch(ctx, w, base, desired, changed); err != nil {
		t.Fatal(err)
	}
	got := &gitopsv1alpha1.Application{}
	if err := env.Client.Get(ctx, key, got); err != nil {
		t.Fatal(err)
	}
	if got.Status.Sync.Status != gitopsv1alpha1.SyncStatusSynced {
		t.Fatalf("server has sync status %s, want Synced", got.Status.Sync.Status)
	}
}

// A write by someone else between read and patch (spec.operation cleared, as a
// manual sync does, and a status field the reconciler did not touch, as the
// sleeper's last activity time) is kept, and the reconciler's change lands.
func TestConflictKeepsOtherWritesAndWholeStatus(t *testing.T) {
	env, key := newApp(t, &gitopsv1alpha1.Operation{Sync: &gitopsv1alpha1.SyncOperation{}})
	ctx := context.Background()
	w := &statuswrite.Writer{Client: env.Client, Reader: env.Client}
	base := &gitopsv1alpha1.Application{}
	if err := w.Get(ctx, key, base); err != nil {
		t.Fatal(err)
	}
	// Someone else writes: the operation is taken, and the status gets a
	// field the computed status does not have.
	other := base.DeepCopy()
	other.Operation = nil
	other.Labels = map[string]string{"team": "a"}
	if err := env.Client.Update(ctx, other); err != nil {
		t.Fatal(err)
	}
	stray := other.DeepCopy()
	stray.Status.Summary.Images = []string{"stray:1"}
	if err := env.Client.Status().Update(ctx, stray); err != nil {
		t.Fatal(err)
	}

	desired := base.DeepCopy()
	desired.Status.Sync.Status = gitopsv1alpha1.SyncStatusSynced
	desired.Status.OperationState = &gitopsv1alpha1.OperationState{Phase: gitopsv1alpha1.OperationSucceeded, Message: "done", StartedAt: metav1.NewTime(time.Now().Truncate(time.Second))}
	if err := statuswrite.Patch(ctx, w, base, desired, changed); err != nil {
		t.Fatalf("patch after a conflicting write: %v", err)
	}
	got := &gitopsv1alpha1.Application{}
	if err := env.Client.Get(ctx, key, got); err != nil {
		t.Fatal(err)
	}
	if got.Operation != nil || got.Labels["team"] != "a" {
		t.Errorf("the other write was undone: operation %v, labels %v", got.Operation, got.Labels)
	}
	if got.Status.Sync.Status != gitopsv1alpha1.SyncStatusSynced || got.Status.OperationState == nil ||
		!equality.Semantic.DeepEqual(*got.Status.OperationState, *desired.Status.OperationState) {
		t.Errorf("the reconciler's change was lost: sync %s, operation %+v", got.Status.Sync.Status, got.Status.OperationState)
	}
	if len(got.Status.Summary.Images) != 1 || got.Status.Summary.Images[0] != "stray:1" {
		t.Errorf("the other writer's status field was overwritten: images %v", got.Status.Summary.Images)
	}
	if desired.ResourceVersion != got.ResourceVersion {
		t.Errorf("desired carries resourceVersion %s, server %s", desired.ResourceVersion, got.ResourceVersion)
	}
}

// Two reconcilers write conditions of their own to one object (the Project
// and Argo CD reconcilers on a Project), each from a copy read before the
// other's write: each keeps the other's conditions, a change the other made
// to a condition it did not touch is kept, and a condition it removes is gone.
func TestConditionsOfTwoWritersAreKept(t *testing.T) {
	env := kubetest.Shared(t, kubetest.Options{CRDs: true})
	ctx := context.Background()
	p := &platformv1alpha1.Project{ObjectMeta: metav1.ObjectMeta{Name: "two-writers"}}
	if err := env.Client.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), p) })
	key := client.ObjectKeyFromObject(p)
	projectChanged := func(server, desired *platformv1alpha1.Project) bool {
		return !equality.Semantic.DeepEqual(server.Status, desired.Status)
	}
	cond := func(typ, reason string) metav1.Condition {
		return metav1.Condition{Type: typ, Status: metav1.ConditionTrue, Reason: reason, Message: reason}
	}
	read := func() *platformv1alpha1.Project {
		t.Helper()
		got := &platformv1alpha1.Project{}
		if err := env.Client.Get(ctx, key, got); err != nil {
			t.Fatal(err)
		}
		return got
	}
	write := func(base *platformv1alpha1.Project, edit func(*platformv1alpha1.Project)) {
		t.Helper()
		desired := base.DeepCopy()
		edit(desired)
		w := &statuswrite.Writer{Client: env.Client, Reader: env.Client}
		if err := statuswrite.Patch(ctx, w, base, desired, projectChanged); err != nil {
			t.Fatal(err)
		}
	}
	types := func() map[string]string {
		out := map[string]string{}
		for _, c := range read().Status.Conditions {
			out[c.Type] = c.Reason
		}
		return out
	}

	// A sets Ready and Stale; B, from the same first copy, sets Synced.
	first := read()
	write(first, func(p *platformv1alpha1.Project) {
		meta.SetStatusCondition(&p.Status.Conditions, cond("Ready", "NamespaceReady"))
		meta.SetStatusCondition(&p.Status.Conditions, cond("Stale", "Old"))
	})
	write(first, func(p *platformv1alpha1.Project) {
		meta.SetStatusCondition(&p.Status.Conditions, cond("Synced", "Synced"))
	})
	if got, want := types(), map[string]string{"Ready": "NamespaceReady", "Stale": "Old", "Synced": "Synced"}; !maps.Equal(got, want) {
		t.Fatalf("after two writers: conditions %v, want %v", got, want)
	}

	// B reads; A changes Ready; B, from its older copy, removes Stale and
	// changes Synced: A's new Ready stays.
	second := read()
	write(second, func(p *platformv1alpha1.Project) {
		meta.SetStatusCondition(&p.Status.Conditions, cond("Ready", "NamespaceConflict"))
	})
	write(second, func(p *platformv1alpha1.Project) {
		meta.RemoveStatusCondition(&p.Status.Conditions, "Stale")
		meta.SetStatusCondition(&p.Status.Conditions, cond("Synced", "ClusterUnreachable"))
	})
	if got, want := types(), map[string]string{"Ready": "NamespaceConflict", "Synced": "ClusterUnreachable"}; !maps.Equal(got, want) {
		t.Fatalf("after the second round: conditions %v, want %v", got, want)
	}
}

// A nested status struct the server has never stored (a Project's usage
// before its first count) is written whole, with its zero fields: a patch of
// the changed field alone would lack the struct's required fields.
func TestNestedStatusWrittenWhole(t *testing.T) {
	env := kubetest.Shared(t, kubetest.Options{CRDs: true})
	ctx := context.Background()
	p := &platformv1alpha1.Project{ObjectMeta: metav1.ObjectMeta{Name: "first-usage"}}
	if err := env.Client.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), p) })
	desired := p.DeepCopy()
	desired.Status.Usage.VirtualClusters = 1
	w := &statuswrite.Writer{Client: env.Client, Reader: env.Client}
	if err := statuswrite.Patch(ctx, w, p, desired, func(server, desired *platformv1alpha1.Project) bool {
		return server.Status.Usage != desired.Status.Usage
	}); err != nil {
		t.Fatalf("first usage count: %v", err)
	}
	got := &platformv1alpha1.Project{}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(p), got); err != nil {
		t.Fatal(err)
	}
	if got.Status.Usage != (platformv1alpha1.ProjectUsage{VirtualClusters: 1}) {
		t.Errorf("usage %+v", got.Status.Usage)
	}
}

// A nested field the new status leaves out (an omitempty zero: retryCount 0
// once a new operation starts) is removed, not kept from the server: the
// field ends up as the reconciler computed it. Merging main's Application
// reconciler tests found it (an app synced after its retries showed their
// count).
func TestNestedZeroValueRemoved(t *testing.T) {
	env, key := newApp(t, nil)
	ctx := context.Background()
	w := &statuswrite.Writer{Client: env.Client}
	app := &gitopsv1alpha1.Application{}
	if err := w.Get(ctx, key, app); err != nil {
		t.Fatal(err)
	}
	before := app.DeepCopy()
	app.Status.OperationState = &gitopsv1alpha1.OperationState{Phase: gitopsv1alpha1.OperationFailed, RetryCount: 2, Message: "failed",
		StartedAt: metav1.Now()}
	if err := statuswrite.Patch(ctx, w, before, app, changed); err != nil {
		t.Fatal(err)
	}
	before = app.DeepCopy()
	app.Status.OperationState = &gitopsv1alpha1.OperationState{Phase: gitopsv1alpha1.OperationSucceeded, StartedAt: metav1.Now()}
	if err := statuswrite.Patch(ctx, w, before, app, changed); err != nil {
		t.Fatal(err)
	}
	got := &gitopsv1alpha1.Application{}
	if err := env.Client.Get(ctx, key, got); err != nil {
		t.Fatal(err)
	}
	if st := got.Status.OperationState; st.Phase != gitopsv1alpha1.OperationSucceeded || st.RetryCount != 0 || st.Message != "" {
		t.Fatalf("stored operation state %+v: want Succeeded with no retry count or message left over", st)
	}
}

// countingReader counts the reads that go past the cache to the server.
type countingReader struct {
	client.Reader
	reads int
}

func (r *countingReader) Get(ctx context.Context, key types.NamespacedName, obj client.Object, opts ...client.GetOption) error {
	r.reads++
	return r.Reader.Get(ctx, key, obj, opts...)
}

// A cache that is ahead of the writer's last write (someone else wrote
// since, as a user's refresh annotation does) already holds that write: it
// is used as it is, without a read from the server. One behind is not.
func TestCacheAheadOfTheLastWriteIsUsed(t *testing.T) {
	env, key := newApp(t, nil)
	ctx := context.Background()
	cache := &staleCache{Client: env.Client}
	server := &countingReader{Reader: env.Client}
	w := &statuswrite.Writer{Client: cache, Reader: server}

	base := &gitopsv1alpha1.Application{}
	if err := env.Client.Get(ctx, key, base); err != nil {
		t.Fatal(err)
	}
	desired := base.DeepCopy()
	desired.Status.Sync.Status = gitopsv1alpha1.SyncStatusSynced
	if err := statuswrite.Patch(ctx, w, base, desired, changed); err != nil {
		t.Fatal(err)
	}
	// A user annotates the app after that write; the cache has caught up.
	later := desired.DeepCopy()
	later.Annotations = map[string]string{"argocd.argoproj.io/refresh": "normal"}
	if err := env.Client.Update(ctx, later); err != nil {
		t.Fatal(err)
	}
	cache.frozen = later.DeepCopy()
	got := &gitopsv1alpha1.Application{}
	if err := w.Get(ctx, key, got); err != nil {
		t.Fatal(err)
	}
	if server.reads != 0 || got.ResourceVersion != later.ResourceVersion || got.Status.Sync.Status != gitopsv1alpha1.SyncStatusSynced {
		t.Errorf("cache ahead: %d server reads, got version %s (%s), want the cache's %s", server.reads, got.ResourceVersion, got.Status.Sync.Status, later.ResourceVersion)
	}

	// The cache falls behind a new write: the server is asked.
	desired = got.DeepCopy()
	desired.Status.Sync.Status = gitopsv1alpha1.SyncStatusOutOfSync
	if err := statuswrite.Patch(ctx, w, got, desired, changed); err != nil {
		t.Fatal(err)
	}
	got = &gitopsv1alpha1.Application{}
	if err := w.Get(ctx, key, got); err != nil {
		t.Fatal(err)
	}
	if server.reads != 1 || got.Status.Sync.Status != gitopsv1alpha1.SyncStatusOutOfSync {
		t.Errorf("cache behind: %d server reads, status %s; want 1 read and OutOfSync", server.reads, got.Status.Sync.Status)
	}
}
