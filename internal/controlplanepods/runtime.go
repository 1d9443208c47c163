package controlplanepods

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/controlplane"
	"gantry.dev/gantry/internal/kubeconfig"
	"gantry.dev/gantry/internal/podsecurity"
	"gantry.dev/gantry/internal/supervisor"
	"gantry.dev/gantry/internal/vcluster"
)

// Options configure the runtime.
type Options struct {
	// Host is the host cluster, where the pods run.
	Host *rest.Config
	// Image is gantry's image (it holds kube-controlplane); PullPolicy its
	// pull policy (default IfNotPresent: `gantry image load` puts it there).
	Image      string
	PullPolicy corev1.PullPolicy
	// NodeSelector and Tolerations place the pods (the embedded host's real
	// node, not its simulated ones).
	NodeSelector map[string]string
	Tolerations  []corev1.Toleration
	// LocalVolumes is a directory on the node NodeSelector selects (one
	// node: the embedded host's real node, on gantry's machine) where gantry
	// makes each cluster's volume when the host has no default StorageClass
	// (see ensureStorage). Empty: such a host is refused.
	LocalVolumes string
	// WorkDir is where gantry makes keys before they go into a Secret
	// (removed after); default the temporary directory.
	WorkDir string
	Sync    vcluster.SyncFunc
	// Trust, when set, is the issuer each API server trusts for its own
	// cluster's audience (gantry vcluster connect --sso), asked at every
	// apply: its DiscoveryURL must be an address pods reach, and not
	// change while gantry restarts (a changed one changes the Secret and
	// so restarts the pod). Nil, or a nil answer: no issuer is trusted.
	Trust   func() *vcluster.Trust
	Kubelet vcluster.KubeletAPI
	// ExtraSANs adds names to every serving certificate (as the process
	// runtime's).
	ExtraSANs func() []string
	Logger    logr.Logger
	// ReadyTimeout bounds a start: not ready by then is Failed (default 5 min).
	ReadyTimeout time.Duration
}

// Runtime keeps the control planes of virtual clusters as pods of the host.
// What runs is in the host (the StatefulSets); what it keeps in memory is
// only what gantry's side does with them (syncers, activity), remade after
// a restart of gantry by the reconciler's first Ensure.
type Runtime struct {
	opts    Options
	c       client.Client
	changed chan event.GenericEvent

	mu        sync.Mutex
	instances map[types.NamespacedName]*instance
	// observed are the control planes a replica of gantry that does not
	// lead (and so ensures nothing) serves through its proxy, as the host
	// has them (observe).
	observed map[types.NamespacedName]*observation
}

// observation is a control plane as another replica made it: its admin
// configuration from its Secret and Service, and when /readyz last answered.
type observation struct {
	cfg      *rest.Config
	client   *http.Client
	server   string
	answered time.Time
	built    time.Time
	rbacDone bool
}

type instance struct {
	cfg    vcluster.Config
	admin  kubeconfig.Config
	cancel context.CancelFunc // the readiness watch

	mu         sync.Mutex
	state      vcluster.State
	err        error
	failedAt   time.Time
	activity   time.Time
	announced  time.Time
	syncCancel context.CancelFunc
	syncDone   chan struct{}
	rbacDone   bool
}

var (
	_ vcluster.ControlPlanes   = (*Runtime)(nil)
	_ vcluster.InHostNamespace = (*Runtime)(nil)
	_ vcluster.Activity        = (*Runtime)(nil)
)

// New returns a runtime.
func New(opts Options) (*Runtime, error) {
	if opts.Image == "" {
		return nil, errors.New("control planes as pods need gantry's image (--control-plane-image)")
	}
	if opts.PullPolicy == "" {
		opts.PullPolicy = corev1.PullIfNotPresent
	}
	if opts.ReadyTimeout == 0 {
		opts.ReadyTimeout = 5 * time.Minute
	}
	c, err := client.New(opts.Host, client.Options{})
	if err != nil {
		return nil, err
	}
	return &Runtime{opts: opts, c: c, changed: make(chan event.GenericEvent, 64),
		instances: map[types.NamespacedName]*instance{}, observed: map[types.NamespacedName]*observation{}}, nil
}

// Changes implements vcluster.ControlPlanes.
func (r *Runtime) Changes() <-chan event.GenericEvent { return r.changed }

func (r *Runtime) notify(key types.NamespacedName) {
	obj := &platformv1alpha1.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace}}
	select {
	case r.changed <- event.GenericEvent{Object: obj}:
	default:
	}
}

// Start holds the runtime until ctx ends; then it stops the syncers, not
// the pods: they do not depend on gantry's process (the next gantry takes
// them over).
func (r *Runtime) Start(ctx context.Context) error {
	<-ctx.Done()
	r.mu.Lock()
	ins := make([]*instance, 0, len(r.instances))
	for _, in := range r.instances {
		ins = append(ins, in)
	}
	r.mu.Unlock()
	for _, in := range ins {
		in.cancel()
		stopSyncer(in)
	}
	return nil
}

// Ensure writes the cluster's objects (scaling a sleeping one back to one
// replica) unless it was done since the last Stop, and returns its state.
func (r *Runtime) Ensure(key types.NamespacedName, cfg vcluster.Config) (vcluster.State, error) {
	if cfg.PodSecurity == "" {
		cfg.PodSecurity = podsecurity.Default
	}
	r.mu.Lock()
	if in, ok := r.instances[key]; ok {
		in.mu.Lock()
		state, err, failedAt := in.state, in.err, in.failedAt
		in.mu.Unlock()
		if state != vcluster.StateFailed || time.Since(failedAt) < vcluster.RetryFailedAfter {
			r.mu.Unlock()
			return state, err
		}
		delete(r.instances, key)
	}
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin, err := r.apply(ctx, key, cfg)
	if err != nil {
		// Failed, retried after RetryFailedAfter like a process that did not start.
		in := &instance{cfg: cfg, cancel: func() {}, state: vcluster.StateFailed, err: err, failedAt: time.Now()}
		r.mu.Lock()
		r.instances[key] = in
		r.mu.Unlock()
		return vcluster.StateFailed, err
	}
	wctx, stop := context.WithCancel(context.Background())
	in := &instance{cfg: cfg, admin: admin, cancel: stop, state: vcluster.StateStarting}
	r.mu.Lock()
	r.instances[key] = in
	r.mu.Unlock()
	go r.watch(wctx, key, in)
	return vcluster.StateStarting, nil
}

// watch waits until the API server in the pod answers /readyz through the
// Endpoint gantry uses, and marks the instance Ready (or Failed).
func (r *Runtime) watch(ctx context.Context, key types.NamespacedName, in *instance) {
	cfg, err := in.admin.RESTConfig()
	var client *http.Client
	var cerr error
	if err == nil {
		cfg.Timeout = 2 * time.Second
		client, cerr = rest.HTTPClientFor(cfg)
	}
	deadline := time.Now().Add(r.opts.ReadyTimeout)
	for err == nil && cerr == nil {
		resp, gerr := client.Get(in.admin.Server + "/readyz")
		if gerr == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				in.mu.Lock()
				now := time.Now()
				in.state, in.activity, in.announced = vcluster.StateReady, now, now
				in.mu.Unlock()
				r.notify(key)
				return
			}
		}
		if time.Now().After(deadline) {
			err = fmt.Errorf("the control-plane pod of %s did not answer /readyz at %s within %s; see `kubectl -n %s describe pod %s-0` and its log",
				key, in.admin.Server, r.opts.ReadyTimeout, vcluster.HostNamespace(key.Namespace, key.Name), Name)
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(250 * time.Millisecond):
		}
	}
	if cerr != nil {
		err = cerr
	}
	in.mu.Lock()
	in.state, in.err, in.failedAt = vcluster.StateFailed, err, time.Now()
	in.mu.Unlock()
	r.notify(key)
}

// apply writes the Service, the Secret, the storage and the StatefulSet (at
// one replica) and returns the admin kubeconfig.
func (r *Runtime) apply(ctx context.Context, key types.NamespacedName, cfg vcluster.Config) (kubeconfig.Config, error) {
	ns := vcluster.HostNamespace(key.Namespace, key.Name)
	owner := key.String()
	svc := service(ns, owner)
	if err := r.c.Create(ctx, svc); apierrors.IsAlreadyExists(err) {
		err = r.c.Get(ctx, client.ObjectKeyFromObject(svc), svc)
		if err != nil {
			return kubeconfig.Config{}, err
		}
	} else if err != nil {
		return kubeconfig.Config{}, fmt.Errorf("creating the control plane's Service in %s: %w", ns, err)
	}
	if svc.Spec.ClusterIP == "" || svc.Spec.ClusterIP == corev1.ClusterIPNone {
		return kubeconfig.Config{}, fmt.Errorf("the control plane's Service in %s has no ClusterIP", ns)
	}
	admin, data, err := r.secretData(ctx, key, ns, svc.Spec.ClusterIP, cfg)
	if err != nil {
		return kubeconfig.Config{}, err
	}
	sum := sha256.New()
	for _, k := range slices.Sorted(maps.Keys(data)) {
		sum.Write([]byte(k))
		sum.Write(data[k])
	}
	hash := hex.EncodeToString(sum.Sum(nil))[:16]
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: Name, Namespace: ns, Labels: labels(owner)}}
	if err := r.createOrUpdate(ctx, secret, func() { secret.Data = data }); err != nil {
		return kubeconfig.Config{}, fmt.Errorf("writing the control plane's Secret in %s: %w", ns, err)
	}
	if cfg.Storage == "" {
		if err := r.ensureStorage(ctx, ns, owner); err != nil {
			return kubeconfig.Config{}, err
		}
	}
	cfgJSON, _ := json.Marshal(cfg)
	want := r.statefulSet(ns, owner, cfg.Storage != "", string(cfgJSON), hash)
	sts := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: Name, Namespace: ns}}
	if err := r.createOrUpdate(ctx, sts, func() {
		sts.Labels, sts.Annotations = want.Labels, want.Annotations
		sts.Spec.Replicas = want.Spec.Replicas
		sts.Spec.Template = want.Spec.Template
		if sts.CreationTimestamp.IsZero() {
			sts.Spec = want.Spec
		}
	}); err != nil {
		return kubeconfig.Config{}, fmt.Errorf("writing the control plane's StatefulSet in %s: %w", ns, err)
	}
	admin.Server = "https://" + net.JoinHostPort(svc.Spec.ClusterIP, strconv.Itoa(APIPort))
	return admin, nil
}

// createOrUpdate creates obj after mutate, or gets it, mutates and updates it.
func (r *Runtime) createOrUpdate(ctx context.Context, obj client.Object, mutate func()) error {
	err := r.c.Get(ctx, client.ObjectKeyFromObject(obj), obj)
	if apierrors.IsNotFound(err) {
		mutate()
		return r.c.Create(ctx, obj)
	} else if err != nil {
		return err
	}
	mutate()
	return r.c.Update(ctx, obj)
}

// secretData makes the Secret's files: the cluster's keys (kept from the
// Secret there is: a restart must not change its CA), the component
// kubeconfigs, the API server's flags and the files they name.
func (r *Runtime) secretData(ctx context.Context, key types.NamespacedName, ns, clusterIP string, cfg vcluster.Config) (kubeconfig.Config, map[string][]byte, error) {
	work, err := os.MkdirTemp(r.opts.WorkDir, "controlplane-")
	if err != nil {
		return kubeconfig.Config{}, nil, err
	}
	defer os.RemoveAll(work)
	pkiDir := filepath.Join(work, "pki")
	if err := os.MkdirAll(pkiDir, 0o700); err != nil {
		return kubeconfig.Config{}, nil, err
	}
	old := &corev1.Secret{Data: map[string][]byte{}}
	if err := r.c.Get(ctx, client.ObjectKey{Namespace: ns, Name: Name}, old); err == nil {
		for k, v := range old.Data {
			if k != specKey && k != storageKey && !strings.HasPrefix(k, flagFilePrefix) {
				if err := os.WriteFile(filepath.Join(pkiDir, k), v, 0o600); err != nil {
					return kubeconfig.Config{}, nil, err
				}
			}
		}
	} else if !apierrors.IsNotFound(err) {
		return kubeconfig.Config{}, nil, err
	}
	flags, err := r.apiServerFlags(filepath.Join(work, "flags"), key, cfg, old.Data)
	if err != nil {
		return kubeconfig.Config{}, nil, err
	}
	sans := append(serviceNames(ns), clusterIP)
	if r.opts.ExtraSANs != nil {
		sans = append(sans, r.opts.ExtraSANs()...)
	}
	spec := Spec{Name: "vcluster " + key.String(), ExtraSANs: sans, Env: []string{"GOGC=25"}}
	data := map[string][]byte{}
	// Every file a flag names goes into the Secret, and the flag names
	// its copy in the pod.
	spec.APIServerFlags = controlplane.Flags{}
	for name, value := range flags {
		if filepath.IsAbs(value) {
			if b, err := os.ReadFile(value); err == nil {
				k := flagFilePrefix + name
				data[k] = b
				value = filepath.Join(DataDir, "pki", k)
			}
		}
		spec.APIServerFlags[name] = value
	}
	opts := spec.options(work)
	admin, err := controlplane.WriteCredentials(opts)
	if err != nil {
		return kubeconfig.Config{}, nil, err
	}
	entries, err := os.ReadDir(pkiDir)
	if err != nil {
		return kubeconfig.Config{}, nil, err
	}
	for _, e := range entries {
		if b, err := os.ReadFile(filepath.Join(pkiDir, e.Name())); err == nil {
			data[e.Name()] = b
		}
	}
	if data[specKey], err = json.Marshal(spec); err != nil {
		return kubeconfig.Config{}, nil, err
	}
	if cfg.Storage != "" {
		data[storageKey] = []byte(cfg.Storage)
	}
	return admin, data, nil
}

// flagFilePrefix marks the Secret's keys that are files a flag names.
const flagFilePrefix = "flag-"

// apiServerFlags writes into dir the files of the API server's flags
// (vcluster.APIServerFlags) and returns the flags, keeping what the
// Secret's data old holds of them where it is still good: the kubelet API
// client certificate, which would otherwise be issued anew at every apply,
// changing the Secret and so restarting the pod at every start of gantry
// and every failover. The first pass names the files; the old ones are put
// there, and the second keeps those it finds good (a certificate the
// kubelet API's CA signed for this cluster) and remakes the rest.
func (r *Runtime) apiServerFlags(dir string, key types.NamespacedName, cfg vcluster.Config, old map[string][]byte) (controlplane.Flags, error) {
	var trust *vcluster.Trust
	if r.opts.Trust != nil {
		trust = r.opts.Trust()
	}
	flags, err := vcluster.APIServerFlags(dir, key, cfg, trust, r.opts.Kubelet)
	if err != nil {
		return nil, err
	}
	restored := false
	for name, value := range flags {
		b, ok := old[flagFilePrefix+name]
		if !ok || filepath.Dir(value) != dir {
			continue // not a file of this cluster's (the kubelet API's CA is gantry's)
		}
		if err := os.WriteFile(value, b, 0o600); err != nil {
			return nil, err
		}
		restored = true
	}
	if !restored {
		return flags, nil
	}
	return vcluster.APIServerFlags(dir, key, cfg, trust, r.opts.Kubelet)
}

// ensureStorage makes the claim for the cluster's SQLite. A host with a
// default StorageClass provisions it. The embedded host has no provisioner:
// there gantry makes a hostPath volume per cluster in its own data
// directory on the real node (the same machine), pinned to that node, so
// the pod always comes back to its data; Retain, and Remove deletes the
// directory itself. Honest about what it is: the data lives on one node,
// as the process runtime's does.
func (r *Runtime) ensureStorage(ctx context.Context, ns, owner string) error {
	pvc := &corev1.PersistentVolumeClaim{}
	if err := r.c.Get(ctx, client.ObjectKey{Namespace: ns, Name: dataClaim}, pvc); err == nil {
		return nil
	} else if !apierrors.IsNotFound(err) {
		return err
	}
	classes := &storagev1.StorageClassList{}
	if err := r.c.List(ctx, classes); err != nil {
		return fmt.Errorf("listing the host's StorageClasses: %w", err)
	}
	for _, sc := range classes.Items {
		if sc.Annotations["storageclass.kubernetes.io/is-default-class"] == "true" {
			return r.c.Create(ctx, claim(ns, owner, ""))
		}
	}
	if r.opts.LocalVolumes == "" || len(r.opts.NodeSelector) == 0 {
		return errors.New("the host cluster has no default StorageClass for the control plane's SQLite: install a provisioner, " +
			"mark a StorageClass default, or give the virtual cluster an external database (spec.storage)")
	}
	dir := filepath.Join(r.opts.LocalVolumes, ns)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	// The pod runs as the image's user, and a hostPath volume is not
	// handed to its fsGroup.
	if err := os.Chown(dir, podUser, podUser); err != nil {
		return fmt.Errorf("handing %s to the control plane's user: %w", dir, err)
	}
	pv := localVolume(volumeName(ns), ns, owner, dir, r.opts.NodeSelector)
	if err := r.c.Create(ctx, pv); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating the control plane's volume: %w", err)
	}
	return r.c.Create(ctx, claim(ns, owner, pv.Name))
}

func volumeName(ns string) string { return "gantry-cp-" + ns }

// Running implements vcluster.ControlPlanes.
func (r *Runtime) Running(key types.NamespacedName) (vcluster.Config, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if in, ok := r.instances[key]; ok {
		return in.cfg, true
	}
	return vcluster.Config{}, false
}

func (r *Runtime) instance(key types.NamespacedName) *instance {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.instances[key]
}

// Endpoint is the Service's ClusterIP: gantry on the embedded host reaches
// it through the real node's kube-proxy, as any process on a node does.
func (r *Runtime) Endpoint(key types.NamespacedName) (string, bool) {
	if in := r.instance(key); in != nil && in.admin.Server != "" {
		return in.admin.Server, true
	}
	return "", false
}

// Admin implements vcluster.ControlPlanes.
func (r *Runtime) Admin(key types.NamespacedName) (kubeconfig.Config, bool) {
	if in := r.instance(key); in != nil && in.admin.Server != "" {
		return in.admin, true
	}
	return kubeconfig.Config{}, false
}

// WaitReady implements vcluster.Activity. On the replica that runs the
// controllers it waits for the reconciler's instance; on any other (leader
// election: it ensures nothing) for the control plane as the host has it.
func (r *Runtime) WaitReady(ctx context.Context, key types.NamespacedName) (*rest.Config, error) {
	for {
		if in := r.instance(key); in != nil {
			in.mu.Lock()
			state := in.state
			in.mu.Unlock()
			if state == vcluster.StateReady {
				return in.admin.RESTConfig()
			}
		} else if cfg := r.observe(ctx, key); cfg != nil {
			return cfg, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("did not answer in time (it may be waking up): %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// observeFor is how long an answer of /readyz stands for a replica that
// does not lead: it learns of a sleep only by asking again.
const observeFor = 5 * time.Second

// observe returns the admin configuration of a control plane another
// replica ensured, made from its Secret (the keys are there: an admin
// certificate of the cluster's own CA, nothing written) and its Service,
// once its API server answers /readyz; nil while it does not.
func (r *Runtime) observe(ctx context.Context, key types.NamespacedName) *rest.Config {
	r.mu.Lock()
	ob := r.observed[key]
	r.mu.Unlock()
	if ob == nil {
		admin, err := r.adminFromHost(ctx, key)
		if err != nil {
			return nil
		}
		cfg, err := admin.RESTConfig()
		if err != nil {
			return nil
		}
		probe := rest.CopyConfig(cfg)
		probe.Timeout = 2 * time.Second
		hc, err := rest.HTTPClientFor(probe)
		if err != nil {
			return nil
		}
		ob = &observation{cfg: cfg, client: hc, server: admin.Server, built: time.Now()}
		r.mu.Lock()
		r.observed[key] = ob
		r.mu.Unlock()
	}
	r.mu.Lock()
	fresh := time.Since(ob.answered) < observeFor
	r.mu.Unlock()
	if fresh {
		return rest.CopyConfig(ob.cfg)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ob.server+"/readyz", nil)
	if err != nil {
		return nil
	}
	resp, err := ob.client.Do(req)
	if err == nil {
		resp.Body.Close()
	}
	if err != nil || resp.StatusCode != http.StatusOK {
		// Made again from the host after a while: the cluster may have
		// been made anew (new keys, a new Service) since.
		if time.Since(ob.built) > 10*time.Second {
			r.mu.Lock()
			delete(r.observed, key)
			r.mu.Unlock()
		}
		return nil
	}
	r.mu.Lock()
	ob.answered = time.Now()
	r.mu.Unlock()
	return rest.CopyConfig(ob.cfg)
}

// adminFromHost makes the admin kubeconfig of a control plane from what
// the host holds: the keys in its Secret and its Service's ClusterIP.
func (r *Runtime) adminFromHost(ctx context.Context, key types.NamespacedName) (kubeconfig.Config, error) {
	ns := vcluster.HostNamespace(key.Namespace, key.Name)
	svc := &corev1.Service{}
	if err := r.c.Get(ctx, client.ObjectKey{Namespace: ns, Name: Name}, svc); err != nil {
		return kubeconfig.Config{}, err
	}
	if svc.Spec.ClusterIP == "" || svc.Spec.ClusterIP == corev1.ClusterIPNone {
		return kubeconfig.Config{}, fmt.Errorf("the control plane's Service in %s has no ClusterIP", ns)
	}
	secret := &corev1.Secret{}
	if err := r.c.Get(ctx, client.ObjectKey{Namespace: ns, Name: Name}, secret); err != nil {
		return kubeconfig.Config{}, err
	}
	var spec Spec
	if err := json.Unmarshal(secret.Data[specKey], &spec); err != nil {
		return kubeconfig.Config{}, fmt.Errorf("the control plane's Secret in %s has no spec: %w", ns, err)
	}
	work, err := os.MkdirTemp(r.opts.WorkDir, "controlplane-")
	if err != nil {
		return kubeconfig.Config{}, err
	}
	defer os.RemoveAll(work)
	pkiDir := filepath.Join(work, "pki")
	if err := os.MkdirAll(pkiDir, 0o700); err != nil {
		return kubeconfig.Config{}, err
	}
	for k, v := range secret.Data {
		if k != specKey && k != storageKey && !strings.HasPrefix(k, flagFilePrefix) {
			if err := os.WriteFile(filepath.Join(pkiDir, k), v, 0o600); err != nil {
				return kubeconfig.Config{}, err
			}
		}
	}
	admin, err := controlplane.WriteCredentials(spec.options(work))
	if err != nil {
		return kubeconfig.Config{}, err
	}
	admin.Server = "https://" + net.JoinHostPort(svc.Spec.ClusterIP, strconv.Itoa(APIPort))
	return admin, nil
}

// EnsureRBAC implements vcluster.ControlPlanes.
func (r *Runtime) EnsureRBAC(ctx context.Context, key types.NamespacedName, project string) error {
	in := r.instance(key)
	if in == nil {
		return r.ensureObservedRBAC(ctx, key, project)
	}
	in.mu.Lock()
	done, ready := in.rbacDone, in.state == vcluster.StateReady
	in.mu.Unlock()
	if done || !ready {
		return nil
	}
	cfg, err := in.admin.RESTConfig()
	if err != nil {
		return err
	}
	if err := vcluster.EnsureRBAC(ctx, cfg, project); err != nil {
		return err
	}
	in.mu.Lock()
	in.rbacDone = true
	in.mu.Unlock()
	return nil
}

// ensureObservedRBAC binds gantry's groups in a control plane another
// replica ensured, once, before this replica's proxy acts for anyone there:
// the leader's reconciler may not have done it yet (the cluster just woke).
func (r *Runtime) ensureObservedRBAC(ctx context.Context, key types.NamespacedName, project string) error {
	r.mu.Lock()
	ob := r.observed[key]
	r.mu.Unlock()
	if ob == nil {
		return nil
	}
	r.mu.Lock()
	done := ob.rbacDone
	r.mu.Unlock()
	if done {
		return nil
	}
	if err := vcluster.EnsureRBAC(ctx, rest.CopyConfig(ob.cfg), project); err != nil {
		return err
	}
	r.mu.Lock()
	ob.rbacDone = true
	r.mu.Unlock()
	return nil
}

// EnsureSyncer runs the syncer in gantry, against the pod's API server.
func (r *Runtime) EnsureSyncer(key types.NamespacedName, hostNamespace string) {
	in := r.instance(key)
	if r.opts.Sync == nil || in == nil {
		return
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.syncCancel != nil || in.state != vcluster.StateReady {
		return
	}
	cfg, err := in.admin.RESTConfig()
	if err != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	in.syncCancel, in.syncDone = cancel, make(chan struct{})
	go func() {
		defer close(in.syncDone)
		for ctx.Err() == nil {
			if err := r.opts.Sync(ctx, key, cfg, hostNamespace, in.cfg.PodSecurity); err != nil && ctx.Err() == nil {
				r.opts.Logger.Error(err, "syncer stopped; restarting", "vcluster", key)
				select {
				case <-ctx.Done():
				case <-time.After(2 * time.Second):
				}
			}
		}
	}()
}

func stopSyncer(in *instance) {
	in.mu.Lock()
	cancel, done := in.syncCancel, in.syncDone
	in.syncCancel = nil
	in.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// LastActivity implements vcluster.ControlPlanes.
func (r *Runtime) LastActivity(key types.NamespacedName) (time.Time, bool) {
	in := r.instance(key)
	if in == nil {
		return time.Time{}, false
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.activity, in.state == vcluster.StateReady
}

// Touch implements vcluster.Activity.
func (r *Runtime) Touch(key types.NamespacedName) {
	in := r.instance(key)
	if in == nil {
		return
	}
	in.mu.Lock()
	in.activity = time.Now()
	announce := in.state == vcluster.StateReady && in.activity.Sub(in.announced) >= vcluster.ActivityRecordEvery
	if announce {
		in.announced = in.activity
	}
	in.mu.Unlock()
	if announce {
		r.notify(key)
	}
}

// Stop stops the syncer and scales the StatefulSet to zero: the pod goes,
// its storage stays (sleep, or a restart with another config).
func (r *Runtime) Stop(key types.NamespacedName) {
	r.mu.Lock()
	in := r.instances[key]
	delete(r.instances, key)
	delete(r.observed, key)
	r.mu.Unlock()
	if in != nil {
		in.cancel()
		stopSyncer(in)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sts := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: Name, Namespace: vcluster.HostNamespace(key.Namespace, key.Name)}}
	patch := []byte(`{"spec":{"replicas":0}}`)
	if err := r.c.Patch(ctx, sts, client.RawPatch(types.MergePatchType, patch)); err != nil && !apierrors.IsNotFound(err) {
		r.opts.Logger.Error(err, "scaling the control plane to zero", "vcluster", key)
	}
}

// Remove deletes everything the cluster's control plane had: its objects,
// its volume and, for a local volume, the directory.
func (r *Runtime) Remove(key types.NamespacedName) error {
	r.Stop(key)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns := vcluster.HostNamespace(key.Namespace, key.Name)
	objs := []client.Object{
		&appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: Name, Namespace: ns}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: Name, Namespace: ns}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: Name, Namespace: ns}},
		&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: dataClaim, Namespace: ns}},
		&corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: volumeName(ns)}},
	}
	var errs []error
	for _, o := range objs {
		// The pod goes with its StatefulSet (foreground: before its volume).
		if err := r.c.Delete(ctx, o, client.PropagationPolicy(metav1.DeletePropagationForeground)); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("deleting %T %s: %w", o, o.GetName(), err))
		}
	}
	if r.opts.LocalVolumes != "" {
		if err := os.RemoveAll(filepath.Join(r.opts.LocalVolumes, ns)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Components: the pods' processes are the host's to report.
func (r *Runtime) Components() map[types.NamespacedName][]supervisor.Status { return nil }

// InHostNamespace: the pods are in their cluster's host namespace.
func (r *Runtime) InHostNamespace() bool { return true }
