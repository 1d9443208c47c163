package vcluster

import (
	"context"
	"errors"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
)

// A cluster idle for longer than its sleepAfter is put to sleep: its control
// plane stops (its data kept), its host workloads go, and it says Sleeping,
// Asleep. A passive caller does not wake it; a request does, held until the
// API answers, and the cluster runs again.
func TestSleepAndWake(t *testing.T) {
	h := newHarness(t, platformv1alpha1.ProjectSpec{})
	key := h.create("sleepy", func(vc *platformv1alpha1.VirtualCluster) {
		vc.Spec.SleepAfter = &metav1.Duration{Duration: time.Hour}
	})
	h.phase(key, platformv1alpha1.PhaseStarting)
	h.rt.ready(t, key)
	h.phase(key, platformv1alpha1.PhaseRunning)
	hostNS := HostNamespace(key.Namespace, key.Name)

	s := &Sleeper{Client: h.c, Runtime: h.rt, Interval: 20 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Start(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	h.rt.setActivity(key, time.Now().Add(-2*time.Hour))
	vc := h.phase(key, platformv1alpha1.PhaseSleeping)
	if vc.Annotations[SleepingAnnotation] == "" {
		t.Errorf("asleep without annotation %s: %v", SleepingAnnotation, vc.Annotations)
	}
	condition(t, vc, platformv1alpha1.ConditionReady, metav1.ConditionFalse, platformv1alpha1.ReasonAsleep)
	condition(t, vc, platformv1alpha1.ConditionOnline, metav1.ConditionFalse, platformv1alpha1.ReasonAsleep)
	if _, running := h.rt.Running(key); running {
		t.Error("the control plane of a sleeping cluster runs")
	}
	if got := h.cleanups(); len(got) != 1 || got[0] != hostNS {
		t.Errorf("host workloads cleaned up in %v, want [%s]", got, hostNS)
	}

	if _, err := s.Awake(ctx, h.project, "sleepy"); !errors.As(err, &AsleepError{}) {
		t.Fatalf("a passive caller: %v, want AsleepError", err)
	}

	type answer struct {
		host string
		err  error
	}
	woken := make(chan answer, 1)
	go func() {
		wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
		defer wcancel()
		cfg, err := s.Wake(wctx, h.project, "sleepy")
		if err != nil {
			woken <- answer{err: err}
			return
		}
		woken <- answer{host: cfg.Host}
	}()
	h.phase(key, platformv1alpha1.PhaseStarting)
	select {
	case a := <-woken:
		t.Fatalf("Wake answered before the API server did: %+v", a)
	default:
	}
	h.rt.ready(t, key)
	a := <-woken
	endpoint, _ := h.rt.Endpoint(key)
	if a.err != nil || a.host != endpoint {
		t.Fatalf("Wake: %+v, want the API server at %s", a, endpoint)
	}
	vc = h.phase(key, platformv1alpha1.PhaseRunning)
	if _, ok := vc.Annotations[SleepingAnnotation]; ok {
		t.Errorf("running with annotation %s", SleepingAnnotation)
	}
	started, stopped, removed, rbac, _ := h.rt.seen(key)
	if len(started) != 2 || stopped != 1 || removed || rbac != h.project {
		t.Errorf("runtime: %d starts, %d stops, data removed %v, RBAC for %q; want 2, 1, false, %q", len(started), stopped, removed, rbac, h.project)
	}
}

// A running cluster's activity reaches its status (lastActivityTime) once it
// has moved on by ActivityRecordEvery, not at every request.
func TestActivityRecorded(t *testing.T) {
	h := newHarness(t, platformv1alpha1.ProjectSpec{})
	key := h.create("busy", nil)
	h.phase(key, platformv1alpha1.PhaseStarting)
	h.rt.ready(t, key)
	vc := h.phase(key, platformv1alpha1.PhaseRunning)
	if vc.Status.LastActivityTime == nil {
		t.Fatal("no lastActivityTime once running")
	}
	first := vc.Status.LastActivityTime.Time

	h.rt.setActivity(key, first.Add(10*time.Second))
	h.update(key, func(vc *platformv1alpha1.VirtualCluster) { vc.Spec.Labels = map[string]string{"seen": "1"} })
	vc = h.phase(key, platformv1alpha1.PhaseRunning)
	if got := vc.Status.LastActivityTime.Time; !got.Equal(first) {
		t.Errorf("lastActivityTime %s after 10 s more activity, want %s kept", got, first)
	}

	later := first.Add(40 * time.Second)
	h.rt.setActivity(key, later)
	h.wait(key, "the later activity recorded", func(vc *platformv1alpha1.VirtualCluster) error {
		if got := vc.Status.LastActivityTime.Time; !got.Equal(later.Truncate(time.Second)) {
			return errors.New("lastActivityTime " + got.String())
		}
		return nil
	})
}

// Activity tells the reconciler (the runtime's change channel) once it has
// moved on by ActivityRecordEvery since it last did, not at every request.
func TestTouchAnnouncesActivity(t *testing.T) {
	r := NewRuntime(RuntimeOptions{})
	key := types.NamespacedName{Namespace: "p-a", Name: "dev"}
	in := &instance{state: StateReady, announced: time.Now()}
	r.instances[key] = in
	announced := func() int {
		n := 0
		for {
			select {
			case e := <-r.Changes():
				if e.Object.GetName() != key.Name || e.Object.GetNamespace() != key.Namespace {
					t.Fatalf("event for %s/%s", e.Object.GetNamespace(), e.Object.GetName())
				}
				n++
			default:
				return n
			}
		}
	}
	r.Touch(key)
	if n := announced(); n != 0 {
		t.Fatalf("%d announcements right after the last", n)
	}
	in.mu.Lock()
	in.announced = time.Now().Add(-ActivityRecordEvery)
	in.mu.Unlock()
	r.Touch(key)
	r.Touch(key)
	if n := announced(); n != 1 {
		t.Fatalf("%d announcements after %s, want 1", n, ActivityRecordEvery)
	}
}

// With several replicas of gantry, a cluster used only through a replica
// that does not lead stays awake: that replica records the activity in the
// cluster's status, and the leader's sleeper reads it there. A cluster idle
// everywhere still goes to sleep.
func TestActivityThroughAnotherReplica(t *testing.T) {
	h := newHarness(t, platformv1alpha1.ProjectSpec{})
	ctx := context.Background()
	keys := map[string]types.NamespacedName{}
	for _, name := range []string{"busy", "idle"} {
		keys[name] = h.create(name, func(vc *platformv1alpha1.VirtualCluster) {
			vc.Spec.SleepAfter = &metav1.Duration{Duration: time.Hour}
		})
		h.phase(keys[name], platformv1alpha1.PhaseStarting)
		h.rt.ready(t, keys[name])
		h.phase(keys[name], platformv1alpha1.PhaseRunning)
		// The leader's own proxy saw nothing for two hours.
		h.rt.setActivity(keys[name], time.Now().Add(-2*time.Hour))
	}
	standby := &Sleeper{Client: h.c, Runtime: newFakeRuntime(), Leading: func() bool { return false }}
	standby.Activity(h.project, "busy", "kubectl/v1.37.2")
	vc := &platformv1alpha1.VirtualCluster{}
	if err := h.c.Get(ctx, keys["busy"], vc); err != nil {
		t.Fatal(err)
	}
	if at, err := time.Parse(time.RFC3339, vc.Annotations[ActivityAnnotation]); err != nil || time.Since(at) > time.Minute {
		t.Fatalf("the standby did not record the activity: %v", vc.Annotations)
	}

	leader := &Sleeper{Client: h.c, Runtime: h.rt}
	if err := leader.check(ctx); err != nil {
		t.Fatal(err)
	}
	h.phase(keys["idle"], platformv1alpha1.PhaseSleeping)
	if err := h.c.Get(ctx, keys["busy"], vc); err != nil {
		t.Fatal(err)
	}
	if vc.Annotations[SleepingAnnotation] != "" {
		t.Errorf("a cluster used through the standby was put to sleep: %v", vc.Annotations)
	}
}
