package v1alpha1

import (
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The ApplicationSet kind follows Argo CD's argoproj.io/v1alpha1
// ApplicationSet field for field (same JSON names, same meanings) for the
// generators gantry implements: list, clusters, git (directories and files),
// matrix and merge. gantry adds the gitBranches generator (one element per
// branch of a repository) and spec.virtualCluster (one VirtualCluster per
// element, for preview environments). As for Application, structs carry
// PreserveUnknownFields so that Argo CD fields gantry does not implement
// (strategy, templatePatch, scmProvider, pullRequest, a generator's template
// or selector, ...) are kept rather than silently pruned, and reported by the
// controller.

// ApplicationSet generates Applications from a template and a list of
// parameter sets produced by generators.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=appset;appsets,categories=gantry
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ApplicationSet struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ApplicationSetSpec   `json:"spec"`
	Status ApplicationSetStatus `json:"status,omitempty"`
}

// ApplicationSetList is a list of ApplicationSets.
//
// +kubebuilder:object:root=true
type ApplicationSetList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ApplicationSet `json:"items"`
}

// ApplicationSetSpec is the generators, the template and how generated
// Applications are kept.
// +kubebuilder:pruning:PreserveUnknownFields
type ApplicationSetSpec struct {
	// GoTemplate renders the template with Go's text/template (and Sprig's
	// functions) instead of fasttemplate's {{param}} replacement.
	// +optional
	GoTemplate bool `json:"goTemplate,omitempty"`
	// Generators produce the parameter sets; each set renders one Application.
	// The sets of all generators are concatenated.
	// +kubebuilder:validation:MinItems=1
	Generators []ApplicationSetGenerator `json:"generators"`
	// Template is the Application rendered for each parameter set.
	Template ApplicationSetTemplate `json:"template"`
	// SyncPolicy says what the controller may do to generated Applications.
	// +optional
	SyncPolicy *ApplicationSetSyncPolicy `json:"syncPolicy,omitempty"`
	// GoTemplateOptions are text/template options, e.g. "missingkey=error".
	// +optional
	GoTemplateOptions []string `json:"goTemplateOptions,omitempty"`
	// VirtualCluster, a gantry extension, creates one VirtualCluster per
	// parameter set (in the ApplicationSet's namespace) before its
	// Application, e.g. a preview environment per branch. Parameter sets that
	// render the same name share one VirtualCluster. The template can then
	// deploy to it with destination.name '{{virtualCluster.clusterName}}'.
	// +optional
	VirtualCluster *ApplicationSetVirtualClusterTemplate `json:"virtualCluster,omitempty"`
}

// ApplicationsSyncPolicy is what the controller may do to the Applications it
// generated.
// +kubebuilder:validation:Enum=create-only;create-update;create-delete;sync
type ApplicationsSyncPolicy string

const (
	// ApplicationsSyncPolicyCreateOnly creates Applications, never updates
	// or deletes them.
	ApplicationsSyncPolicyCreateOnly ApplicationsSyncPolicy = "create-only"
	// ApplicationsSyncPolicyCreateUpdate creates and updates, never deletes.
	ApplicationsSyncPolicyCreateUpdate ApplicationsSyncPolicy = "create-update"
	// ApplicationsSyncPolicyCreateDelete creates and deletes, never updates.
	ApplicationsSyncPolicyCreateDelete ApplicationsSyncPolicy = "create-delete"
	// ApplicationsSyncPolicySync creates, updates and deletes (the default).
	ApplicationsSyncPolicySync ApplicationsSyncPolicy = "sync"
)

// AllowUpdate reports whether generated Applications may be updated.
func (s ApplicationsSyncPolicy) AllowUpdate() bool {
	return s == ApplicationsSyncPolicyCreateUpdate || s == ApplicationsSyncPolicySync || s == ""
}

// AllowDelete reports whether Applications no longer generated may be deleted.
func (s ApplicationsSyncPolicy) AllowDelete() bool {
	return s == ApplicationsSyncPolicySync || s == ApplicationsSyncPolicyCreateDelete || s == ""
}

// ApplicationSetSyncPolicy controls the generated Applications' lifecycle.
// +kubebuilder:pruning:PreserveUnknownFields
type ApplicationSetSyncPolicy struct {
	// PreserveResourcesOnDeletion leaves the Applications' resources in
	// place when an Application is deleted: generated Applications then get
	// no resources finalizer.
	// +optional
	PreserveResourcesOnDeletion bool `json:"preserveResourcesOnDeletion,omitempty"`
	// ApplicationsSync limits what the controller does to generated
	// Applications; unset means sync (create, update and delete).
	// +optional
	ApplicationsSync *ApplicationsSyncPolicy `json:"applicationsSync,omitempty"`
}

// ApplicationSetTemplate is an Application with templated strings.
type ApplicationSetTemplate struct {
	ApplicationSetTemplateMeta `json:"metadata"`
	Spec                       ApplicationSpec `json:"spec"`
}

// ApplicationSetTemplateMeta is the metadata of a generated Application.
type ApplicationSetTemplateMeta struct {
	// Name must render to a valid Application name (a DNS subdomain) unique
	// among the set's Applications.
	// +optional
	Name string `json:"name,omitempty"`
	// Namespace defaults to the ApplicationSet's.
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
	// Finalizers; empty means the resources finalizer (cascade delete)
	// unless syncPolicy.preserveResourcesOnDeletion is set.
	// +optional
	Finalizers []string `json:"finalizers,omitempty"`
}

// ApplicationSetVirtualClusterTemplate is gantry's template of a
// VirtualCluster per parameter set. Its strings are rendered like the
// Application template's.
type ApplicationSetVirtualClusterTemplate struct {
	// Name of the VirtualCluster; must render to a DNS label, e.g.
	// 'pr-{{branchNormalized}}'.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// Labels of the VirtualCluster, also copied onto its cluster
	// registration (spec.labels) so that cluster generators can select it.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
	// SleepAfter puts the cluster to sleep after this long without API
	// activity, e.g. "30m"; it must render to a Go duration.
	// +optional
	SleepAfter string `json:"sleepAfter,omitempty"`
}

// ApplicationSetGenerator is one generator; exactly one field is set.
// +kubebuilder:pruning:PreserveUnknownFields
type ApplicationSetGenerator struct {
	// +optional
	List *ListGenerator `json:"list,omitempty"`
	// +optional
	Clusters *ClusterGenerator `json:"clusters,omitempty"`
	// +optional
	Git *GitGenerator `json:"git,omitempty"`
	// +optional
	Matrix *MatrixGenerator `json:"matrix,omitempty"`
	// +optional
	Merge *MergeGenerator `json:"merge,omitempty"`
	// GitBranches is gantry's: one parameter set per branch of a repository.
	// +optional
	GitBranches *GitBranchesGenerator `json:"gitBranches,omitempty"`
}

// ApplicationSetNestedGenerator is a generator inside a matrix or merge: a
// matrix or merge in it may only hold terminal generators (one level of
// nesting, as in Argo CD).
// +kubebuilder:pruning:PreserveUnknownFields
type ApplicationSetNestedGenerator struct {
	// +optional
	List *ListGenerator `json:"list,omitempty"`
	// +optional
	Clusters *ClusterGenerator `json:"clusters,omitempty"`
	// +optional
	Git *GitGenerator `json:"git,omitempty"`
	// +optional
	Matrix *NestedMatrixGenerator `json:"matrix,omitempty"`
	// +optional
	Merge *NestedMergeGenerator `json:"merge,omitempty"`
	// +optional
	GitBranches *GitBranchesGenerator `json:"gitBranches,omitempty"`
}

// ApplicationSetTerminalGenerator is a generator inside a nested matrix or
// merge: no further combination.
// +kubebuilder:pruning:PreserveUnknownFields
type ApplicationSetTerminalGenerator struct {
	// +optional
	List *ListGenerator `json:"list,omitempty"`
	// +optional
	Clusters *ClusterGenerator `json:"clusters,omitempty"`
	// +optional
	Git *GitGenerator `json:"git,omitempty"`
	// +optional
	GitBranches *GitBranchesGenerator `json:"gitBranches,omitempty"`
}

// ListGenerator yields its elements as given.
// +kubebuilder:pruning:PreserveUnknownFields
type ListGenerator struct {
	// Elements are JSON objects; without goTemplate their values must be
	// strings (and "values" an object of strings, giving values.<key>).
	Elements []apiextensionsv1.JSON `json:"elements"`
}

// ClusterGenerator yields one parameter set per registered cluster: the
// host (in-cluster) unless a selector is set, and each cluster Secret
// matching the selector.
// +kubebuilder:pruning:PreserveUnknownFields
type ClusterGenerator struct {
	// Selector matches the labels of cluster Secrets.
	// +optional
	Selector metav1.LabelSelector `json:"selector,omitempty"`
	// Values are added as values.<key>; they may use the cluster's parameters.
	// +optional
	Values map[string]string `json:"values,omitempty"`
}

// GitGenerator yields one parameter set per matching directory, or per
// object in the matching JSON/YAML files, of a repository at a revision.
// Exactly one of directories and files is set.
// +kubebuilder:pruning:PreserveUnknownFields
type GitGenerator struct {
	RepoURL string `json:"repoURL"`
	// +optional
	Directories []GitDirectoryGeneratorItem `json:"directories,omitempty"`
	// +optional
	Files []GitFileGeneratorItem `json:"files,omitempty"`
	// Revision is a branch, tag, commit or HEAD.
	Revision string `json:"revision"`
	// RequeueAfterSeconds is how often the repository is polled (default 180).
	// +optional
	RequeueAfterSeconds *int64 `json:"requeueAfterSeconds,omitempty"`
	// PathParamPrefix prefixes the path parameters (<prefix>.path...), e.g.
	// to combine two git generators in a matrix.
	// +optional
	PathParamPrefix string `json:"pathParamPrefix,omitempty"`
	// Values are added as values.<key>; they may use the generator's parameters.
	// +optional
	Values map[string]string `json:"values,omitempty"`
}

// GitDirectoryGeneratorItem is a path.Match pattern of directories.
type GitDirectoryGeneratorItem struct {
	Path string `json:"path"`
	// Exclude leaves matching directories out, whatever else matches them.
	// +optional
	Exclude bool `json:"exclude,omitempty"`
}

// GitFileGeneratorItem is a glob of files ("**" matches any directories).
type GitFileGeneratorItem struct {
	Path string `json:"path"`
	// Exclude leaves matching files out.
	// +optional
	Exclude bool `json:"exclude,omitempty"`
}

// GitBranchesGenerator is gantry's: one parameter set per branch of a
// repository (branch, branchNormalized, sha, shortSha), e.g. a preview
// environment per feature branch.
// +kubebuilder:pruning:PreserveUnknownFields
type GitBranchesGenerator struct {
	RepoURL string `json:"repoURL"`
	// BranchMatch is a regular expression (RE2) branch names must match;
	// empty matches every branch.
	// +optional
	BranchMatch string `json:"branchMatch,omitempty"`
	// RequeueAfterSeconds is how often the branches are listed (default 180).
	// +optional
	RequeueAfterSeconds *int64 `json:"requeueAfterSeconds,omitempty"`
	// Values are added as values.<key>; they may use the branch's parameters.
	// +optional
	Values map[string]string `json:"values,omitempty"`
}

// MatrixGenerator yields the cartesian product of two generators' sets; the
// second may use the first's parameters.
// +kubebuilder:pruning:PreserveUnknownFields
type MatrixGenerator struct {
	// +kubebuilder:validation:MinItems=2
	// +kubebuilder:validation:MaxItems=2
	Generators []ApplicationSetNestedGenerator `json:"generators"`
}

// NestedMatrixGenerator is a matrix inside a matrix or merge.
// +kubebuilder:pruning:PreserveUnknownFields
type NestedMatrixGenerator struct {
	// +kubebuilder:validation:MinItems=2
	// +kubebuilder:validation:MaxItems=2
	Generators []ApplicationSetTerminalGenerator `json:"generators"`
}

// MergeGenerator yields the first generator's sets, each overridden by the
// sets of the following generators with the same merge keys' values.
// +kubebuilder:pruning:PreserveUnknownFields
type MergeGenerator struct {
	// +kubebuilder:validation:MinItems=2
	Generators []ApplicationSetNestedGenerator `json:"generators"`
	// +kubebuilder:validation:MinItems=1
	MergeKeys []string `json:"mergeKeys"`
}

// NestedMergeGenerator is a merge inside a matrix or merge.
// +kubebuilder:pruning:PreserveUnknownFields
type NestedMergeGenerator struct {
	// +kubebuilder:validation:MinItems=2
	Generators []ApplicationSetTerminalGenerator `json:"generators"`
	// +kubebuilder:validation:MinItems=1
	MergeKeys []string `json:"mergeKeys"`
}

// ApplicationSetStatus is what the controller observed and did.
type ApplicationSetStatus struct {
	// Conditions: ErrorOccurred, ParametersGenerated, ResourcesUpToDate.
	// +optional
	Conditions []ApplicationSetCondition `json:"conditions,omitempty"`
	// ApplicationStatus is the per-Application progress of a rollout.
	// +optional
	ApplicationStatus []ApplicationSetApplicationStatus `json:"applicationStatus,omitempty"`
	// Resources are the generated Applications (and VirtualClusters) with
	// their sync status and health.
	// +optional
	Resources []ResourceStatus `json:"resources,omitempty"`
	// ResourcesCount is len(resources).
	// +optional
	ResourcesCount int64 `json:"resourcesCount,omitempty"`
}

// ApplicationSetConditionType is a condition type, as Argo CD names them.
type ApplicationSetConditionType string

const (
	ApplicationSetConditionErrorOccurred       ApplicationSetConditionType = "ErrorOccurred"
	ApplicationSetConditionParametersGenerated ApplicationSetConditionType = "ParametersGenerated"
	ApplicationSetConditionResourcesUpToDate   ApplicationSetConditionType = "ResourcesUpToDate"
)

// ApplicationSetConditionStatus is True, False or Unknown.
type ApplicationSetConditionStatus string

const (
	ApplicationSetConditionStatusTrue    ApplicationSetConditionStatus = "True"
	ApplicationSetConditionStatusFalse   ApplicationSetConditionStatus = "False"
	ApplicationSetConditionStatusUnknown ApplicationSetConditionStatus = "Unknown"
)

// Condition reasons, as Argo CD names them.
const (
	ApplicationSetReasonErrorOccurred                    = "ErrorOccurred"
	ApplicationSetReasonApplicationSetUpToDate           = "ApplicationSetUpToDate"
	ApplicationSetReasonParametersGenerated              = "ParametersGenerated"
	ApplicationSetReasonApplicationGenerated             = "ApplicationGeneratedSuccessfully"
	ApplicationSetReasonUpdateApplicationError           = "UpdateApplicationError"
	ApplicationSetReasonApplicationParamsGenerationError = "ApplicationGenerationFromParamsError"
	ApplicationSetReasonRenderTemplateParamsError        = "RenderTemplateParamsError"
	ApplicationSetReasonCreateApplicationError           = "CreateApplicationError"
	ApplicationSetReasonDeleteApplicationError           = "DeleteApplicationError"
	ApplicationSetReasonApplicationValidationError       = "ApplicationValidationError"
)

// ApplicationSetCondition is Argo CD's condition shape.
type ApplicationSetCondition struct {
	Type    ApplicationSetConditionType `json:"type"`
	Message string                      `json:"message"`
	// +optional
	LastTransitionTime *metav1.Time                  `json:"lastTransitionTime,omitempty"`
	Status             ApplicationSetConditionStatus `json:"status"`
	Reason             string                        `json:"reason"`
}

// ApplicationSetApplicationStatus is one Application's rollout progress.
type ApplicationSetApplicationStatus struct {
	Application string `json:"application"`
	// +optional
	LastTransitionTime *metav1.Time `json:"lastTransitionTime,omitempty"`
	// +optional
	Message string `json:"message,omitempty"`
	// +optional
	Status string `json:"status,omitempty"`
	// +optional
	Step string `json:"step,omitempty"`
	// +optional
	TargetRevisions []string `json:"targetRevisions,omitempty"`
}

func init() {
	SchemeBuilder.Register(&ApplicationSet{}, &ApplicationSetList{})
}
