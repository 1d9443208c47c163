package vcluster

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/kubebin"
	"gantry.dev/gantry/internal/kubeconfig"
	"gantry.dev/gantry/internal/podsecurity"
	projectpkg "gantry.dev/gantry/internal/project"
	"gantry.dev/gantry/internal/statuswrite"
)

// SleepingAnnotation, when set on a VirtualCluster, puts it to sleep: its control
// plane stops (state kept on disk) and its host pods are removed.
const SleepingAnnotation = "platform.gantry.dev/sleeping"

// ReasonPodSecurityChanged: the event when a running control plane restarts
// to enforce a new Pod Security level.
const ReasonPodSecurityChanged = "PodSecurityChanged"

// ControlPlanes is what the reconciler needs of the runtime: the control
// planes of virtual clusters, by key, started, stopped and asked about. The
// reconciler decides, the runtime does (Runtime; tests give a fake).
type ControlPlanes interface {
	// Start holds the control planes until ctx ends, then stops them: the
	// reconciler adds the runtime to its manager (manager.Runnable).
	Start(ctx context.Context) error
	// Changes brings a virtual cluster back to the reconciler when its
	// control plane becomes ready or fails, or its activity has moved on.
	Changes() <-chan event.GenericEvent
	// Ensure starts the control plane unless it runs, and returns its state.
	Ensure(key types.NamespacedName, cfg Config) (State, error)
	// Running returns the config a control plane that runs (or starts) was
	// started with.
	Running(key types.NamespacedName) (Config, bool)
	// Endpoint is the URL of a running control plane's API server.
	Endpoint(key types.NamespacedName) (string, bool)
	// Admin is the admin kubeconfig of a running control plane.
	Admin(key types.NamespacedName) (kubeconfig.Config, bool)
	// EnsureRBAC binds gantry's groups (of project, "" for none) inside a
	// ready virtual cluster.
	EnsureRBAC(ctx context.Context, key types.NamespacedName, project string) error
	// EnsureSyncer starts the syncer of a ready virtual cluster unless it runs.
	EnsureSyncer(key types.NamespacedName, hostNamespace string)
	// LastActivity is when a ready virtual cluster last saw activity.
	LastActivity(key types.NamespacedName) (time.Time, bool)
	// Stop stops a control plane (and syncer), keeping its data.
	Stop(key types.NamespacedName)
	// Remove stops a control plane and deletes its data.
	Remove(key types.NamespacedName) error
}

var _ ControlPlanes = (*Runtime)(nil)

// InHostNamespace is implemented by a runtime whose control planes live in
// their cluster's host namespace (pods): the reconciler makes it first.
type InHostNamespace interface {
	InHostNamespace() bool
}

// Reconciler reconciles VirtualCluster objects.
type Reconciler struct {
	Client client.Client
	// APIReader reads past the manager's cache (mgr.GetAPIReader()) when the
	// cache has not caught up with the reconciler's own writes. Default Client.
	APIReader client.Reader
	Runtime   ControlPlanes
	Recorder  record.EventRecorder
	// Cleanup deletes the host objects a virtual cluster's syncer made.
	Cleanup func(ctx context.Context, hostNamespace, vcluster string) error
	// SystemNamespace is gantry's own namespace on the host, whose pods every
	// virtual cluster's host namespace admits (network.go); default gantry-system.
	SystemNamespace string

	statusOnce sync.Once
	status     *statuswrite.Writer
}

// writer returns the status writer, made on first use.
func (r *Reconciler) writer() *statuswrite.Writer {
	r.statusOnce.Do(func() { r.status = &statuswrite.Writer{Client: r.Client, Reader: r.APIReader} })
	return r.status
}

// SetupWithManager registers the reconciler and the runtime with the manager.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := mgr.Add(r.Runtime); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&platformv1alpha1.VirtualCluster{}).
		Owns(&corev1.Secret{}).
		WatchesRawSource(source.Channel(r.Runtime.Changes(), &handler.EnqueueRequestForObject{})).
		// A project's Pod Security level, network and storage settings are its clusters'.
		Watches(&platformv1alpha1.Project{}, handler.EnqueueRequestsFromMapFunc(r.clustersOf),
			builder.WithPredicates(predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
				o, ok1 := e.ObjectOld.(*platformv1alpha1.Project)
				n, ok2 := e.ObjectNew.(*platformv1alpha1.Project)
				return !ok1 || !ok2 || o.Spec.PodSecurity != n.Spec.PodSecurity || o.Spec.Network != n.Spec.Network ||
					o.Spec.VirtualClusterOwnStorage != n.Spec.VirtualClusterOwnStorage
			}})).
		// Several at once: one slow start or cleanup must not hold up the others.
		WithOptions(controller.Options{MaxConcurrentReconciles: 4}).
		Complete(r)
}

// Reconcile moves one VirtualCluster towards its spec: deleted → clean up; asleep →
// stopped; otherwise running with its kubeconfig Secret and syncer.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	vc := &platformv1alpha1.VirtualCluster{}
	if err := r.writer().Get(ctx, req.NamespacedName, vc); err != nil {
		if apierrors.IsNotFound(err) {
			// Deleted without our finalizer (forced): stop what may still run.
			r.Runtime.Stop(req.NamespacedName)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	// Status is patched once, at the end, from whatever the steps recorded
	// (statuswrite keeps a finalizer update made in between).
	before := vc.DeepCopy()
	result, err := r.reconcile(ctx, vc)
	if err == nil {
		vc.Status.ObservedGeneration = vc.Generation
	}
	serr := statuswrite.Patch(ctx, r.writer(), before, vc, func(server, desired *platformv1alpha1.VirtualCluster) bool {
		return !equality.Semantic.DeepEqual(server.Status, desired.Status)
	})
	if serr != nil {
		serr = fmt.Errorf("writing the status of virtual cluster %s: %w", req.NamespacedName, serr)
	}
	return result, errors.Join(err, serr)
}

func (r *Reconciler) reconcile(ctx context.Context, vc *platformv1alpha1.VirtualCluster) (ctrl.Result, error) {
	key := types.NamespacedName{Namespace: vc.Namespace, Name: vc.Name}
	if !vc.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, r.delete(ctx, vc)
	}
	if !controllerutil.ContainsFinalizer(vc, platformv1alpha1.VirtualClusterFinalizer) {
		patch := client.MergeFrom(vc.DeepCopy())
		controllerutil.AddFinalizer(vc, platformv1alpha1.VirtualClusterFinalizer)
		if err := r.Client.Patch(ctx, vc, patch); err != nil {
			return ctrl.Result{}, err
		}
		r.writer().Wrote(vc)
	}
	vc.Status.HostNamespace = HostNamespace(vc.Namespace, vc.Name)

	if _, asleep := vc.Annotations[SleepingAnnotation]; asleep {
		return ctrl.Result{}, r.sleep(ctx, vc)
	}

	proj, err := r.project(ctx, vc)
	if err != nil {
		return ctrl.Result{}, err
	}
	// Whoever wrote the object, through the API or not: nothing connects to
	// a datastore the project does not let its clusters name.
	if msg := OwnStorageRefusal(vc, proj); msg != "" {
		return ctrl.Result{}, r.refuseStorage(ctx, vc, msg)
	}
	// The reconciler computes the level from the objects, never from what a
	// running control plane reports; a control plane started with another
	// level is restarted to enforce this one.
	level := podsecurity.Effective(vc, proj)
	if cfg, ok := r.Runtime.Running(key); ok && cfg.PodSecurity != level {
		r.Recorder.Eventf(vc, corev1.EventTypeNormal, ReasonPodSecurityChanged,
			"Pod Security level %s (was %s): restarting the control plane to enforce it", level, cfg.PodSecurity)
		r.Runtime.Stop(key)
	}

	before := vc.Status.Phase
	if _, running := r.Runtime.Running(key); !running {
		// Not running: its project's quotas decide whether it may start.
		if msg, err := r.overQuota(ctx, vc, proj); err != nil {
			return ctrl.Result{}, err
		} else if msg != "" {
			r.setPhase(vc, platformv1alpha1.PhaseFailed)
			r.condition(vc, platformv1alpha1.ConditionDeployed, false, platformv1alpha1.ReasonQuotaExceeded, msg)
			r.condition(vc, platformv1alpha1.ConditionReady, false, platformv1alpha1.ReasonQuotaExceeded, "not started: "+msg)
			if before != platformv1alpha1.PhaseFailed {
				r.Recorder.Event(vc, corev1.EventTypeWarning, platformv1alpha1.ReasonQuotaExceeded, msg)
			}
			return ctrl.Result{RequeueAfter: RetryFailedAfter}, nil
		}
	}
	// Before the control plane when the runtime puts it there (pods);
	// for processes, once it runs.
	if inHost, ok := r.Runtime.(InHostNamespace); ok && inHost.InHostNamespace() {
		if err := r.ensureHostNamespace(ctx, vc, level); err != nil {
			return ctrl.Result{}, err
		}
	}
	state := StateFailed
	_, running := r.Runtime.Running(key)
	dsn, err := r.storageDSN(ctx, vc, proj, !running)
	if err == nil {
		state, err = r.Runtime.Ensure(key, Config{Storage: dsn, PodSecurity: level})
	}
	switch state {
	case StateFailed:
		// Nothing runs: the control plane's Run has returned, having stopped what it started.
		reason := platformv1alpha1.ReasonDeployFailed
		if OwnStorage(vc) || onProjectStorage(vc, proj) {
			reason = platformv1alpha1.ReasonStorageUnavailable
		}
		if err == nil {
			err = fmt.Errorf("control plane failed")
		}
		r.setPhase(vc, platformv1alpha1.PhaseFailed)
		r.condition(vc, platformv1alpha1.ConditionDeployed, false, reason, err.Error())
		r.condition(vc, platformv1alpha1.ConditionReady, false, reason, "the control plane is not running")
		if vc.Status.Phase != before {
			r.Recorder.Event(vc, corev1.EventTypeWarning, reason, err.Error())
		}
		return ctrl.Result{RequeueAfter: RetryFailedAfter}, nil
	case StateStarting:
		r.setPhase(vc, platformv1alpha1.PhaseStarting)
		r.condition(vc, platformv1alpha1.ConditionDeployed, true, platformv1alpha1.ReasonDeployed, "control plane processes started")
		r.condition(vc, platformv1alpha1.ConditionReady, false, platformv1alpha1.ReasonAPIServerNotReady, "waiting for kube-apiserver to answer /readyz")
		// The runtime's change channel brings us back when it is ready.
		return ctrl.Result{}, nil
	}

	endpoint, ok := r.Runtime.Endpoint(key)
	if !ok {
		return ctrl.Result{Requeue: true}, nil // stopped since Ensure answered
	}
	if err := r.ensureHostNamespace(ctx, vc, level); err != nil {
		return ctrl.Result{}, err
	}
	if err := r.ensureHostLimits(ctx, vc); err != nil {
		return ctrl.Result{}, err
	}
	if err := r.ensureNetworkPolicy(ctx, vc, proj != nil && proj.Spec.Network.OpenIngress); err != nil {
		return ctrl.Result{}, err
	}
	if err := r.ensureKubeconfigSecret(ctx, vc); err != nil {
		return ctrl.Result{}, err
	}
	// Outside a project's namespace a virtual cluster has no project: only
	// gantry's administrators are bound inside.
	projectName, inProject := projectpkg.FromNamespace(vc.Namespace)
	if !inProject {
		projectName = ""
	}
	if err := r.Runtime.EnsureRBAC(ctx, key, projectName); err != nil {
		return ctrl.Result{}, err
	}
	r.Runtime.EnsureSyncer(key, vc.Status.HostNamespace)
	vc.Status.Endpoint = endpoint
	vc.Status.KubeconfigSecret = KubeconfigSecret(vc.Name)
	vc.Status.KubernetesVersion = kubebin.Version
	if last, ok := r.Runtime.LastActivity(key); ok && (vc.Status.LastActivityTime == nil ||
		last.Sub(vc.Status.LastActivityTime.Time) >= ActivityRecordEvery) {
		vc.Status.LastActivityTime = &metav1.Time{Time: last}
	}
	r.setPhase(vc, platformv1alpha1.PhaseRunning)
	r.condition(vc, platformv1alpha1.ConditionDeployed, true, platformv1alpha1.ReasonDeployed, "control plane processes started")
	r.condition(vc, platformv1alpha1.ConditionReady, true, platformv1alpha1.ReasonAPIServerReady, "kube-apiserver answers /readyz")
	r.condition(vc, platformv1alpha1.ConditionOnline, true, platformv1alpha1.ReasonAPIServerReady, "reachable at "+endpoint)
	return ctrl.Result{}, nil
}

// storageDSN is the cluster's kine DSN: spec.storage.dsn, or key "dsn" of
// the Secret spec.storage.secretName in the cluster's own namespace (never
// another's: the name has no namespace), or its own database on its
// project's server, made there first when starting (createDatabase); "" for
// SQLite. Errors name the Secret and the key, never the value.
func (r *Reconciler) storageDSN(ctx context.Context, vc *platformv1alpha1.VirtualCluster, proj *platformv1alpha1.Project, starting bool) (string, error) {
	if onProjectStorage(vc, proj) {
		server, err := r.projectServerDSN(ctx, vc, proj)
		if err != nil {
			return "", err
		}
		if starting {
			if err := createDatabase(ctx, server, ClusterDatabase(vc)); err != nil {
				return "", err
			}
		}
		return withDatabase(server, ClusterDatabase(vc))
	}
	s := vc.Spec.Storage
	if s == nil {
		return "", nil
	}
	if s.SecretName == "" {
		return s.DSN, nil
	}
	secret := &corev1.Secret{}
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: vc.Namespace, Name: s.SecretName}, secret); err != nil {
		if apierrors.IsNotFound(err) {
			return "", fmt.Errorf("storage Secret %s/%s does not exist: create it with the DSN under key %q", vc.Namespace, s.SecretName, StorageSecretKey)
		}
		return "", fmt.Errorf("reading storage Secret %s/%s: %w", vc.Namespace, s.SecretName, err)
	}
	dsn := string(secret.Data[StorageSecretKey])
	if !storageURL.MatchString(dsn) {
		return "", fmt.Errorf("storage Secret %s/%s: key %q must hold a postgres://, postgresql:// or mysql:// URL", vc.Namespace, s.SecretName, StorageSecretKey)
	}
	return dsn, nil
}

// StorageSecretKey is the key of a storage Secret (spec.storage.secretName).
const StorageSecretKey = "dsn"

var storageURL = regexp.MustCompile(`^(postgres|postgresql|mysql)://.+$`)

// refuseStorage keeps vc from running on a datastore its project does not
// let it name: a control plane that runs (started before an administrator
// turned virtualClusterOwnStorage off, or before gantry checked) stops and
// its host workloads go, as for sleep; its data stays where it is. Stop is
// called even when the runtime knows of no control plane: the pods runtime
// scales down one a previous gantry left running.
func (r *Reconciler) refuseStorage(ctx context.Context, vc *platformv1alpha1.VirtualCluster, msg string) error {
	key := types.NamespacedName{Namespace: vc.Namespace, Name: vc.Name}
	r.Runtime.Stop(key)
	if r.Cleanup != nil && vc.Status.Phase != platformv1alpha1.PhaseFailed && vc.Status.Phase != platformv1alpha1.PhaseSleeping &&
		vc.Status.Phase != "" && vc.Status.Phase != platformv1alpha1.PhasePending {
		if err := r.Cleanup(ctx, vc.Status.HostNamespace, vc.Name); err != nil {
			return fmt.Errorf("removing host workloads of virtual cluster %s: %w", key, err)
		}
	}
	prev := meta.FindStatusCondition(vc.Status.Conditions, platformv1alpha1.ConditionDeployed)
	announce := prev == nil || prev.Reason != platformv1alpha1.ReasonStorageNotAllowed
	r.setPhase(vc, platformv1alpha1.PhaseFailed)
	r.condition(vc, platformv1alpha1.ConditionDeployed, false, platformv1alpha1.ReasonStorageNotAllowed, msg)
	r.condition(vc, platformv1alpha1.ConditionReady, false, platformv1alpha1.ReasonStorageNotAllowed, "the control plane is not running")
	r.condition(vc, platformv1alpha1.ConditionOnline, false, platformv1alpha1.ReasonStorageNotAllowed, "not running")
	if announce {
		r.Recorder.Event(vc, corev1.EventTypeWarning, platformv1alpha1.ReasonStorageNotAllowed, msg)
	}
	return nil
}

func (r *Reconciler) sleep(ctx context.Context, vc *platformv1alpha1.VirtualCluster) error {
	r.Runtime.Stop(types.NamespacedName{Namespace: vc.Namespace, Name: vc.Name})
	// Asleep already (its host objects were removed then), or never started (none
	// were made): nothing to clean up.
	if r.Cleanup != nil && vc.Status.Phase != platformv1alpha1.PhaseSleeping && vc.Status.Phase != "" && vc.Status.Phase != platformv1alpha1.PhasePending {
		if err := r.Cleanup(ctx, vc.Status.HostNamespace, vc.Name); err != nil {
			return fmt.Errorf("removing host workloads of sleeping virtual cluster: %w", err)
		}
	}
	r.setPhase(vc, platformv1alpha1.PhaseSleeping)
	r.condition(vc, platformv1alpha1.ConditionReady, false, platformv1alpha1.ReasonAsleep, "asleep: the control plane is stopped, its state kept; the next request wakes it")
	r.condition(vc, platformv1alpha1.ConditionOnline, false, platformv1alpha1.ReasonAsleep, "asleep")
	return nil
}

// delete stops the control plane, removes every host object and the data directory,
// then lets the object go.
func (r *Reconciler) delete(ctx context.Context, vc *platformv1alpha1.VirtualCluster) error {
	if !controllerutil.ContainsFinalizer(vc, platformv1alpha1.VirtualClusterFinalizer) {
		return nil
	}
	r.setPhase(vc, platformv1alpha1.PhaseDeleting)
	key := types.NamespacedName{Namespace: vc.Namespace, Name: vc.Name}
	if err := r.Runtime.Remove(key); err != nil {
		return fmt.Errorf("removing the data of virtual cluster %s: %w", key, err)
	}
	if err := r.dropProjectDatabase(ctx, vc); err != nil {
		r.condition(vc, platformv1alpha1.ConditionDeployed, false, platformv1alpha1.ReasonStorageUnavailable, err.Error())
		return err
	}
	hostNS := HostNamespace(vc.Namespace, vc.Name)
	if r.Cleanup != nil {
		if err := r.Cleanup(ctx, hostNS, vc.Name); err != nil {
			return err
		}
	}
	ns := &corev1.Namespace{}
	if err := r.Client.Get(ctx, client.ObjectKey{Name: hostNS}, ns); err == nil {
		if ns.Labels[LabelVCluster] == vc.Name && ns.Labels[LabelVClusterNamespace] == vc.Namespace {
			if err := r.Client.Delete(ctx, ns); err != nil && !apierrors.IsNotFound(err) {
				return err
			}
		}
	} else if !apierrors.IsNotFound(err) {
		return err
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: KubeconfigSecret(vc.Name), Namespace: vc.Namespace}}
	if err := r.Client.Delete(ctx, secret); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	patch := client.MergeFrom(vc.DeepCopy())
	controllerutil.RemoveFinalizer(vc, platformv1alpha1.VirtualClusterFinalizer)
	return r.Client.Patch(ctx, vc, patch)
}

// dropProjectDatabase drops the cluster's database on its project's server,
// if it keeps its data there. The deletion waits and retries while the
// server does not answer, up to DropDatabaseFor; then, or at once when the
// project's storage setting or Secret is gone, it leaves the database to the
// administrator with a warning event naming it, rather than keep a cluster
// in Deleting for good.
func (r *Reconciler) dropProjectDatabase(ctx context.Context, vc *platformv1alpha1.VirtualCluster) error {
	proj, err := r.project(ctx, vc)
	if err != nil || !onProjectStorage(vc, proj) {
		return err
	}
	db := ClusterDatabase(vc)
	server, err := r.projectServerDSN(ctx, vc, proj)
	if err == nil {
		err = dropDatabase(ctx, server, db)
		if err == nil || time.Since(vc.DeletionTimestamp.Time) < DropDatabaseFor {
			return err
		}
	}
	if r.Recorder != nil {
		r.Recorder.Eventf(vc, corev1.EventTypeWarning, platformv1alpha1.ReasonStorageUnavailable,
			"database %s left on the project's storage server (drop it there): %v", db, err)
	}
	return nil
}

// DropDatabaseFor is how long a deletion retries dropping the cluster's
// database on its project's server.
var DropDatabaseFor = 2 * time.Minute

// ensureHostNamespace creates the host namespace, refusing one that another
// owner made, and keeps its pod-security labels at level, so that the host's
// own Pod Security admission refuses what the syncer should never send.
func (r *Reconciler) ensureHostNamespace(ctx context.Context, vc *platformv1alpha1.VirtualCluster, level podsecurity.Level) error {
	name := vc.Status.HostNamespace
	ns := &corev1.Namespace{}
	err := r.Client.Get(ctx, client.ObjectKey{Name: name}, ns)
	if apierrors.IsNotFound(err) {
		ns = &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
			LabelVCluster: vc.Name, LabelVClusterNamespace: vc.Namespace, LabelManagedBy: managedBy}}}
		podsecurity.SetNamespaceLabels(&ns.Labels, level)
		return r.Client.Create(ctx, ns)
	}
	if err != nil {
		return err
	}
	if ns.Labels[LabelVCluster] != vc.Name || ns.Labels[LabelVClusterNamespace] != vc.Namespace {
		return fmt.Errorf("host namespace %s exists and does not belong to virtual cluster %s/%s; gantry will not take it over", name, vc.Namespace, vc.Name)
	}
	patch := client.MergeFrom(ns.DeepCopy())
	if podsecurity.SetNamespaceLabels(&ns.Labels, level) {
		if err := r.Client.Patch(ctx, ns, patch); err != nil {
			return fmt.Errorf("labelling host namespace %s with Pod Security level %s: %w", name, level, err)
		}
	}
	return nil
}

// hostLimitsName names the ResourceQuota and LimitRange gantry keeps in a host namespace.
const hostLimitsName = "gantry-vcluster"

// ensureHostLimits applies spec.resourceQuota and spec.limitRange to the host
// namespace, so the workloads of a virtual cluster cannot take more of the host than
// its owner allows; removing them from the spec removes them from the host.
func (r *Reconciler) ensureHostLimits(ctx context.Context, vc *platformv1alpha1.VirtualCluster) error {
	ns := vc.Status.HostNamespace
	labels := map[string]string{LabelVCluster: vc.Name, LabelManagedBy: managedBy}
	quota := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: hostLimitsName, Namespace: ns}}
	if vc.Spec.ResourceQuota == nil {
		if err := r.Client.Delete(ctx, quota); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	} else if _, err := controllerutil.CreateOrUpdate(ctx, r.Client, quota, func() error {
		quota.Labels, quota.Spec = labels, *vc.Spec.ResourceQuota.DeepCopy()
		return nil
	}); err != nil {
		return fmt.Errorf("applying the resource quota to host namespace %s: %w", ns, err)
	}
	lr := &corev1.LimitRange{ObjectMeta: metav1.ObjectMeta{Name: hostLimitsName, Namespace: ns}}
	if vc.Spec.LimitRange == nil {
		if err := r.Client.Delete(ctx, lr); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		return nil
	}
	_, err := controllerutil.CreateOrUpdate(ctx, r.Client, lr, func() error {
		lr.Labels, lr.Spec = labels, *vc.Spec.LimitRange.DeepCopy()
		return nil
	})
	if err != nil {
		return fmt.Errorf("applying the limit range to host namespace %s: %w", ns, err)
	}
	return nil
}

// ensureKubeconfigSecret writes the admin kubeconfig into Secret vc-<name>.
func (r *Reconciler) ensureKubeconfigSecret(ctx context.Context, vc *platformv1alpha1.VirtualCluster) error {
	admin, ok := r.Runtime.Admin(types.NamespacedName{Namespace: vc.Namespace, Name: vc.Name})
	if !ok {
		return nil
	}
	admin.Name = vc.Name
	data, err := admin.Bytes()
	if err != nil {
		return err
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: KubeconfigSecret(vc.Name), Namespace: vc.Namespace}}
	_, err = controllerutil.CreateOrUpdate(ctx, r.Client, secret, func() error {
		if secret.Labels == nil {
			secret.Labels = map[string]string{}
		}
		secret.Labels[LabelVCluster] = vc.Name
		secret.Labels[LabelManagedBy] = managedBy
		secret.Type = corev1.SecretTypeOpaque
		secret.Data = map[string][]byte{
			"config":                data,
			"certificate-authority": admin.CA,
			"client-certificate":    admin.CertPEM,
			"client-key":            admin.KeyPEM,
		}
		return controllerutil.SetControllerReference(vc, secret, r.Client.Scheme())
	})
	return err
}

func (r *Reconciler) setPhase(vc *platformv1alpha1.VirtualCluster, p platformv1alpha1.VirtualClusterPhase) {
	vc.Status.Phase = p
}

func (r *Reconciler) condition(vc *platformv1alpha1.VirtualCluster, t string, ok bool, reason, msg string) {
	status := metav1.ConditionFalse
	if ok {
		status = metav1.ConditionTrue
	}
	meta.SetStatusCondition(&vc.Status.Conditions, metav1.Condition{Type: t, Status: status, Reason: reason, Message: msg, ObservedGeneration: vc.Generation})
}

// overQuota returns why vc may not start under its project's quotas, or "". The
// oldest virtual clusters of a project are the ones within its quota of defined
// clusters; a running quota counts the others that run now.
func (r *Reconciler) overQuota(ctx context.Context, vc *platformv1alpha1.VirtualCluster, p *platformv1alpha1.Project) (string, error) {
	if p == nil {
		return "", nil
	}
	project := p.Name
	q := p.Spec.Quotas
	if q.VirtualClusters == nil && q.RunningVirtualClusters == nil {
		return "", nil
	}
	var list platformv1alpha1.VirtualClusterList
	if err := r.Client.List(ctx, &list, client.InNamespace(vc.Namespace)); err != nil {
		return "", err
	}
	sort.Slice(list.Items, func(i, j int) bool {
		a, b := list.Items[i], list.Items[j]
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.CreationTimestamp.Before(&b.CreationTimestamp)
		}
		return a.Name < b.Name
	})
	running := 0
	for i, other := range list.Items {
		if other.Name == vc.Name {
			if q.VirtualClusters != nil && int32(i) >= *q.VirtualClusters {
				return fmt.Sprintf("project %s allows %d virtual clusters (spec.quotas.virtualClusters) and this is number %d: delete one or raise the quota",
					project, *q.VirtualClusters, i+1), nil
			}
			continue
		}
		if other.Status.Phase == platformv1alpha1.PhaseRunning || other.Status.Phase == platformv1alpha1.PhaseStarting {
			running++
		}
	}
	if q.RunningVirtualClusters != nil && int32(running) >= *q.RunningVirtualClusters {
		return fmt.Sprintf("project %s allows %d running virtual clusters (spec.quotas.runningVirtualClusters) and %d run: put one to sleep or raise the quota",
			project, *q.RunningVirtualClusters, running), nil
	}
	return "", nil
}

// project returns the Project whose namespace vc is in, or nil when there is
// none (not a project namespace, or no such Project).
func (r *Reconciler) project(ctx context.Context, vc *platformv1alpha1.VirtualCluster) (*platformv1alpha1.Project, error) {
	name, ok := projectpkg.FromNamespace(vc.Namespace)
	if !ok {
		return nil, nil
	}
	p := &platformv1alpha1.Project{}
	if err := r.Client.Get(ctx, client.ObjectKey{Name: name}, p); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading project %s of virtual cluster %s/%s: %w", name, vc.Namespace, vc.Name, err)
	}
	return p, nil
}

// clustersOf maps a Project to its virtual clusters.
func (r *Reconciler) clustersOf(ctx context.Context, o client.Object) []reconcile.Request {
	var list platformv1alpha1.VirtualClusterList
	if err := r.Client.List(ctx, &list, client.InNamespace(projectpkg.Namespace(o.GetName()))); err != nil {
		return nil
	}
	out := make([]reconcile.Request, 0, len(list.Items))
	for _, vc := range list.Items {
		out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: vc.Namespace, Name: vc.Name}})
	}
	return out
}
