package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ProjectRole is what a member may do in a project.
// +kubebuilder:validation:Enum=project-admin;project-member;project-viewer
type ProjectRole string

const (
	// RoleProjectAdmin may do everything in the project, members included.
	RoleProjectAdmin ProjectRole = "project-admin"
	// RoleProjectMember creates and uses virtual clusters and applications.
	RoleProjectMember ProjectRole = "project-member"
	// RoleProjectViewer only reads.
	RoleProjectViewer ProjectRole = "project-viewer"
)

// MemberKind says whether a member is a user or a team.
// +kubebuilder:validation:Enum=User;Team
type MemberKind string

const (
	MemberUser MemberKind = "User"
	MemberTeam MemberKind = "Team"
)

// Member is a user or team with a role in a project.
type Member struct {
	Kind MemberKind `json:"kind"`
	// +kubebuilder:validation:MinLength=1
	Name string      `json:"name"`
	Role ProjectRole `json:"role"`
}

// ProjectQuotas cap what a project may hold; unset means unlimited.
type ProjectQuotas struct {
	// +optional
	// +kubebuilder:validation:Minimum=0
	VirtualClusters *int32 `json:"virtualClusters,omitempty"`
	// +optional
	// +kubebuilder:validation:Minimum=0
	RunningVirtualClusters *int32 `json:"runningVirtualClusters,omitempty"`
	// +optional
	// +kubebuilder:validation:Minimum=0
	Applications *int32 `json:"applications,omitempty"`
}

// ProjectDestination is a cluster and namespace apps of the project may deploy
// to, as an Argo CD AppProject's destinations: globs allowed, "!" negates.
type ProjectDestination struct {
	// +optional
	Server string `json:"server,omitempty"`
	// +optional
	Name string `json:"name,omitempty"`
	// +optional
	Namespace string `json:"namespace,omitempty"`
}

// PodSecurityLevel is a Pod Security Standard
// (https://kubernetes.io/docs/concepts/security/pod-security-standards/).
// +kubebuilder:validation:Enum=privileged;baseline;restricted
type PodSecurityLevel string

const (
	PodSecurityPrivileged PodSecurityLevel = "privileged"
	PodSecurityBaseline   PodSecurityLevel = "baseline"
	PodSecurityRestricted PodSecurityLevel = "restricted"
)

// ProjectStorage names the database server of a project's virtual clusters.
type ProjectStorage struct {
	// SecretName names a Secret in the project's namespace (p-<project>)
	// whose key "dsn" holds a postgres://, postgresql:// or mysql:// URL of
	// the server. Its database is the one gantry connects to for creating
	// and dropping the clusters' databases (e.g. postgres); its user needs
	// the right to create databases.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	SecretName string `json:"secretName"`
}

// ProjectNetwork says who may reach the project's workloads on the host.
type ProjectNetwork struct {
	// OpenIngress lets any pod of the host reach the project's virtual
	// clusters' workloads. Only an administrator may set it.
	// +optional
	OpenIngress bool `json:"openIngress,omitempty"`
}

// ProjectSpec describes a project.
type ProjectSpec struct {
	// +optional
	DisplayName string `json:"displayName,omitempty"`
	// +optional
	Description string `json:"description,omitempty"`
	// Members and their roles.
	// +optional
	// +listType=atomic
	Members []Member `json:"members,omitempty"`
	// +optional
	Quotas ProjectQuotas `json:"quotas,omitempty"`
	// AllowedDestinations are where the project's apps may deploy besides its
	// own virtual clusters and its namespace p-<name> on the host, which are
	// always allowed: a server (or cluster name) and a namespace, globs
	// allowed, as in an Argo CD AppProject's destinations. Only an
	// administrator may widen them.
	// +optional
	AllowedDestinations []ProjectDestination `json:"allowedDestinations,omitempty"`
	// SourceRepos are the repositories the project's apps may deploy from:
	// globs of repoURL, "!" negates (Argo CD's AppProject sourceRepos). Empty
	// means any https:// or ssh repository and any Helm chart repository.
	// Local repositories (file:// URLs, plain paths) also need
	// localRepositories.
	// +optional
	// +listType=atomic
	SourceRepos []string `json:"sourceRepos,omitempty"`
	// LocalRepositories lets the project's apps read file:// URLs and plain
	// paths on gantry's machine. Off by default; only an administrator may
	// turn it on.
	// +optional
	LocalRepositories bool `json:"localRepositories,omitempty"`
	// ClusterResourceWhitelist are the cluster-scoped kinds the project's apps
	// may deploy (group and kind, globs allowed). Unset or empty: none on the
	// host, any in the project's own virtual clusters (deny those with
	// clusterResourceBlacklist). A Namespace named by an allowed destination
	// is always allowed.
	// +optional
	// +listType=atomic
	ClusterResourceWhitelist []metav1.GroupKind `json:"clusterResourceWhitelist,omitempty"`
	// ClusterResourceBlacklist are cluster-scoped kinds the project's apps may
	// never deploy, wherever they deploy.
	// +optional
	// +listType=atomic
	ClusterResourceBlacklist []metav1.GroupKind `json:"clusterResourceBlacklist,omitempty"`
	// NamespaceResourceWhitelist, when not empty, are the only namespaced
	// kinds the project's apps may deploy.
	// +optional
	// +listType=atomic
	NamespaceResourceWhitelist []metav1.GroupKind `json:"namespaceResourceWhitelist,omitempty"`
	// NamespaceResourceBlacklist are namespaced kinds the project's apps may
	// never deploy.
	// +optional
	// +listType=atomic
	NamespaceResourceBlacklist []metav1.GroupKind `json:"namespaceResourceBlacklist,omitempty"`
	// PodSecurity is the Pod Security Standard the project's virtual clusters
	// enforce on their workloads (unless one sets its own): baseline when
	// unset. Only an administrator may loosen it.
	// +optional
	PodSecurity PodSecurityLevel `json:"podSecurity,omitempty"`
	// Network opens the project's host namespaces to traffic from elsewhere;
	// by default a virtual cluster's host namespace accepts traffic only from
	// itself and gantry.
	// +optional
	Network ProjectNetwork `json:"network,omitempty"`
	// VirtualClusterStorage keeps the data of the project's virtual clusters
	// that name no storage of their own (spec.storage) in a PostgreSQL or
	// MySQL server instead of SQLite: each gets a database of its own there,
	// gantry_<namespace>_<name>_<uid>, created on first start and dropped
	// with the cluster. Only an administrator sets it, and only while the
	// project has no virtual cluster: the data of existing ones would not
	// move with it.
	// +optional
	VirtualClusterStorage *ProjectStorage `json:"virtualClusterStorage,omitempty"`
	// VirtualClusterOwnStorage lets the project's virtual clusters name a
	// datastore of their own (their spec.storage.dsn or secretName): gantry,
	// or the cluster's control-plane pod, then connects to whatever server
	// they name from where it runs, and shows them what that server
	// answered. Off by default, as Argo CD's sourceRepos bound the URLs a
	// project's apps make it fetch; only an administrator turns it on.
	// Turning it off stops the clusters that use it.
	// +optional
	VirtualClusterOwnStorage bool `json:"virtualClusterOwnStorage,omitempty"`
	// ArgoCD connects the project to a real Argo CD.
	// +optional
	ArgoCD *ArgoCDIntegration `json:"argoCD,omitempty"`
}

// ProjectUsage is what a project holds now, against its quotas.
type ProjectUsage struct {
	VirtualClusters        int32 `json:"virtualClusters"`
	RunningVirtualClusters int32 `json:"runningVirtualClusters"`
	Applications           int32 `json:"applications"`
}

// ProjectStatus is what gantry observed.
type ProjectStatus struct {
	// Namespace holds the project's virtual clusters and applications: p-<name>.
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// +optional
	Usage ProjectUsage `json:"usage,omitempty"`
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// Project groups virtual clusters and applications with the people who may use
// them; its namespace p-<name> is created and owned by it.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=proj,categories=gantry
// +kubebuilder:printcolumn:name="Display Name",type=string,JSONPath=`.spec.displayName`
// +kubebuilder:printcolumn:name="Namespace",type=string,JSONPath=`.status.namespace`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Project struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	// +optional
	Spec ProjectSpec `json:"spec,omitempty"`
	// +optional
	Status ProjectStatus `json:"status,omitempty"`
}

// ProjectList is a list of Projects.
//
// +kubebuilder:object:root=true
type ProjectList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Project `json:"items"`
}

// UserSpec describes a user. The password is never here: only its hash, in the
// Secret gantry-user-<name> of gantry's namespace.
type UserSpec struct {
	// Username is what the user logs in with; defaults to the object's name.
	// +optional
	Username string `json:"username,omitempty"`
	// +optional
	DisplayName string `json:"displayName,omitempty"`
	// +optional
	Email string `json:"email,omitempty"`
	// Groups the user is in besides their teams (e.g. from SSO).
	// +optional
	// +listType=set
	Groups []string `json:"groups,omitempty"`
	// Disabled users cannot log in; their sessions and keys stop working.
	// +optional
	Disabled bool `json:"disabled,omitempty"`
}

// UserStatus is what gantry observed.
type UserStatus struct {
	// Teams the user is in.
	// +optional
	Teams []string `json:"teams,omitempty"`
	// PasswordSet says whether a password hash exists.
	// +optional
	PasswordSet bool `json:"passwordSet,omitempty"`
	// +optional
	LastLogin *metav1.Time `json:"lastLogin,omitempty"`
}

// User is a person (or robot) who logs in to gantry.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,categories=gantry
// +kubebuilder:printcolumn:name="Email",type=string,JSONPath=`.spec.email`
// +kubebuilder:printcolumn:name="Disabled",type=boolean,JSONPath=`.spec.disabled`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type User struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	// +optional
	Spec UserSpec `json:"spec,omitempty"`
	// +optional
	Status UserStatus `json:"status,omitempty"`
}

// UserList is a list of Users.
//
// +kubebuilder:object:root=true
type UserList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []User `json:"items"`
}

// TeamSpec lists a team's users and the SSO groups mapped to it.
type TeamSpec struct {
	// +optional
	DisplayName string `json:"displayName,omitempty"`
	// +optional
	// +listType=set
	Users []string `json:"users,omitempty"`
	// Groups from an upstream identity provider whose members belong to the team.
	// +optional
	// +listType=set
	Groups []string `json:"groups,omitempty"`
}

// Team is a set of users that can be a project member as one.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,categories=gantry
// +kubebuilder:printcolumn:name="Display Name",type=string,JSONPath=`.spec.displayName`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Team struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	// +optional
	Spec TeamSpec `json:"spec,omitempty"`
}

// TeamList is a list of Teams.
//
// +kubebuilder:object:root=true
type TeamList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Team `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Project{}, &ProjectList{}, &User{}, &UserList{}, &Team{}, &TeamList{})
}
