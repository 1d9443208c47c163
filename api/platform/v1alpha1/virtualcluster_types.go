package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// VirtualClusterFinalizer holds a VirtualCluster until gantry has torn down
// its control plane and host namespace.
const VirtualClusterFinalizer = "platform.gantry.dev/virtualcluster"

// VirtualClusterPhase is the coarse lifecycle state shown in `kubectl get`.
// +kubebuilder:validation:Enum=Pending;Starting;Running;Sleeping;Failed;Deleting
type VirtualClusterPhase string

const (
	// PhasePending: accepted, but gantry has not started deploying it yet.
	PhasePending VirtualClusterPhase = "Pending"
	// PhaseStarting: the control plane is being deployed or woken up.
	PhaseStarting VirtualClusterPhase = "Starting"
	// PhaseRunning: the API server answers and the cluster can be used.
	PhaseRunning VirtualClusterPhase = "Running"
	// PhaseSleeping: scaled down after spec.sleepAfter without activity; the
	// next request wakes it.
	PhaseSleeping VirtualClusterPhase = "Sleeping"
	// PhaseFailed: gantry cannot run the cluster; see the conditions.
	PhaseFailed VirtualClusterPhase = "Failed"
	// PhaseDeleting: the object is being deleted and its resources cleaned up.
	PhaseDeleting VirtualClusterPhase = "Deleting"
)

// Condition types set on VirtualCluster.status.conditions.
const (
	// ConditionDeployed is True once the control plane and its host
	// namespace objects exist.
	ConditionDeployed = "Deployed"
	// ConditionReady is True while the virtual API server passes its
	// readiness checks.
	ConditionReady = "Ready"
	// ConditionOnline is True while the cluster is awake and reachable at
	// status.endpoint; it is False while sleeping.
	ConditionOnline = "Online"
)

// Condition reasons. Each is CamelCase as metav1.Condition requires.
const (
	ReasonDeploying          = "Deploying"
	ReasonDeployed           = "Deployed"
	ReasonDeployFailed       = "DeployFailed"
	ReasonAPIServerReady     = "APIServerReady"
	ReasonAPIServerNotReady  = "APIServerNotReady"
	ReasonAsleep             = "Asleep"
	ReasonWakingUp           = "WakingUp"
	ReasonStorageUnavailable = "StorageUnavailable"
	ReasonUnsupportedVersion = "UnsupportedVersion"
	ReasonQuotaExceeded      = "QuotaExceeded"
	// ReasonStorageNotAllowed: the cluster names a datastore of its own
	// (spec.storage) and its project does not allow that
	// (virtualClusterOwnStorage).
	ReasonStorageNotAllowed = "StorageNotAllowed"
)

// SyncKind names a resource kind copied from the virtual cluster to the host.
// +kubebuilder:validation:Enum=pods;services;endpoints;configmaps;secrets;persistentvolumeclaims;serviceaccounts
type SyncKind string

const (
	SyncPods                   SyncKind = "pods"
	SyncServices               SyncKind = "services"
	SyncEndpoints              SyncKind = "endpoints"
	SyncConfigMaps             SyncKind = "configmaps"
	SyncSecrets                SyncKind = "secrets"
	SyncPersistentVolumeClaims SyncKind = "persistentvolumeclaims"
	SyncServiceAccounts        SyncKind = "serviceaccounts"
)

// StorageSpec selects the datastore behind the virtual API server. In a
// project, a datastore of the cluster's own (dsn or secretName) needs the
// project's virtualClusterOwnStorage, which only an administrator sets:
// gantry connects to whatever server it names.
// +kubebuilder:validation:XValidation:rule="!(has(self.dsn) && self.dsn != '' && has(self.secretName) && self.secretName != '')",message="give dsn or secretName, not both"
// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="storage is immutable: the cluster's data would not move with it"
type StorageSpec struct {
	// DSN of an external datastore: a postgres:// (or postgresql://) or
	// mysql:// URL. Empty means an embedded SQLite database managed by
	// gantry (or the project's server, virtualClusterStorage). It cannot be
	// changed after creation, because the cluster's data would not move
	// with it. Credentials in the DSN are readable by anyone who can read
	// this object.
	// +optional
	// +kubebuilder:default=""
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:Pattern=`^((postgres|postgresql|mysql)://.+)?$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="dsn is immutable"
	DSN string `json:"dsn,omitempty"`
	// SecretName names a Secret in the VirtualCluster's namespace whose key
	// "dsn" holds the DSN (as DSN above): its credentials stay out of this
	// object, readable only by who may read that Secret. Immutable, as DSN.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)?$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="secretName is immutable"
	SecretName string `json:"secretName,omitempty"`
}

// SyncSpec chooses which objects gantry copies between the virtual cluster
// and the host cluster.
type SyncSpec struct {
	// Kinds created in the virtual cluster that gantry also creates in the
	// host namespace so they actually run. Omit for the default set; an
	// empty list syncs nothing, so workloads will not start.
	// +optional
	// +listType=set
	// +kubebuilder:default={pods,services,endpoints,configmaps,secrets,persistentvolumeclaims,serviceaccounts}
	ToHost []SyncKind `json:"toHost,omitempty"`

	// Objects gantry copies from the host into the virtual cluster.
	// +optional
	// +kubebuilder:default={}
	FromHost *FromHostSync `json:"fromHost,omitempty"`
}

// FromHostSync chooses which host objects are visible inside the virtual
// cluster.
type FromHostSync struct {
	// Show the host nodes that run this cluster's pods instead of
	// placeholder nodes. Exposes host node names and capacity to users.
	// +optional
	// +kubebuilder:default=false
	Nodes *bool `json:"nodes,omitempty"`

	// Copy host events about synced objects (scheduling failures, image
	// pull errors) into the virtual cluster.
	// +optional
	// +kubebuilder:default=true
	Events *bool `json:"events,omitempty"`
}

// VirtualClusterSpec is what the user asks for.
type VirtualClusterSpec struct {
	// Where the cluster keeps its data. Defaults to embedded SQLite.
	// +optional
	// +kubebuilder:default={}
	Storage *StorageSpec `json:"storage,omitempty"`

	// What is synced between the virtual and the host cluster.
	// +optional
	// +kubebuilder:default={}
	Sync *SyncSpec `json:"sync,omitempty"`

	// ResourceQuota applied to the host namespace, capping what all of the
	// cluster's workloads together may use. Unset means no quota.
	// +optional
	ResourceQuota *corev1.ResourceQuotaSpec `json:"resourceQuota,omitempty"`

	// LimitRange applied to the host namespace, giving defaults and bounds
	// to each container. Unset means no limit range.
	// +optional
	LimitRange *corev1.LimitRangeSpec `json:"limitRange,omitempty"`

	// Put the cluster to sleep (stop its control plane and workloads) after
	// this long without API activity, e.g. "30m". Unset or "0" never sleeps.
	// A request to the endpoint wakes it.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^(0|([0-9]+(\.[0-9]+)?(ns|us|µs|μs|ms|s|m|h))+)$`
	SleepAfter *metav1.Duration `json:"sleepAfter,omitempty"`

	// User agents whose requests do not count as activity for sleepAfter, so
	// pollers do not keep the cluster awake. A trailing "*" matches any
	// suffix, e.g. "argocd-application-controller/*".
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=256
	SleepIgnoreUserAgents []string `json:"sleepIgnoreUserAgents,omitempty"`

	// Labels copied onto the cluster's registration, e.g. for GitOps
	// cluster selectors. They do not label this object.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`

	// ArgoCD adds the cluster to the project's Argo CD (see Project
	// spec.argoCD); unset follows the project's importVirtualClusters. The
	// label gantry.dev/import-argocd: "true" turns it on too.
	// +optional
	ArgoCD *bool `json:"argoCD,omitempty"`

	// PodSecurity is the Pod Security Standard this cluster enforces on its
	// workloads, inside the cluster (its own Pod Security admission) and again
	// before they reach the host. Unset follows the project's (baseline by
	// default); only an administrator may set a looser level than the
	// project's.
	// +optional
	PodSecurity PodSecurityLevel `json:"podSecurity,omitempty"`

	// Kubernetes minor version to run, e.g. "v1.37". Empty means the version
	// bundled with gantry; a version gantry cannot run fails the cluster
	// with reason UnsupportedVersion.
	// +optional
	// +kubebuilder:validation:Pattern=`^v?[0-9]+\.[0-9]+(\.[0-9]+)?$`
	KubernetesVersion string `json:"kubernetesVersion,omitempty"`
}

// VirtualClusterStatus is what gantry observed; users should not set it.
type VirtualClusterStatus struct {
	// Coarse lifecycle state. See conditions for details.
	// +optional
	Phase VirtualClusterPhase `json:"phase,omitempty"`

	// Detailed state: Deployed, Ready and Online.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +patchStrategy=merge
	// +patchMergeKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`

	// URL of the virtual API server.
	// +optional
	Endpoint string `json:"endpoint,omitempty"`

	// Name of the Secret, in this object's namespace, holding a kubeconfig
	// for the cluster.
	// +optional
	KubeconfigSecret string `json:"kubeconfigSecret,omitempty"`

	// Host namespace where the cluster's control plane and synced workloads
	// run.
	// +optional
	HostNamespace string `json:"hostNamespace,omitempty"`

	// Last time a request that counts as activity reached the cluster; the
	// sleepAfter timer runs from here.
	// +optional
	LastActivityTime *metav1.Time `json:"lastActivityTime,omitempty"`

	// Kubernetes version the control plane actually runs.
	// +optional
	KubernetesVersion string `json:"kubernetesVersion,omitempty"`

	// metadata.generation that this status describes; older means gantry
	// has not acted on the latest spec yet.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// VirtualCluster is a Kubernetes cluster whose control plane gantry runs
// inside a namespace of the host cluster.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced,shortName=vc,categories=gantry
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Endpoint",type=string,JSONPath=`.status.endpoint`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type VirtualCluster struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// The cluster the user asks for. Every field is optional.
	// +optional
	// +kubebuilder:default={}
	Spec VirtualClusterSpec `json:"spec,omitempty"`

	// What gantry observed about the cluster. Set by gantry only.
	// +optional
	Status VirtualClusterStatus `json:"status,omitempty"`
}

// VirtualClusterList is a list of VirtualCluster.
//
// +kubebuilder:object:root=true
type VirtualClusterList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []VirtualCluster `json:"items"`
}

func init() {
	SchemeBuilder.Register(&VirtualCluster{}, &VirtualClusterList{})
}
