package vcluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	projectpkg "gantry.dev/gantry/internal/project"
)

// gantryUserAgentPrefix marks gantry's own clients, whose requests never keep a
// virtual cluster awake.
const gantryUserAgentPrefix = "gantry/"

// Sleeper puts idle virtual clusters to sleep and wakes them for the proxy.
// It only sets and removes SleepingAnnotation; the reconciler does the rest,
// and records the activity in the status.
type Sleeper struct {
	Client  client.Client
	Runtime Activity
	// Interval between idleness checks (default 5s).
	Interval time.Duration
	// Leading reports whether this replica of gantry runs the controllers
	// (leader election); nil: always. A replica that does not lead keeps no
	// control plane of its own, so the activity it sees through the proxy
	// goes into the cluster's ActivityAnnotation, which the leader's sleeper
	// reads: a cluster used only through another replica stays awake.
	Leading func() bool

	mu       sync.Mutex
	recorded map[types.NamespacedName]time.Time
}

// Activity is what the sleeper needs of the runtime (Runtime; tests give a
// fake): the activity of running virtual clusters, and their readiness.
type Activity interface {
	// LastActivity is when a ready virtual cluster last saw activity.
	LastActivity(key types.NamespacedName) (time.Time, bool)
	// Touch records activity.
	Touch(key types.NamespacedName)
	// WaitReady waits until the virtual cluster's API answers.
	WaitReady(ctx context.Context, key types.NamespacedName) (*rest.Config, error)
	// EnsureRBAC binds gantry's groups inside the ready virtual cluster.
	EnsureRBAC(ctx context.Context, key types.NamespacedName, project string) error
}

var _ Activity = (*Runtime)(nil)

// Start implements manager.Runnable.
func (s *Sleeper) Start(ctx context.Context) error {
	interval := s.Interval
	if interval == 0 {
		interval = 5 * time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := s.check(ctx); err != nil {
				// Retried at the next tick.
				log.FromContext(ctx).WithName("sleeper").Error(err, "putting idle virtual clusters to sleep")
			}
		}
	}
}

// check sleeps every running virtual cluster idle for longer than its sleepAfter.
func (s *Sleeper) check(ctx context.Context) error {
	list := &platformv1alpha1.VirtualClusterList{}
	if err := s.Client.List(ctx, list); err != nil {
		return fmt.Errorf("listing virtual clusters: %w", err)
	}
	var errs []error
	for i := range list.Items {
		vc := &list.Items[i]
		if vc.Spec.SleepAfter == nil || vc.Spec.SleepAfter.Duration <= 0 || vc.Annotations[SleepingAnnotation] != "" || !vc.DeletionTimestamp.IsZero() {
			continue
		}
		last, ready := s.Runtime.LastActivity(types.NamespacedName{Namespace: vc.Namespace, Name: vc.Name})
		// Another replica's proxy may have seen later activity.
		if t, err := time.Parse(time.RFC3339, vc.Annotations[ActivityAnnotation]); err == nil && t.After(last) {
			last = t
		}
		if !ready || time.Since(last) < vc.Spec.SleepAfter.Duration {
			continue
		}
		patch := client.MergeFrom(vc.DeepCopy())
		if vc.Annotations == nil {
			vc.Annotations = map[string]string{}
		}
		vc.Annotations[SleepingAnnotation] = time.Now().UTC().Format(time.RFC3339)
		if err := s.Client.Patch(ctx, vc, patch); client.IgnoreNotFound(err) != nil {
			errs = append(errs, fmt.Errorf("putting virtual cluster %s/%s to sleep: %w", vc.Namespace, vc.Name, err))
		}
	}
	return errors.Join(errs...)
}

// Wake is for the proxy (vcproxy.Backend): it wakes a sleeping virtual cluster and holds the
// caller until its API answers.
func (s *Sleeper) Wake(ctx context.Context, project, name string) (*rest.Config, error) {
	return s.get(ctx, project, name, true)
}

// Awake is for passive callers of the proxy (vcproxy.Backend): as Wake, but a sleeping cluster stays asleep.
func (s *Sleeper) Awake(ctx context.Context, project, name string) (*rest.Config, error) {
	return s.get(ctx, project, name, false)
}

func (s *Sleeper) get(ctx context.Context, project, name string, wake bool) (*rest.Config, error) {
	key := types.NamespacedName{Namespace: projectpkg.Namespace(project), Name: name}
	vc := &platformv1alpha1.VirtualCluster{}
	if err := s.Client.Get(ctx, key, vc); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, NotFoundError{Project: project, Name: name}
		}
		return nil, err
	}
	if !vc.DeletionTimestamp.IsZero() {
		return nil, fmt.Errorf("virtual cluster %s is being deleted", name)
	}
	if _, asleep := vc.Annotations[SleepingAnnotation]; asleep && !wake {
		return nil, AsleepError{Project: project, Name: name}
	} else if asleep {
		patch := client.MergeFrom(vc.DeepCopy())
		delete(vc.Annotations, SleepingAnnotation)
		if err := s.Client.Patch(ctx, vc, patch); err != nil {
			return nil, fmt.Errorf("waking virtual cluster %s: %w", name, err)
		}
	}
	cfg, err := s.Runtime.WaitReady(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("virtual cluster %s %w", name, err)
	}
	// The proxy acts as the caller (impersonation): the bindings of gantry's
	// groups must be in place before the first request.
	if err := s.Runtime.EnsureRBAC(ctx, key, project); err != nil {
		return nil, fmt.Errorf("virtual cluster %s: %w", name, err)
	}
	return cfg, nil
}

// Activity is for the proxy (vcproxy.Backend).
func (s *Sleeper) Activity(project, name, userAgent string) {
	if strings.HasPrefix(userAgent, gantryUserAgentPrefix) {
		return
	}
	key := types.NamespacedName{Namespace: projectpkg.Namespace(project), Name: name}
	vc := &platformv1alpha1.VirtualCluster{}
	err := s.Client.Get(context.Background(), key, vc)
	if err == nil {
		for _, pattern := range vc.Spec.SleepIgnoreUserAgents {
			if glob(pattern, userAgent) {
				return
			}
		}
	}
	s.Runtime.Touch(key)
	if err == nil && s.Leading != nil && !s.Leading() {
		s.record(vc)
	}
}

// ActivityAnnotation is when a replica of gantry that does not lead last
// saw activity through its proxy (RFC 3339); the leader's sleeper reads it
// beside its own. An annotation, not status.lastActivityTime: that one is
// the leader's own record.
const ActivityAnnotation = "platform.gantry.dev/last-activity"

// record writes the activity a replica that does not lead sees into
// ActivityAnnotation: at most every ActivityRecordEvery (a quarter of
// sleepAfter when that is shorter), so that traffic costs few writes and the
// leader still sees it in time.
func (s *Sleeper) record(vc *platformv1alpha1.VirtualCluster) {
	every := ActivityRecordEvery
	if vc.Spec.SleepAfter != nil && vc.Spec.SleepAfter.Duration/4 < every {
		every = vc.Spec.SleepAfter.Duration / 4
	}
	key := types.NamespacedName{Namespace: vc.Namespace, Name: vc.Name}
	now := time.Now()
	s.mu.Lock()
	if s.recorded == nil {
		s.recorded = map[types.NamespacedName]time.Time{}
	}
	if now.Sub(s.recorded[key]) < every {
		s.mu.Unlock()
		return
	}
	s.recorded[key] = now
	s.mu.Unlock()
	if t, err := time.Parse(time.RFC3339, vc.Annotations[ActivityAnnotation]); err == nil && now.Sub(t) < every {
		return // another replica wrote it a moment ago
	}
	patch := fmt.Appendf(nil, `{"metadata":{"annotations":{%q:%q}}}`, ActivityAnnotation, now.UTC().Format(time.RFC3339))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Client.Patch(ctx, vc, client.RawPatch(types.MergePatchType, patch)); client.IgnoreNotFound(err) != nil {
		log.FromContext(ctx).WithName("sleeper").Error(err, "recording activity", "vcluster", key)
	}
}

// glob reports whether s matches pattern, where * matches any run of characters
// (slashes included: user agents are full of them).
func glob(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}
