package vcluster

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/event"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/controlplane"
	"gantry.dev/gantry/internal/kubebin"
	"gantry.dev/gantry/internal/kubeconfig"
	"gantry.dev/gantry/internal/podsecurity"
	"gantry.dev/gantry/internal/supervisor"
)

// tenantEnv: a virtual cluster's heap is mostly what its API server keeps for
// its whole life (OpenAPI, handlers, clients), and its garbage a trickle once
// idle. GOGC=25 instead of the control plane's default 50 lets the heap grow a
// quarter over that, not half: 18 MiB less RSS per idle cluster for no
// measurable idle CPU (0.75 vs 0.78 CPU-s a minute, measured on this machine).
// The host keeps 50: it does the heavy lifting of a thousand apps.
var tenantEnv = []string{"GOGC=25"}

// State is where a virtual cluster's control plane is in its life.
type State string

const (
	StateStopped  State = "Stopped"
	StateStarting State = "Starting"
	StateReady    State = "Ready"
	StateFailed   State = "Failed"
)

// SyncFunc runs the syncer of one virtual cluster until ctx ends, holding its
// pods to podSecurity, the level its control plane was started with.
type SyncFunc func(ctx context.Context, vc types.NamespacedName, virtual *rest.Config, hostNamespace string, podSecurity podsecurity.Level) error

// Config is what a virtual cluster's control plane is started with; a change
// takes a restart (the reconciler decides when).
type Config struct {
	// Storage is a kine DSN; empty means SQLite in the cluster's directory.
	Storage string
	// PodSecurity is the level its kube-apiserver's Pod Security admission
	// enforces by default and its syncer enforces on every host pod; empty
	// means podsecurity.Default.
	PodSecurity podsecurity.Level
}

// RuntimeOptions configure the runtime.
type RuntimeOptions struct {
	// DataDir holds one directory per virtual cluster (<DataDir>/<namespace>/<name>).
	DataDir  string
	Binaries kubebin.Set
	Sync     SyncFunc
	Logger   logr.Logger
	// Trust, when set, makes every virtual kube-apiserver accept tokens from
	// gantry's OpenID Connect issuer (see Trust).
	Trust *Trust
	// Kubelet, when set, is the kubelet API that virtual API servers call for
	// their pods' logs, exec, attach and port-forward (package kubeletapi).
	Kubelet KubeletAPI
	// ExtraSANs, when set, gives names and addresses added to every virtual
	// API server's serving certificate at its start: the host Service through
	// which its pods reach it (package incluster), so that they verify it by
	// that address with the CA they mount. A function: the Service is made
	// after the runtime.
	ExtraSANs func() []string
	// SparesAfter is how long after gantry starts the spare control planes are
	// first made (spare.go), so that even the first virtual cluster starts
	// warm. Zero means 20 s (out of the way of gantry's own start); negative
	// means only after the first virtual cluster has started.
	SparesAfter time.Duration
}

// KubeletAPI gives a virtual kube-apiserver what it needs to call the kubelet
// API that serves its pods: its client certificate, written into the
// cluster's directory, and the flags naming it.
type KubeletAPI interface {
	APIServerFlags(dir string, vc types.NamespacedName) (map[string]string, error)
}

// Runtime keeps the control planes (and syncers) of virtual clusters running in
// gantry's process.
type Runtime struct {
	opts    RuntimeOptions
	changed chan event.GenericEvent

	mu        sync.Mutex
	instances map[types.NamespacedName]*instance

	// spare control plane (spare.go)
	spareMu   sync.Mutex
	preparing bool
	ctx       context.Context // the runtime's lifetime, for background work
}

type instance struct {
	cp     *controlplane.ControlPlane
	cfg    Config
	cancel context.CancelFunc
	done   chan struct{}

	mu         sync.Mutex
	state      State
	err        error
	failedAt   time.Time
	readyAt    time.Time
	activity   time.Time // last request that counts as activity
	announced  time.Time // activity the reconciler was last told of (ActivityRecordEvery)
	syncCancel context.CancelFunc
	syncDone   chan struct{}
	rbacDone   bool // gantry's role bindings applied since this start
}

// NewRuntime returns an empty runtime.
func NewRuntime(opts RuntimeOptions) *Runtime {
	return &Runtime{opts: opts, changed: make(chan event.GenericEvent, 64), instances: map[types.NamespacedName]*instance{},
		ctx: context.Background()}
}

// Changes delivers an event whenever a control plane becomes ready or fails,
// and when its activity has moved on by ActivityRecordEvery.
func (r *Runtime) Changes() <-chan event.GenericEvent { return r.changed }

// ActivityRecordEvery is how far a virtual cluster's activity moves on before
// it is recorded in its status (lastActivityTime): roughly current, without a
// write per request.
const ActivityRecordEvery = 30 * time.Second

func (r *Runtime) notify(key types.NamespacedName) {
	obj := &platformv1alpha1.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace}}
	select {
	case r.changed <- event.GenericEvent{Object: obj}:
	default:
		// The queue is full of pending reconciles, which will see this change too.
	}
}

// RetryFailedAfter is how long a control plane that failed to start is left alone
// before Ensure tries again.
const RetryFailedAfter = 30 * time.Second

// Ensure starts the control plane of key with cfg unless it runs (with whatever
// config it was started: see Running), and returns its state. A control plane
// that failed stays Failed (with its error) for RetryFailedAfter.
func (r *Runtime) Ensure(key types.NamespacedName, cfg Config) (State, error) {
	if cfg.PodSecurity == "" {
		cfg.PodSecurity = podsecurity.Default
	}
	storage := cfg.Storage
	r.mu.Lock()
	defer r.mu.Unlock()
	if in, ok := r.instances[key]; ok {
		in.mu.Lock()
		state, err, failedAt := in.state, in.err, in.failedAt
		in.mu.Unlock()
		if state != StateFailed || time.Since(failedAt) < RetryFailedAfter {
			return state, err
		}
		delete(r.instances, key) // its Run has returned: nothing runs
	}
	dir := dataDir(r.opts.DataDir, key.Namespace, key.Name)
	if storage == "" {
		// A new virtual cluster takes the spare when there is one; then a new spare is
		// made for the next creation.
		if _, err := os.Stat(dir); os.IsNotExist(err) {
			r.takeSpare(dir)
		}
	}
	flags, err := APIServerFlags(dir, key, cfg, r.opts.Trust, r.opts.Kubelet)
	if err != nil {
		return StateFailed, err
	}
	var sans []string
	if r.opts.ExtraSANs != nil {
		sans = r.opts.ExtraSANs()
	}
	cp, err := controlplane.New(controlplane.Options{
		Name:           "vcluster " + key.String(),
		ExtraSANs:      sans,
		Dir:            dir,
		Binaries:       r.opts.Binaries,
		Storage:        storage,
		APIServerFlags: flags,
		Env:            tenantEnv,
	})
	if err != nil {
		return StateFailed, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	in := &instance{cp: cp, cfg: cfg, cancel: cancel, done: make(chan struct{}), state: StateStarting}
	r.instances[key] = in
	go func() {
		defer close(in.done)
		err := cp.Run(ctx)
		in.mu.Lock()
		if ctx.Err() == nil {
			in.state, in.err, in.failedAt = StateFailed, err, time.Now()
			if err == nil {
				in.err = fmt.Errorf("control plane stopped unexpectedly")
			}
		}
		in.mu.Unlock()
		r.notify(key)
	}()
	go func() {
		select {
		case <-cp.Ready():
			in.mu.Lock()
			now := time.Now()
			in.state, in.readyAt, in.activity, in.announced = StateReady, now, now, now
			in.mu.Unlock()
			r.notify(key)
			if storage == "" {
				// Made after, not during, a start so as not to slow it down.
				r.mu.Lock()
				rctx := r.ctx
				r.mu.Unlock()
				r.prepareSpare(rctx)
			}
		case <-in.done:
		}
	}()
	return StateStarting, nil
}

// APIServerFlags writes into dir the files a virtual cluster's kube-apiserver
// is started with (its Pod Security admission, the issuer it trusts when trust
// is set, its kubelet API client certificate when kubelet is set) and returns
// the flags naming them. Written at every start: a spare's directory, renamed
// to this cluster's, gets this cluster's files. cfg.PodSecurity must be set.
func APIServerFlags(dir string, key types.NamespacedName, cfg Config, trust *Trust, kubelet KubeletAPI) (controlplane.Flags, error) {
	admission, err := writeAdmissionConfig(dir, cfg.PodSecurity)
	if err != nil {
		return nil, err
	}
	flags := controlplane.Flags{"admission-control-config-file": admission}
	if trust != nil {
		path, err := writeAuthenticationConfig(dir, *trust, Audience(key))
		if err != nil {
			return nil, err
		}
		flags["authentication-config"] = path
	}
	if kubelet != nil {
		kf, err := kubelet.APIServerFlags(dir, key)
		if err != nil {
			return nil, err
		}
		flags = flags.With(kf)
	}
	return flags, nil
}

// ControlPlane returns the running control plane of key, if any.
func (r *Runtime) ControlPlane(key types.NamespacedName) *controlplane.ControlPlane {
	r.mu.Lock()
	defer r.mu.Unlock()
	if in, ok := r.instances[key]; ok {
		return in.cp
	}
	return nil
}

// Endpoint returns the URL of the API server of key, if it runs (or starts).
func (r *Runtime) Endpoint(key types.NamespacedName) (string, bool) {
	if cp := r.ControlPlane(key); cp != nil {
		return cp.Endpoint(), true
	}
	return "", false
}

// WaitReady waits until the control plane of key runs and answers, following
// a control plane replaced meanwhile (a failed start retried), and returns
// its admin client configuration.
func (r *Runtime) WaitReady(ctx context.Context, key types.NamespacedName) (*rest.Config, error) {
	for {
		if cp := r.ControlPlane(key); cp != nil {
			select {
			case <-cp.Ready():
				return cp.RESTConfig(), nil
			case <-ctx.Done():
				return nil, fmt.Errorf("did not answer in time (it may be waking up): %w", ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
			continue
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("did not start in time: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Running returns the config the control plane of key was started with, if it
// runs (or starts, or failed and is not yet retried).
func (r *Runtime) Running(key types.NamespacedName) (Config, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if in, ok := r.instances[key]; ok {
		return in.cfg, true
	}
	return Config{}, false
}

// Admin returns the admin kubeconfig of a running virtual cluster.
func (r *Runtime) Admin(key types.NamespacedName) (kubeconfig.Config, bool) {
	cp := r.ControlPlane(key)
	if cp == nil {
		return kubeconfig.Config{}, false
	}
	return cp.Admin(), true
}

// EnsureRBAC applies gantry's role bindings inside a ready virtual cluster once
// per start (a restart re-applies them, repairing edits).
func (r *Runtime) EnsureRBAC(ctx context.Context, key types.NamespacedName, project string) error {
	r.mu.Lock()
	in, ok := r.instances[key]
	r.mu.Unlock()
	if !ok {
		return nil
	}
	in.mu.Lock()
	done, ready := in.rbacDone, in.state == StateReady
	in.mu.Unlock()
	if done || !ready {
		return nil
	}
	if err := EnsureRBAC(ctx, in.cp.RESTConfig(), project); err != nil {
		return err
	}
	in.mu.Lock()
	in.rbacDone = true
	in.mu.Unlock()
	return nil
}

// EnsureSyncer starts the syncer of a ready virtual cluster unless it runs.
func (r *Runtime) EnsureSyncer(key types.NamespacedName, hostNamespace string) {
	if r.opts.Sync == nil {
		return
	}
	r.mu.Lock()
	in, ok := r.instances[key]
	r.mu.Unlock()
	if !ok {
		return
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.syncCancel != nil || in.state != StateReady {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	in.syncCancel, in.syncDone = cancel, make(chan struct{})
	go func() {
		defer close(in.syncDone)
		for ctx.Err() == nil {
			if err := r.opts.Sync(ctx, key, in.cp.RESTConfig(), hostNamespace, in.cfg.PodSecurity); err != nil && ctx.Err() == nil {
				r.opts.Logger.Error(err, "syncer stopped; restarting", "vcluster", key)
				select {
				case <-ctx.Done():
				case <-time.After(2 * time.Second):
				}
			}
		}
	}()
}

// Stop stops the syncer and the control plane of key and waits for them; the data
// directory is kept (a sleeping or restarting virtual cluster keeps its state).
func (r *Runtime) Stop(key types.NamespacedName) {
	r.mu.Lock()
	in, ok := r.instances[key]
	delete(r.instances, key)
	r.mu.Unlock()
	if !ok {
		return
	}
	in.mu.Lock()
	syncCancel, syncDone := in.syncCancel, in.syncDone
	in.mu.Unlock()
	if syncCancel != nil {
		syncCancel()
		<-syncDone
	}
	in.cancel()
	<-in.done
}

// Remove stops key and deletes its data directory.
func (r *Runtime) Remove(key types.NamespacedName) error {
	r.Stop(key)
	return os.RemoveAll(dataDir(r.opts.DataDir, key.Namespace, key.Name))
}

// StopAll stops every virtual cluster (gantry is shutting down; state is kept).
func (r *Runtime) StopAll() {
	r.mu.Lock()
	keys := make([]types.NamespacedName, 0, len(r.instances))
	for k := range r.instances {
		keys = append(keys, k)
	}
	r.mu.Unlock()
	var wg sync.WaitGroup
	for _, k := range keys {
		wg.Go(func() { r.Stop(k) })
	}
	wg.Wait()
}

// Components reports the processes of every running virtual cluster.
func (r *Runtime) Components() map[types.NamespacedName][]supervisor.Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[types.NamespacedName][]supervisor.Status{}
	for k, in := range r.instances {
		out[k] = in.cp.Components()
	}
	return out
}

// Start implements manager.Runnable: it holds the runtime until the manager stops,
// then stops every virtual cluster, so they stop with gantry.
func (r *Runtime) Start(ctx context.Context) error {
	r.mu.Lock()
	r.ctx = ctx
	r.mu.Unlock()
	if after := r.opts.SparesAfter; after >= 0 {
		if after == 0 {
			after = 20 * time.Second
		}
		go func() {
			select {
			case <-time.After(after):
				r.prepareSpare(ctx) // nothing to do when the data directory has them
			case <-ctx.Done():
			}
		}()
	}
	<-ctx.Done()
	r.StopAll()
	return nil
}

// Touch records activity on a running virtual cluster; once it has moved on
// by ActivityRecordEvery, the reconciler is told, to record it.
func (r *Runtime) Touch(key types.NamespacedName) {
	r.mu.Lock()
	in, ok := r.instances[key]
	r.mu.Unlock()
	if !ok {
		return
	}
	in.mu.Lock()
	in.activity = time.Now()
	announce := in.state == StateReady && in.activity.Sub(in.announced) >= ActivityRecordEvery
	if announce {
		in.announced = in.activity
	}
	in.mu.Unlock()
	if announce {
		r.notify(key)
	}
}

// LastActivity returns when a running virtual cluster last saw activity.
func (r *Runtime) LastActivity(key types.NamespacedName) (time.Time, bool) {
	r.mu.Lock()
	in, ok := r.instances[key]
	r.mu.Unlock()
	if !ok {
		return time.Time{}, false
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.activity, in.state == StateReady
}
