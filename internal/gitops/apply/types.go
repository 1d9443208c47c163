package apply

import (
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
)

// Annotations Argo CD reads from the manifests; gantry reads the same ones so that
// an application written for Argo CD syncs the same way here.
const (
	AnnotationSyncWave         = "argocd.argoproj.io/sync-wave"
	AnnotationSyncOptions      = "argocd.argoproj.io/sync-options"
	AnnotationHook             = "argocd.argoproj.io/hook"
	AnnotationHookDeletePolicy = "argocd.argoproj.io/hook-delete-policy"
	AnnotationHelmHook         = "helm.sh/hook"
	AnnotationHelmHookWeight   = "helm.sh/hook-weight"
	AnnotationHelmDeletePolicy = "helm.sh/hook-delete-policy"
	// HookFinalizer keeps a hook object until Sync has seen how it ended, so that
	// a Job with ttlSecondsAfterFinished: 0 cannot vanish before its result is read.
	HookFinalizer = "argocd.argoproj.io/hook-finalizer"
)

// Cluster is where Sync acts. Mapper must see CRDs created during the sync: a
// meta.ResettableRESTMapper (such as restmapper.NewDeferredDiscoveryRESTMapper over a
// memory cache) is reset whenever a kind is not found.
type Cluster struct {
	Dynamic dynamic.Interface
	Mapper  meta.RESTMapper
}

// HealthFunc reports the health of a live object. healthy: it reached the state it
// was applied for (for a hook: it completed successfully). degraded: it failed (for a
// hook: it completed unsuccessfully). Neither: it is still progressing. An object
// kind without a notion of health should report healthy.
type HealthFunc func(obj *unstructured.Unstructured) (healthy, degraded bool, message string)

// ResourceKey names a resource independently of its API version.
type ResourceKey struct {
	Group, Kind, Namespace, Name string
}

// KeyOf returns the key of obj.
func KeyOf(obj *unstructured.Unstructured) ResourceKey {
	gvk := obj.GroupVersionKind()
	return ResourceKey{Group: gvk.Group, Kind: gvk.Kind, Namespace: obj.GetNamespace(), Name: obj.GetName()}
}

// String reads "apps/Deployment web in namespace shop" (or "/Namespace shop" for the
// core group), the form used in every error and result message.
func (k ResourceKey) String() string {
	s := k.Group + "/" + k.Kind + " " + k.Name
	if k.Namespace != "" {
		s += " in namespace " + k.Namespace
	}
	return s
}

// Options describe one sync operation.
type Options struct {
	// Namespace is the destination namespace, set on namespaced objects that have none.
	Namespace string
	// FieldManager is the server-side apply field manager (default "gantry").
	FieldManager string
	// TrackingKey is the annotation that marks an object as belonging to the
	// application; TrackingID gives its value for an object (after its namespace is
	// set). Both are required: Sync never prunes an object whose live annotation
	// differs from TrackingID of that object.
	TrackingKey string
	TrackingID  func(obj *unstructured.Unstructured) string
	// Labels are set on every desired object (so that watches can filter on them).
	Labels map[string]string
	// NamespaceCreated says the caller created Namespace just before this
	// sync (CreateNamespace): nothing in it existed, so its objects are not
	// read before they are applied.
	NamespaceCreated bool
	// Prune deletes live objects that are no longer desired (Argo CD's prune flag);
	// without it they are reported PruneSkipped.
	Prune bool
	// PruneConfirmed allows pruning resources marked Prune=confirm.
	PruneConfirmed bool
	// DryRun validates everything and reports what would happen, changing nothing.
	DryRun bool
	// SyncOptions are the application's sync options (spec.syncPolicy.syncOptions,
	// see ParseSyncOptions); a resource's sync-options annotation overrides them.
	SyncOptions SyncOptions
	// OutOfSync lists the resources that differ from their desired state; with
	// ApplyOutOfSyncOnly only those (and resources not yet live) are applied.
	OutOfSync map[ResourceKey]bool
	// InSync lists live resources the caller compared equal to their desired
	// state, no field ignored: they are applied but not dry-run first, as
	// the server holds that very object already.
	InSync map[ResourceKey]bool
	// Resources, when not empty, restricts the sync to these resources (Argo CD's
	// selective sync): hooks do not run and only these are pruned.
	Resources []ResourceKey
	// Revision names what is synced; it makes the names of hooks that use
	// generateName deterministic for one operation, as in Argo CD.
	Revision string
	// Health judges live objects between waves and decides when hooks complete. Required.
	Health HealthFunc
	// PollInterval is how often objects are re-read while waiting (default 1s).
	PollInterval time.Duration
	// WaitTimeout bounds each wait for a wave to become healthy, a hook to complete or
	// a deletion to finish (0: only ctx bounds it). When it passes, the sync fails.
	WaitTimeout time.Duration
	// Progress, if set, receives a snapshot of the result (Phase Running) after each step.
	Progress func(Result)
	// Log receives one line per action at V(1).
	Log logr.Logger
}

// OperationPhase is the state of an operation or of one hook, with Argo CD's values.
type OperationPhase string

const (
	OperationRunning   OperationPhase = "Running"
	OperationSucceeded OperationPhase = "Succeeded"
	OperationFailed    OperationPhase = "Failed"
	OperationError     OperationPhase = "Error"
)

// ResultCode is the outcome for one resource, with Argo CD's values.
type ResultCode string

const (
	ResultSynced       ResultCode = "Synced"
	ResultSyncFailed   ResultCode = "SyncFailed"
	ResultPruned       ResultCode = "Pruned"
	ResultPruneSkipped ResultCode = "PruneSkipped"
)

// SyncPhase is one of the phases of a sync, run in this order (SyncFail only on failure).
type SyncPhase string

const (
	PhasePreSync  SyncPhase = "PreSync"
	PhaseSync     SyncPhase = "Sync"
	PhasePostSync SyncPhase = "PostSync"
	PhaseSyncFail SyncPhase = "SyncFail"
)

// HookType is the value of the hook annotation; Skip means "never apply".
type HookType string

const (
	HookPreSync  HookType = "PreSync"
	HookSync     HookType = "Sync"
	HookPostSync HookType = "PostSync"
	HookSyncFail HookType = "SyncFail"
	HookSkip     HookType = "Skip"
)

// ResourceResult is what happened to one resource (or one run of a hook).
type ResourceResult struct {
	Group, Version, Kind, Namespace, Name string
	Status                                ResultCode
	// Message reads like kubectl ("deployment.apps/web configured") or says what failed.
	Message string
	// HookType and HookPhase are set for hooks only.
	HookType  HookType
	HookPhase OperationPhase
	SyncPhase SyncPhase
	Wave      int
}

// Key returns the resource's key.
func (r ResourceResult) Key() ResourceKey {
	return ResourceKey{Group: r.Group, Kind: r.Kind, Namespace: r.Namespace, Name: r.Name}
}

// Result is the outcome of a sync. Resources are in the order they were acted on.
type Result struct {
	Phase     OperationPhase
	Message   string
	Resources []ResourceResult
}
