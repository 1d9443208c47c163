package v1alpha1

// ArgoCDIntegration connects a project to a real Argo CD installed by the user:
// its virtual clusters become Argo CD clusters, its people sign in to Argo CD
// through gantry, and it gets an Argo CD AppProject. Everything gantry writes
// follows Argo CD's documented formats, and turning a part off removes exactly
// what that part wrote.
type ArgoCDIntegration struct {
	// Enabled turns the integration on for the project.
	// +optional
	Enabled bool `json:"enabled,omitempty"`
	// Cluster is where Argo CD runs: empty (or "in-cluster") for the host, else
	// the name of a cluster registered with gantry (a virtual cluster's
	// "<project namespace>/<name>", or another Argo CD cluster Secret's name
	// in gantry-system).
	// +optional
	Cluster string `json:"cluster,omitempty"`
	// Namespace is Argo CD's namespace there. Default argocd.
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// Direct makes Argo CD reach virtual clusters at their own API endpoint
	// rather than through gantry's proxy (only when Argo CD runs where that
	// endpoint is reachable).
	// +optional
	Direct bool `json:"direct,omitempty"`
	// ImportVirtualClusters is the default of each virtual cluster's argoCD
	// toggle: add every virtual cluster of the project to Argo CD. Default true.
	// +optional
	ImportVirtualClusters *bool `json:"importVirtualClusters,omitempty"`
	// SSO lets Argo CD users sign in with gantry.
	// +optional
	SSO *ArgoCDSSO `json:"sso,omitempty"`
	// Project makes an Argo CD AppProject for the project.
	// +optional
	Project *ArgoCDProject `json:"project,omitempty"`
}

// ArgoCDSSO configures Argo CD to use gantry as its OpenID Connect provider.
type ArgoCDSSO struct {
	// +optional
	Enabled bool `json:"enabled,omitempty"`
	// Host is Argo CD's external URL (argocd-cm url), e.g. https://argocd.example.com.
	// +optional
	Host string `json:"host,omitempty"`
	// AssignedRoles give the project's people Argo CD roles.
	// +optional
	// +listType=atomic
	AssignedRoles []ArgoCDRoleAssignment `json:"assignedRoles,omitempty"`
	// RestartServer lets gantry restart argocd-server, as `kubectl rollout
	// restart` does, when it writes or changes oidc.config's issuer or rootCA:
	// argocd-server reads them only when it starts, and until then signing in
	// through gantry ends in 401. Only the Deployment labelled
	// app.kubernetes.io/name=argocd-server in Argo CD's namespace is
	// restarted. Default true; false on any project that signs in to the same
	// Argo CD leaves the restart to you, and the Project's condition
	// ArgoCDServerUpToDate says when it is needed.
	// +optional
	RestartServer *bool `json:"restartServer,omitempty"`
}

// ArgoCDRoleAssignment gives holders of a project role an Argo CD role.
type ArgoCDRoleAssignment struct {
	// ProjectRole whose holders get Role; empty means every member of the project.
	// +optional
	ProjectRole ProjectRole `json:"projectRole,omitempty"`
	// Role is role:admin, role:readonly, or a role defined in argocd-rbac-cm.
	// +kubebuilder:validation:MinLength=1
	Role string `json:"role"`
}

// ArgoCDProject describes the Argo CD AppProject gantry keeps for the project.
type ArgoCDProject struct {
	// +optional
	Enabled bool `json:"enabled,omitempty"`
	// SourceRepos the AppProject allows. Default ["*"].
	// +optional
	// +listType=atomic
	SourceRepos []string `json:"sourceRepos,omitempty"`
	// Roles of the AppProject.
	// +optional
	// +listType=atomic
	Roles []ArgoCDProjectRole `json:"roles,omitempty"`
}

// ArgoCDProjectRole is an AppProject role: Argo CD policies for the holders of
// project roles (their groups gantry:project:<project>:<role>) and other groups.
type ArgoCDProjectRole struct {
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// +optional
	Description string `json:"description,omitempty"`
	// Policies in Argo CD's syntax, e.g.
	// "p, proj:<project>:<role>, applications, sync, <project>/*, allow".
	// +optional
	// +listType=atomic
	Policies []string `json:"policies,omitempty"`
	// ProjectRoles whose holders get this role.
	// +optional
	// +listType=atomic
	ProjectRoles []ProjectRole `json:"projectRoles,omitempty"`
	// Groups that get this role besides, e.g. team:<name>.
	// +optional
	// +listType=atomic
	Groups []string `json:"groups,omitempty"`
}
