package rbac

// Resource names: the second field of a p line. The first eight are Argo CD's,
// spelled as Argo CD spells them so that an argocd-rbac-cm policy.csv carries
// over unchanged; the rest are gantry's.
const (
	ResourceApplications    = "applications"
	ResourceApplicationSets = "applicationsets"
	ResourceClusters        = "clusters"
	ResourceRepositories    = "repositories"
	ResourceProjects        = "projects"
	ResourceAccounts        = "accounts"
	ResourceLogs            = "logs"
	ResourceExec            = "exec"

	ResourceVirtualClusters = "virtualclusters"
	ResourceUsers           = "users"
	ResourceTeams           = "teams"
	ResourceAccessKeys      = "accesskeys"
	ResourceOIDCClients     = "oidcclients"
	ResourceImages          = "images"
)

// Action names: the third field of a p line. Fine-grained application actions
// carry a path after the verb (action/<group>/<kind>/<name>,
// update/<group>/<kind>/<ns>/<name>, delete/...), as in Argo CD.
const (
	ActionGet      = "get"
	ActionCreate   = "create"
	ActionUpdate   = "update"
	ActionDelete   = "delete"
	ActionSync     = "sync"
	ActionOverride = "override"
	ActionRollback = "rollback"
	ActionAction   = "action"

	ActionConnect = "connect"
	ActionSleep   = "sleep"
	ActionWake    = "wake"
	// ActionExec opens a stream to a virtual cluster's pods: exec, attach,
	// port-forward (any upgraded request through the proxy).
	ActionExec = "exec"
)

// Origin says whose vocabulary a resource belongs to.
type Origin string

const (
	OriginArgoCD Origin = "argocd"
	OriginGantry Origin = "gantry"
)

// ResourceSpec describes one resource of the policy language: which actions it
// has, what its object looks like and whether role:readonly may read it.
type ResourceSpec struct {
	Name string
	// ProjectScoped resources have objects "<project>/<name>"; the others
	// have "<name>" (or "*" in policies).
	ProjectScoped bool
	// Actions as written in policies; "verb/*" stands for the fine-grained
	// family "verb/<path>".
	Actions []string
	// Readable is true when role:readonly gets "get". It is false for
	// resources whose objects are credentials.
	Readable bool
	Origin   Origin
	// Description says what the resource guards, for docs and the UI.
	Description string
}

// Resources returns the resource/action table, in the order of the docs. It
// is built on each call (callers may keep or change the result) rather than
// held in a package variable. The built-in policy (builtin-policy.csv) is
// tested against it: role:admin holds every action listed here, role:readonly
// holds "get" exactly where Readable is set.
func Resources() []ResourceSpec {
	crud := func() []string { return []string{ActionGet, ActionCreate, ActionUpdate, ActionDelete} }
	return []ResourceSpec{
		{
			Name: ResourceApplications, ProjectScoped: true, Readable: true, Origin: OriginArgoCD,
			Actions: []string{
				ActionGet, ActionCreate, ActionUpdate, ActionDelete, ActionSync,
				ActionOverride, ActionRollback, "action/*", "update/*", "delete/*",
			},
			Description: "Applications; update/* and delete/* act on one resource of the app, action/* runs a resource action",
		},
		{
			Name: ResourceApplicationSets, ProjectScoped: true, Readable: true, Origin: OriginArgoCD,
			Actions:     crud(),
			Description: "ApplicationSets; the project part names the projects its Applications may land in",
		},
		{
			Name: ResourceClusters, Readable: true, Origin: OriginArgoCD, Actions: crud(),
			Description: "deploy targets (cluster Secrets), object <server>, or <project>/<server> for a cluster registered for a project; get never returns credentials",
		},
		{
			Name: ResourceRepositories, Readable: true, Origin: OriginArgoCD, Actions: crud(),
			Description: "Git and Helm repositories; get never returns credentials",
		},
		{
			Name: ResourceProjects, Readable: true, Origin: OriginArgoCD, Actions: crud(),
			Description: "Projects; update includes changing members",
		},
		{
			Name: ResourceAccounts, Readable: true, Origin: OriginArgoCD,
			Actions:     []string{ActionGet, ActionUpdate},
			Description: "Argo CD-style accounts (the API's /account endpoints)",
		},
		{
			Name: ResourceLogs, ProjectScoped: true, Readable: true, Origin: OriginArgoCD,
			Actions:     []string{ActionGet},
			Description: "pod logs of an application (readable by role:readonly, as in Argo CD)",
		},
		{
			Name: ResourceExec, ProjectScoped: true, Origin: OriginArgoCD,
			Actions:     []string{ActionCreate},
			Description: "a shell in a pod of an application",
		},
		{
			Name: ResourceVirtualClusters, ProjectScoped: true, Readable: true, Origin: OriginGantry,
			Actions: []string{
				ActionGet, ActionCreate, ActionUpdate, ActionDelete,
				ActionConnect, ActionSleep, ActionWake, ActionExec,
			},
			Description: "virtual clusters; connect hands out a kubeconfig, so it is not part of get; exec opens streams to its pods through the proxy (exec, attach, port-forward)",
		},
		{
			Name: ResourceUsers, Readable: true, Origin: OriginGantry, Actions: crud(),
			Description: "local users",
		},
		{
			Name: ResourceTeams, Readable: true, Origin: OriginGantry, Actions: crud(),
			Description: "teams (sets of users and SSO groups)",
		},
		{
			Name: ResourceAccessKeys, Origin: OriginGantry, Actions: crud(),
			Description: "API access keys; credentials, so not readable by role:readonly",
		},
		{
			Name: ResourceOIDCClients, Origin: OriginGantry, Actions: crud(),
			Description: "OIDC clients of gantry's provider; credentials, so not readable by role:readonly",
		},
		{
			Name: ResourceImages, Readable: true, Origin: OriginGantry,
			Actions:     []string{ActionGet, ActionCreate},
			Description: "container images on the real node, object <node>: create loads an archive (every pod of every project may then run it), get lists them",
		},
	}
}

// ProjectScoped reports whether objects of resource are "<project>/<name>".
func ProjectScoped(resource string) bool {
	switch resource {
	case ResourceApplications, ResourceApplicationSets, ResourceLogs, ResourceExec, ResourceVirtualClusters:
		return true
	}
	return false
}

// ProjectObject is the object of a project-scoped resource: "<project>/<name>".
func ProjectObject(project, name string) string { return project + "/" + name }
