package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// The Application kind follows Argo CD's argoproj.io/v1alpha1 Application
// field for field (same JSON names, same meanings), so that an Argo CD
// manifest with only its apiVersion changed is accepted. Structs carry
// PreserveUnknownFields so that Argo CD fields gantry does not implement are
// kept rather than silently pruned by the API server: the controller compares
// the stored object with these types and reports each such field in an
// UnsupportedField condition.

// ApplicationFinalizer is Argo CD's cascade-delete finalizer: with it, deleting
// the Application deletes its resources (foreground); without it, they are
// left in place (orphaned).
const ApplicationFinalizer = "resources-finalizer.argocd.argoproj.io"

// ApplicationBackgroundFinalizer deletes the resources in the background.
const ApplicationBackgroundFinalizer = "resources-finalizer.argocd.argoproj.io/background"

// Application is a set of manifests in Git deployed to one destination
// cluster and namespace, kept in sync with Git.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=app;apps,categories=gantry
// +kubebuilder:printcolumn:name="Sync Status",type=string,JSONPath=`.status.sync.status`
// +kubebuilder:printcolumn:name="Health Status",type=string,JSONPath=`.status.health.status`
// +kubebuilder:printcolumn:name="Revision",type=string,JSONPath=`.status.sync.revision`,priority=10
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Application struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ApplicationSpec   `json:"spec"`
	Status ApplicationStatus `json:"status,omitempty"`
	// Operation asks the controller to run a sync (as `argocd app sync` does);
	// the controller clears it once the operation has started.
	// +optional
	Operation *Operation `json:"operation,omitempty"`
}

// ApplicationList is a list of Applications.
//
// +kubebuilder:object:root=true
type ApplicationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Application `json:"items"`
}

// ApplicationSpec is what to deploy, where, and how to keep it in sync.
// +kubebuilder:pruning:PreserveUnknownFields
type ApplicationSpec struct {
	// Source is where the manifests come from. Exactly one of source and
	// sources is set.
	// +optional
	Source *ApplicationSource `json:"source,omitempty"`
	// Sources lists several sources whose manifests are deployed together; a
	// source with a ref only provides value files to the others.
	// +optional
	Sources []ApplicationSource `json:"sources,omitempty"`
	// Destination is the cluster and namespace to deploy to.
	Destination ApplicationDestination `json:"destination"`
	// Project is the gantry project (Argo CD AppProject) the app belongs to:
	// the one whose namespace (p-<project>) holds it. Empty means that one;
	// any other name is refused, since an app cannot claim another project's
	// rights.
	// +optional
	Project string `json:"project,omitempty"`
	// SyncPolicy controls when and how a sync is performed.
	// +optional
	SyncPolicy *SyncPolicy `json:"syncPolicy,omitempty"`
	// IgnoreDifferences lists fields left out of the comparison.
	// +optional
	IgnoreDifferences []ResourceIgnoreDifferences `json:"ignoreDifferences,omitempty"`
	// Info is free-form information shown with the app.
	// +optional
	Info []Info `json:"info,omitempty"`
	// RevisionHistoryLimit is how many entries status.history keeps (default 10).
	// +optional
	RevisionHistoryLimit *int64 `json:"revisionHistoryLimit,omitempty"`
}

// ApplicationSource is a Git repository (or Helm chart repository) and what
// to render from it.
// +kubebuilder:pruning:PreserveUnknownFields
type ApplicationSource struct {
	// RepoURL is the Git repository URL (https://, ssh://, git@host:path or
	// file://) or, with chart set, a Helm chart repository URL.
	RepoURL string `json:"repoURL"`
	// Path is the directory inside the repository to render.
	// +optional
	Path string `json:"path,omitempty"`
	// TargetRevision is a branch, tag, commit SHA or HEAD (the default); for
	// a chart, the chart version.
	// +optional
	TargetRevision string `json:"targetRevision,omitempty"`
	// +optional
	Helm *ApplicationSourceHelm `json:"helm,omitempty"`
	// +optional
	Kustomize *ApplicationSourceKustomize `json:"kustomize,omitempty"`
	// +optional
	Directory *ApplicationSourceDirectory `json:"directory,omitempty"`
	// Chart is a Helm chart name in the chart repository at repoURL.
	// +optional
	Chart string `json:"chart,omitempty"`
	// Ref names this source so that others refer to its files as $<ref>/path
	// in helm.valueFiles.
	// +optional
	Ref string `json:"ref,omitempty"`
	// Name identifies the source in a multi-source app.
	// +optional
	Name string `json:"name,omitempty"`
}

// ApplicationSourceHelm renders a Helm chart.
// +kubebuilder:pruning:PreserveUnknownFields
type ApplicationSourceHelm struct {
	// ValueFiles are paths of values files, relative to the chart, or
	// $<ref>/path into another source.
	// +optional
	ValueFiles []string `json:"valueFiles,omitempty"`
	// Parameters override single values (--set name=value).
	// +optional
	Parameters []HelmParameter `json:"parameters,omitempty"`
	// FileParameters set a value to a file's content (--set-file
	// name=path); paths are read as valueFiles are.
	// +optional
	FileParameters []HelmFileParameter `json:"fileParameters,omitempty"`
	// ReleaseName defaults to the Application's name.
	// +optional
	ReleaseName string `json:"releaseName,omitempty"`
	// Values is a values file's content, as a string.
	// +optional
	Values string `json:"values,omitempty"`
	// ValuesObject is values as a YAML object; it wins over values.
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	ValuesObject *runtime.RawExtension `json:"valuesObject,omitempty"`
	// IgnoreMissingValueFiles skips value files that do not exist.
	// +optional
	IgnoreMissingValueFiles bool `json:"ignoreMissingValueFiles,omitempty"`
	// SkipCrds leaves out the chart's crds/ directory.
	// +optional
	SkipCrds bool `json:"skipCrds,omitempty"`
	// SkipTests leaves out the chart's test hooks.
	// +optional
	SkipTests bool `json:"skipTests,omitempty"`
	// SkipSchemaValidation renders without checking the values against the
	// chart's values.schema.json (helm template --skip-schema-validation).
	// +optional
	SkipSchemaValidation bool `json:"skipSchemaValidation,omitempty"`
	// Version is Argo CD's Helm major version; only v3 (the default) is
	// known, and gantry renders it with the Helm v4 SDK, which renders v3
	// charts the same.
	// +optional
	// +kubebuilder:validation:Enum=v3
	Version string `json:"version,omitempty"`
	// Namespace overrides the release namespace (default: the destination's).
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// KubeVersion is the Kubernetes version templates see.
	// +optional
	KubeVersion string `json:"kubeVersion,omitempty"`
	// APIVersions are the API versions templates see.
	// +optional
	APIVersions []string `json:"apiVersions,omitempty"`
}

// HelmParameter is one --set value.
type HelmParameter struct {
	Name  string `json:"name,omitempty"`
	Value string `json:"value,omitempty"`
	// ForceString sets the value as a string (--set-string).
	// +optional
	ForceString bool `json:"forceString,omitempty"`
}

// HelmFileParameter is one --set-file value.
type HelmFileParameter struct {
	Name string `json:"name,omitempty"`
	Path string `json:"path,omitempty"`
}

// ApplicationSourceKustomize overrides applied on top of a kustomization.
// +kubebuilder:pruning:PreserveUnknownFields
type ApplicationSourceKustomize struct {
	// +optional
	NamePrefix string `json:"namePrefix,omitempty"`
	// +optional
	NameSuffix string `json:"nameSuffix,omitempty"`
	// Images overrides images as `kustomize edit set image` does
	// (name=newName:tag, name:tag, name@digest).
	// +optional
	Images []string `json:"images,omitempty"`
	// +optional
	CommonLabels map[string]string `json:"commonLabels,omitempty"`
	// +optional
	CommonAnnotations map[string]string `json:"commonAnnotations,omitempty"`
	// CommonAnnotationsEnvsubst substitutes build variables ($ARGOCD_APP_NAME...)
	// in commonAnnotations values.
	// +optional
	CommonAnnotationsEnvsubst bool `json:"commonAnnotationsEnvsubst,omitempty"`
	// LabelWithoutSelector adds commonLabels to metadata only, not to
	// selectors (kustomize's labels with includeSelectors: false).
	// +optional
	LabelWithoutSelector bool `json:"labelWithoutSelector,omitempty"`
	// LabelIncludeTemplates, with labelWithoutSelector, also labels pod
	// templates.
	// +optional
	LabelIncludeTemplates bool `json:"labelIncludeTemplates,omitempty"`
	// ForceCommonLabels overrides labels already set in the manifests.
	// +optional
	ForceCommonLabels bool `json:"forceCommonLabels,omitempty"`
	// ForceCommonAnnotations overrides annotations already set.
	// +optional
	ForceCommonAnnotations bool `json:"forceCommonAnnotations,omitempty"`
	// Namespace sets the namespace of every namespaced resource.
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// Replicas overrides replica counts by resource name.
	// +optional
	Replicas []KustomizeReplica `json:"replicas,omitempty"`
	// Patches are kustomize patches (strategic merge or JSON 6902).
	// +optional
	Patches []KustomizePatch `json:"patches,omitempty"`
	// Components are kustomize components to include.
	// +optional
	Components []string `json:"components,omitempty"`
}

// KustomizeReplica sets the replica count of the named resource.
type KustomizeReplica struct {
	Name  string             `json:"name"`
	Count intstr.IntOrString `json:"count"`
}

// KustomizePatch is one kustomize patch.
type KustomizePatch struct {
	// +optional
	Path string `json:"path,omitempty"`
	// +optional
	Patch string `json:"patch,omitempty"`
	// +optional
	Target *KustomizeSelector `json:"target,omitempty"`
	// +optional
	Options map[string]bool `json:"options,omitempty"`
}

// KustomizeSelector selects the resources a patch applies to.
type KustomizeSelector struct {
	Group              string `json:"group,omitempty"`
	Version            string `json:"version,omitempty"`
	Kind               string `json:"kind,omitempty"`
	Name               string `json:"name,omitempty"`
	Namespace          string `json:"namespace,omitempty"`
	LabelSelector      string `json:"labelSelector,omitempty"`
	AnnotationSelector string `json:"annotationSelector,omitempty"`
}

// ApplicationSourceDirectory renders a directory of YAML and JSON files.
// +kubebuilder:pruning:PreserveUnknownFields
type ApplicationSourceDirectory struct {
	// Recurse includes subdirectories.
	// +optional
	Recurse bool `json:"recurse,omitempty"`
	// Include is a glob (or {a,b} list of globs) of files to include.
	// +optional
	Include string `json:"include,omitempty"`
	// Exclude is a glob (or {a,b} list of globs) of files to leave out.
	// +optional
	Exclude string `json:"exclude,omitempty"`
	// Jsonnet configures the evaluation of the directory's *.jsonnet files.
	// +optional
	Jsonnet *ApplicationSourceJsonnet `json:"jsonnet,omitempty"`
}

// ApplicationSourceJsonnet holds the external variables, top-level
// arguments and library paths of a directory's Jsonnet files.
type ApplicationSourceJsonnet struct {
	// ExtVars are external variables (std.extVar).
	// +optional
	ExtVars []JsonnetVar `json:"extVars,omitempty"`
	// TLAs are top-level arguments of the files' functions.
	// +optional
	TLAs []JsonnetVar `json:"tlas,omitempty"`
	// Libs are library paths for imports, relative to the repository root.
	// +optional
	Libs []string `json:"libs,omitempty"`
}

// JsonnetVar is a Jsonnet variable: a string, or Jsonnet code with code.
type JsonnetVar struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	// +optional
	Code bool `json:"code,omitempty"`
}

// ApplicationDestination is a cluster (by API server URL or by the name in
// its cluster Secret) and a namespace.
// +kubebuilder:pruning:PreserveUnknownFields
type ApplicationDestination struct {
	// Server is the cluster's API URL; https://kubernetes.default.svc is the
	// host cluster.
	// +optional
	Server string `json:"server,omitempty"`
	// Namespace is where namespaced resources without a namespace go.
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// Name is the cluster's name in its cluster Secret (instead of server).
	// +optional
	Name string `json:"name,omitempty"`
}

// SyncPolicy controls automated sync and sync behaviour.
// +kubebuilder:pruning:PreserveUnknownFields
type SyncPolicy struct {
	// Automated syncs whenever Git or the cluster differs.
	// +optional
	Automated *SyncPolicyAutomated `json:"automated,omitempty"`
	// SyncOptions such as CreateNamespace=true, ServerSideApply=true,
	// PruneLast=true, ApplyOutOfSyncOnly=true,
	// PrunePropagationPolicy=foreground|background|orphan.
	// +optional
	SyncOptions []string `json:"syncOptions,omitempty"`
	// Retry retries failed syncs with backoff.
	// +optional
	Retry *RetryStrategy `json:"retry,omitempty"`
	// ManagedNamespaceMetadata: labels and annotations that each sync sets on
	// the destination namespace; needs CreateNamespace=true.
	// +optional
	ManagedNamespaceMetadata *ManagedNamespaceMetadata `json:"managedNamespaceMetadata,omitempty"`
}

// ManagedNamespaceMetadata is what gantry keeps on the namespace it creates.
type ManagedNamespaceMetadata struct {
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
}

// SyncPolicyAutomated is automated sync.
// +kubebuilder:pruning:PreserveUnknownFields
type SyncPolicyAutomated struct {
	// Prune deletes resources that left Git.
	// +optional
	Prune bool `json:"prune,omitempty"`
	// SelfHeal reverts changes made in the cluster.
	// +optional
	SelfHeal bool `json:"selfHeal,omitempty"`
	// AllowEmpty allows a sync that would leave the app with no resources.
	// +optional
	AllowEmpty bool `json:"allowEmpty,omitempty"`
	// Enabled turns automation off when false (default true).
	// +optional
	Enabled *bool `json:"enabled,omitempty"`
}

// RetryStrategy is how failed syncs are retried.
type RetryStrategy struct {
	// Limit is the number of retries; negative means forever.
	// +optional
	Limit int64 `json:"limit,omitempty"`
	// +optional
	Backoff *Backoff `json:"backoff,omitempty"`
	// Refresh makes a retry sync the latest revision of targetRevision
	// instead of the one the failed attempt used.
	// +optional
	Refresh bool `json:"refresh,omitempty"`
}

// Backoff is an exponential backoff.
type Backoff struct {
	// Duration is the first wait, e.g. "5s" (default).
	// +optional
	Duration string `json:"duration,omitempty"`
	// Factor multiplies the wait after each failure (default 2).
	// +optional
	Factor *int64 `json:"factor,omitempty"`
	// MaxDuration caps the wait (default "3m").
	// +optional
	MaxDuration string `json:"maxDuration,omitempty"`
}

// ResourceIgnoreDifferences leaves fields of matching resources out of the diff.
// +kubebuilder:pruning:PreserveUnknownFields
type ResourceIgnoreDifferences struct {
	// +optional
	Group string `json:"group,omitempty"`
	Kind  string `json:"kind"`
	// +optional
	Name string `json:"name,omitempty"`
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// JSONPointers are RFC 6901 paths, e.g. /spec/replicas.
	// +optional
	JSONPointers []string `json:"jsonPointers,omitempty"`
	// JQPathExpressions are jq path expressions, e.g.
	// .spec.template.spec.containers[] | select(.name == "app") | .image
	// +optional
	JQPathExpressions []string `json:"jqPathExpressions,omitempty"`
	// ManagedFieldsManagers: fields these field managers own in the live
	// object are ignored, e.g. kube-controller-manager for replicas an HPA sets.
	// +optional
	ManagedFieldsManagers []string `json:"managedFieldsManagers,omitempty"`
}

// Info is a name and value shown with the app.
type Info struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// SyncStatusCode is whether live state matches Git.
type SyncStatusCode string

const (
	SyncStatusUnknown   SyncStatusCode = "Unknown"
	SyncStatusSynced    SyncStatusCode = "Synced"
	SyncStatusOutOfSync SyncStatusCode = "OutOfSync"
)

// HealthStatusCode is Argo CD's health of a resource or an app.
type HealthStatusCode string

const (
	HealthUnknown     HealthStatusCode = "Unknown"
	HealthProgressing HealthStatusCode = "Progressing"
	HealthHealthy     HealthStatusCode = "Healthy"
	HealthSuspended   HealthStatusCode = "Suspended"
	HealthDegraded    HealthStatusCode = "Degraded"
	HealthMissing     HealthStatusCode = "Missing"
)

// ApplicationStatus is what the controller observed and did.
type ApplicationStatus struct {
	// Resources lists every resource the app manages, with its sync and health.
	// +optional
	Resources []ResourceStatus `json:"resources,omitempty"`
	// +optional
	Sync SyncStatus `json:"sync,omitempty"`
	// +optional
	Health HealthStatus `json:"health,omitempty"`
	// History lists past syncs, newest last, at most revisionHistoryLimit.
	// +optional
	History []RevisionHistory `json:"history,omitempty"`
	// Conditions are errors and warnings: ComparisonError, SyncError,
	// InvalidSpecError, UnsupportedField, OrphanedResourceWarning.
	// +optional
	Conditions []ApplicationCondition `json:"conditions,omitempty"`
	// ReconciledAt is when the app was last compared with Git.
	// +optional
	ReconciledAt *metav1.Time `json:"reconciledAt,omitempty"`
	// OperationState is the state of the current or last sync.
	// +optional
	OperationState *OperationState `json:"operationState,omitempty"`
	// SourceType is Directory, Kustomize or Helm.
	// +optional
	SourceType string `json:"sourceType,omitempty"`
	// SourceTypes is the type of each source of a multi-source app.
	// +optional
	SourceTypes []string `json:"sourceTypes,omitempty"`
	// +optional
	Summary ApplicationSummary `json:"summary,omitempty"`
	// ObservedAt is kept for compatibility with Argo CD clients.
	// +optional
	ObservedAt *metav1.Time `json:"observedAt,omitempty"`
}

// ResourceStatus is one managed resource.
type ResourceStatus struct {
	// +optional
	Group     string `json:"group,omitempty"`
	Version   string `json:"version,omitempty"`
	Kind      string `json:"kind,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name,omitempty"`
	// +optional
	Status SyncStatusCode `json:"status,omitempty"`
	// +optional
	Health *HealthStatus `json:"health,omitempty"`
	// +optional
	Hook bool `json:"hook,omitempty"`
	// RequiresPruning is true for a resource that left Git.
	// +optional
	RequiresPruning bool `json:"requiresPruning,omitempty"`
	// +optional
	SyncWave int64 `json:"syncWave,omitempty"`
}

// SyncStatus is the comparison result.
type SyncStatus struct {
	Status SyncStatusCode `json:"status"`
	// +optional
	ComparedTo ComparedTo `json:"comparedTo,omitempty"`
	// Revision is the commit compared with.
	// +optional
	Revision string `json:"revision,omitempty"`
	// Revisions are the commits of a multi-source app.
	// +optional
	Revisions []string `json:"revisions,omitempty"`
}

// ComparedTo is the spec the comparison used.
type ComparedTo struct {
	// +optional
	Source *ApplicationSource `json:"source,omitempty"`
	// +optional
	Sources []ApplicationSource `json:"sources,omitempty"`
	// +optional
	Destination ApplicationDestination `json:"destination,omitempty"`
	// +optional
	IgnoreDifferences []ResourceIgnoreDifferences `json:"ignoreDifferences,omitempty"`
}

// HealthStatus is a health code and a message.
type HealthStatus struct {
	// +optional
	Status HealthStatusCode `json:"status,omitempty"`
	// +optional
	Message string `json:"message,omitempty"`
	// +optional
	LastTransitionTime *metav1.Time `json:"lastTransitionTime,omitempty"`
}

// RevisionHistory is one past sync, the input to rollback.
type RevisionHistory struct {
	// Revision is the commit synced (single-source apps).
	// +optional
	Revision string `json:"revision,omitempty"`
	// Revisions are the commits synced (multi-source apps).
	// +optional
	Revisions  []string    `json:"revisions,omitempty"`
	DeployedAt metav1.Time `json:"deployedAt"`
	// ID is unique within the app and increases with each sync.
	ID int64 `json:"id"`
	// +optional
	Source *ApplicationSource `json:"source,omitempty"`
	// +optional
	Sources []ApplicationSource `json:"sources,omitempty"`
	// +optional
	DeployStartedAt *metav1.Time `json:"deployStartedAt,omitempty"`
	// +optional
	InitiatedBy OperationInitiator `json:"initiatedBy,omitempty"`
}

// Condition types, as Argo CD names them.
const (
	ConditionComparisonError         = "ComparisonError"
	ConditionSyncError               = "SyncError"
	ConditionInvalidSpecError        = "InvalidSpecError"
	ConditionUnknownError            = "UnknownError"
	ConditionUnsupportedField        = "UnsupportedField"
	ConditionOrphanedResourceWarning = "OrphanedResourceWarning"
	ConditionDeletionError           = "DeletionError"
)

// ApplicationCondition is an error or a warning about the app.
type ApplicationCondition struct {
	Type    string `json:"type"`
	Message string `json:"message"`
	// +optional
	LastTransitionTime *metav1.Time `json:"lastTransitionTime,omitempty"`
}

// ApplicationSummary holds the images and external URLs of the app.
type ApplicationSummary struct {
	// +optional
	ExternalURLs []string `json:"externalURLs,omitempty"`
	// +optional
	Images []string `json:"images,omitempty"`
}

// Operation is a requested sync.
type Operation struct {
	// +optional
	Sync *SyncOperation `json:"sync,omitempty"`
	// +optional
	InitiatedBy OperationInitiator `json:"initiatedBy,omitempty"`
	// +optional
	Info []Info `json:"info,omitempty"`
	// +optional
	Retry RetryStrategy `json:"retry,omitempty"`
}

// SyncOperation is a sync to a revision, of all or some resources.
type SyncOperation struct {
	// Revision to sync to; empty means spec.source.targetRevision.
	// +optional
	Revision string `json:"revision,omitempty"`
	// +optional
	Revisions []string `json:"revisions,omitempty"`
	// Prune deletes resources that left Git.
	// +optional
	Prune bool `json:"prune,omitempty"`
	// DryRun checks the sync without changing anything.
	// +optional
	DryRun bool `json:"dryRun,omitempty"`
	// Resources limits the sync to these resources.
	// +optional
	Resources []SyncOperationResource `json:"resources,omitempty"`
	// Source overrides the app's source (a rollback uses the history's).
	// +optional
	Source *ApplicationSource `json:"source,omitempty"`
	// +optional
	Sources []ApplicationSource `json:"sources,omitempty"`
	// +optional
	SyncOptions []string `json:"syncOptions,omitempty"`
}

// SyncOperationResource selects a resource to sync.
type SyncOperationResource struct {
	// +optional
	Group string `json:"group,omitempty"`
	Kind  string `json:"kind"`
	Name  string `json:"name"`
	// +optional
	Namespace string `json:"namespace,omitempty"`
}

// OperationInitiator says who started an operation.
type OperationInitiator struct {
	// +optional
	Username string `json:"username,omitempty"`
	// Automated is true for syncs started by the automated policy.
	// +optional
	Automated bool `json:"automated,omitempty"`
}

// OperationPhase is the state of an operation.
type OperationPhase string

const (
	OperationRunning     OperationPhase = "Running"
	OperationTerminating OperationPhase = "Terminating"
	OperationFailed      OperationPhase = "Failed"
	OperationError       OperationPhase = "Error"
	OperationSucceeded   OperationPhase = "Succeeded"
)

// OperationState is the state of the current or last operation.
type OperationState struct {
	Operation Operation      `json:"operation"`
	Phase     OperationPhase `json:"phase"`
	// +optional
	Message string `json:"message,omitempty"`
	// +optional
	SyncResult *SyncOperationResult `json:"syncResult,omitempty"`
	StartedAt  metav1.Time          `json:"startedAt"`
	// +optional
	FinishedAt *metav1.Time `json:"finishedAt,omitempty"`
	// +optional
	RetryCount int64 `json:"retryCount,omitempty"`
}

// SyncOperationResult is what a sync did.
type SyncOperationResult struct {
	// +optional
	Resources []ResourceResult `json:"resources,omitempty"`
	Revision  string           `json:"revision"`
	// +optional
	Source ApplicationSource `json:"source,omitempty"`
	// +optional
	Revisions []string `json:"revisions,omitempty"`
	// +optional
	Sources []ApplicationSource `json:"sources,omitempty"`
}

// ResultCode is what happened to one resource in a sync.
type ResultCode string

const (
	ResultSynced       ResultCode = "Synced"
	ResultSyncFailed   ResultCode = "SyncFailed"
	ResultPruned       ResultCode = "Pruned"
	ResultPruneSkipped ResultCode = "PruneSkipped"
)

// HookType is when a hook runs.
type HookType string

const (
	HookPreSync  HookType = "PreSync"
	HookSync     HookType = "Sync"
	HookPostSync HookType = "PostSync"
	HookSyncFail HookType = "SyncFail"
	HookSkip     HookType = "Skip"
)

// ResourceResult is one resource in a sync's result.
type ResourceResult struct {
	// +optional
	Group     string `json:"group,omitempty"`
	Version   string `json:"version"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// +optional
	Status ResultCode `json:"status,omitempty"`
	// +optional
	Message string `json:"message,omitempty"`
	// HookType is set for hooks.
	// +optional
	HookType HookType `json:"hookType,omitempty"`
	// HookPhase is Running, Succeeded, Failed, Error or Terminating.
	// +optional
	HookPhase OperationPhase `json:"hookPhase,omitempty"`
	// SyncPhase is PreSync, Sync, PostSync or SyncFail.
	// +optional
	SyncPhase HookType `json:"syncPhase,omitempty"`
	// +optional
	Images []string `json:"images,omitempty"`
}

func init() {
	SchemeBuilder.Register(&Application{}, &ApplicationList{})
}
