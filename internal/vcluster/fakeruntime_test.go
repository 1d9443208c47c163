package vcluster

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/kubeconfig"
	"gantry.dev/gantry/internal/kubetest"
	"gantry.dev/gantry/internal/podsecurity"
)

// fakeRuntime is the runtime without processes: Ensure "starts" a control
// plane, which becomes ready or fails when the test says so (ready, fail),
// as the real one does when kube-apiserver answers or exits.
type fakeRuntime struct {
	changes chan event.GenericEvent

	mu      sync.Mutex
	planes  map[types.NamespacedName]*fakePlane
	started map[types.NamespacedName][]Config // every Ensure that started one
	stopped map[types.NamespacedName]int
	removed map[types.NamespacedName]bool
	rbac    map[types.NamespacedName]string // project bound inside
	syncers map[types.NamespacedName]string // host namespace
	port    int
}

type fakePlane struct {
	cfg      Config
	state    State
	err      error
	endpoint string
	activity time.Time
}

var (
	_ ControlPlanes = (*fakeRuntime)(nil)
	_ Activity      = (*fakeRuntime)(nil)
)

func newFakeRuntime() *fakeRuntime {
	return &fakeRuntime{changes: make(chan event.GenericEvent, 64), planes: map[types.NamespacedName]*fakePlane{},
		started: map[types.NamespacedName][]Config{}, stopped: map[types.NamespacedName]int{},
		removed: map[types.NamespacedName]bool{}, rbac: map[types.NamespacedName]string{},
		syncers: map[types.NamespacedName]string{}, port: 40000}
}

func (f *fakeRuntime) Start(ctx context.Context) error    { <-ctx.Done(); return nil }
func (f *fakeRuntime) Changes() <-chan event.GenericEvent { return f.changes }

func (f *fakeRuntime) notify(key types.NamespacedName) {
	f.changes <- event.GenericEvent{Object: &platformv1alpha1.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}}
}

func (f *fakeRuntime) Ensure(key types.NamespacedName, cfg Config) (State, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p, ok := f.planes[key]; ok {
		return p.state, p.err
	}
	if cfg.PodSecurity == "" {
		cfg.PodSecurity = podsecurity.Default
	}
	f.port++
	f.planes[key] = &fakePlane{cfg: cfg, state: StateStarting, endpoint: fmt.Sprintf("https://127.0.0.1:%d", f.port)}
	f.started[key] = append(f.started[key], cfg)
	return StateStarting, nil
}

func (f *fakeRuntime) plane(key types.NamespacedName) (*fakePlane, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.planes[key]
	if !ok {
		return nil, false
	}
	cp := *p
	return &cp, true
}

func (f *fakeRuntime) Running(key types.NamespacedName) (Config, bool) {
	p, ok := f.plane(key)
	if !ok {
		return Config{}, false
	}
	return p.cfg, true
}

func (f *fakeRuntime) Endpoint(key types.NamespacedName) (string, bool) {
	p, ok := f.plane(key)
	if !ok {
		return "", false
	}
	return p.endpoint, true
}

func (f *fakeRuntime) Admin(key types.NamespacedName) (kubeconfig.Config, bool) {
	p, ok := f.plane(key)
	if !ok {
		return kubeconfig.Config{}, false
	}
	return kubeconfig.Config{Server: p.endpoint, CA: []byte("ca of " + key.String()),
		CertPEM: []byte("certificate"), KeyPEM: []byte("key")}, true
}

func (f *fakeRuntime) EnsureRBAC(_ context.Context, key types.NamespacedName, project string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p, ok := f.planes[key]; ok && p.state == StateReady {
		f.rbac[key] = project
	}
	return nil
}

func (f *fakeRuntime) EnsureSyncer(key types.NamespacedName, hostNamespace string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p, ok := f.planes[key]; ok && p.state == StateReady {
		f.syncers[key] = hostNamespace
	}
}

func (f *fakeRuntime) LastActivity(key types.NamespacedName) (time.Time, bool) {
	p, ok := f.plane(key)
	if !ok {
		return time.Time{}, false
	}
	return p.activity, p.state == StateReady
}

func (f *fakeRuntime) Touch(key types.NamespacedName) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p, ok := f.planes[key]; ok {
		p.activity = time.Now()
	}
}

func (f *fakeRuntime) WaitReady(ctx context.Context, key types.NamespacedName) (*rest.Config, error) {
	for {
		if p, ok := f.plane(key); ok && p.state == StateReady {
			return &rest.Config{Host: p.endpoint}, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("did not start in time: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (f *fakeRuntime) Stop(key types.NamespacedName) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.planes[key]; ok {
		delete(f.planes, key)
		f.stopped[key]++
	}
}

func (f *fakeRuntime) Remove(key types.NamespacedName) error {
	f.Stop(key)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.removed[key] = true
	return nil
}

// ready makes the control plane of key answer, as kube-apiserver's /readyz would.
func (f *fakeRuntime) ready(t *testing.T, key types.NamespacedName) {
	t.Helper()
	f.mu.Lock()
	p, ok := f.planes[key]
	if ok {
		p.state, p.activity = StateReady, time.Now()
	}
	f.mu.Unlock()
	if !ok {
		t.Fatalf("no control plane of %s was started", key)
	}
	f.notify(key)
}

// fail makes the control plane of key exit with err.
func (f *fakeRuntime) fail(t *testing.T, key types.NamespacedName, err error) {
	t.Helper()
	f.mu.Lock()
	p, ok := f.planes[key]
	if ok {
		p.state, p.err = StateFailed, err
	}
	f.mu.Unlock()
	if !ok {
		t.Fatalf("no control plane of %s was started", key)
	}
	f.notify(key)
}

// setActivity sets the last activity of key and tells the reconciler, as the
// runtime does when activity has moved on.
func (f *fakeRuntime) setActivity(key types.NamespacedName, at time.Time) {
	f.mu.Lock()
	if p, ok := f.planes[key]; ok {
		p.activity = at
	}
	f.mu.Unlock()
	f.notify(key)
}

// seen returns what the runtime was asked for key, under its lock.
func (f *fakeRuntime) seen(key types.NamespacedName) (started []Config, stopped int, removed bool, rbac, syncer string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.started[key]), f.stopped[key], f.removed[key], f.rbac[key], f.syncers[key]
}

// harness runs the reconciler, with a fake runtime, against the package's
// real API server, for one project made for the test.
type harness struct {
	t       *testing.T
	c       client.Client
	rt      *fakeRuntime
	project string
	ns      string

	mu      sync.Mutex
	cleaned []string // host namespaces whose workloads Cleanup removed
}

func newHarness(t *testing.T, spec platformv1alpha1.ProjectSpec) *harness {
	t.Helper()
	env := kubetest.Shared(t, kubetest.Options{CRDs: true})
	h := &harness{t: t, c: env.Client, rt: newFakeRuntime()}
	h.project, h.ns = env.Project(t, spec)
	env.Manager(t, func(mgr ctrl.Manager) error {
		return (&Reconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Runtime: h.rt,
			Recorder: mgr.GetEventRecorderFor("gantry"), Cleanup: h.cleanup}).SetupWithManager(mgr)
	})
	return h
}

func (h *harness) cleanup(_ context.Context, hostNamespace, _ string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cleaned = append(h.cleaned, hostNamespace)
	return nil
}

func (h *harness) cleanups() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.cleaned)
}

// create makes a VirtualCluster in the project, deleted (while the
// reconciler still runs) when the test ends.
func (h *harness) create(name string, edit func(*platformv1alpha1.VirtualCluster)) types.NamespacedName {
	h.t.Helper()
	vc := &platformv1alpha1.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: name}}
	if edit != nil {
		edit(vc)
	}
	if err := h.c.Create(context.Background(), vc); err != nil {
		h.t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(vc)
	h.t.Cleanup(func() {
		if err := h.c.Delete(context.Background(), vc); apierrors.IsNotFound(err) {
			return
		}
		h.gone(key)
	})
	return key
}

// get reads a VirtualCluster.
func (h *harness) get(key types.NamespacedName) *platformv1alpha1.VirtualCluster {
	h.t.Helper()
	vc := &platformv1alpha1.VirtualCluster{}
	if err := h.c.Get(context.Background(), key, vc); err != nil {
		h.t.Fatal(err)
	}
	return vc
}

// update changes a VirtualCluster's metadata or spec, as a user would.
func (h *harness) update(key types.NamespacedName, change func(*platformv1alpha1.VirtualCluster)) {
	h.t.Helper()
	vc := h.get(key)
	patch := client.MergeFrom(vc.DeepCopy())
	change(vc)
	if err := h.c.Patch(context.Background(), vc, patch); err != nil {
		h.t.Fatal(err)
	}
}

// wait polls key's VirtualCluster until ok says nil, for up to 20 s.
func (h *harness) wait(key types.NamespacedName, what string, ok func(*platformv1alpha1.VirtualCluster) error) *platformv1alpha1.VirtualCluster {
	h.t.Helper()
	var vc *platformv1alpha1.VirtualCluster
	within(h.t, 20*time.Second, what, func() error {
		vc = &platformv1alpha1.VirtualCluster{}
		if err := h.c.Get(context.Background(), key, vc); err != nil {
			return err
		}
		return ok(vc)
	})
	return vc
}

// phase waits for key's phase, with the status describing its generation.
func (h *harness) phase(key types.NamespacedName, want platformv1alpha1.VirtualClusterPhase) *platformv1alpha1.VirtualCluster {
	h.t.Helper()
	return h.wait(key, "phase "+string(want), func(vc *platformv1alpha1.VirtualCluster) error {
		if vc.Status.Phase != want || vc.Status.ObservedGeneration != vc.Generation {
			return fmt.Errorf("phase %q, observed generation %d of %d", vc.Status.Phase, vc.Status.ObservedGeneration, vc.Generation)
		}
		return nil
	})
}

// gone waits until key's VirtualCluster no longer exists.
func (h *harness) gone(key types.NamespacedName) {
	h.t.Helper()
	within(h.t, 20*time.Second, key.String()+" to be deleted", func() error {
		err := h.c.Get(context.Background(), key, &platformv1alpha1.VirtualCluster{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("still there (%v)", err)
	})
}

// event waits for an event of reason about key's VirtualCluster and returns it.
func (h *harness) event(key types.NamespacedName, eventType, reason string) corev1.Event {
	h.t.Helper()
	var found corev1.Event
	within(h.t, 20*time.Second, "event "+reason, func() error {
		var list corev1.EventList
		if err := h.c.List(context.Background(), &list, client.InNamespace(key.Namespace)); err != nil {
			return err
		}
		for _, e := range list.Items {
			if e.InvolvedObject.Kind == "VirtualCluster" && e.InvolvedObject.Name == key.Name && e.Reason == reason && e.Type == eventType {
				found = e
				return nil
			}
		}
		return fmt.Errorf("%d events in %s, none %s %s about %s", len(list.Items), key.Namespace, eventType, reason, key.Name)
	})
	return found
}

// condition requires key's condition typ to have status and reason.
func condition(t *testing.T, vc *platformv1alpha1.VirtualCluster, typ string, status metav1.ConditionStatus, reason string) metav1.Condition {
	t.Helper()
	for _, c := range vc.Status.Conditions {
		if c.Type == typ {
			if c.Status != status || c.Reason != reason {
				t.Errorf("condition %s is %s/%s (%s), want %s/%s", typ, c.Status, c.Reason, c.Message, status, reason)
			}
			return c
		}
	}
	t.Errorf("no condition %s in %+v", typ, vc.Status.Conditions)
	return metav1.Condition{}
}
