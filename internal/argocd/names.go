package argocd

import (
	"crypto/sha256"
	"encoding/hex"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/identity/rbac"
)

// ConditionSynced is the Project condition that reports the integration.
const ConditionSynced = "ArgoIntegrationSynced"

// Reasons of ConditionSynced.
const (
	ReasonSynced                 = "Synced"
	ReasonArgoCDNamespaceMissing = "ArgoCDNamespaceMissing"
	ReasonArgoCDNotInstalled     = "ArgoCDNotInstalled"
	ReasonAppProjectCRDMissing   = "AppProjectCRDMissing"
	ReasonForbidden              = "Forbidden"
	ReasonClusterUnreachable     = "ClusterUnreachable"
	ReasonRoleNotFound           = "RoleNotFound"
	ReasonConflict               = "Conflict"
	ReasonInvalidSpec            = "InvalidSpec"
	ReasonError                  = "Error"
)

// On the Project: the finalizer held while the integration has written
// something, and where it wrote ("<namespace>@<cluster>").
const (
	Finalizer        = "gantry.dev/argocd-integration"
	AnnotationTarget = "gantry.dev/argocd-target"
)

// Labels and annotations on what the integration writes.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedBy      = "gantry"
	LabelPartOf    = "app.kubernetes.io/part-of"
	LabelProject   = "gantry.dev/project"
	LabelVCluster  = "gantry.dev/vcluster"
	// LabelImport on a VirtualCluster ("true") adds it to Argo CD whatever the
	// project's default.
	LabelImport = "gantry.dev/import-argocd"
	// AnnotationAccessKey on a cluster Secret is the id of the access key in it.
	AnnotationAccessKey = "gantry.dev/access-key-id"
	// AnnotationCredential on a cluster Secret says what its bearer token is:
	// CredentialAccessKey or CredentialServiceAccount.
	AnnotationCredential     = "gantry.dev/credential"
	CredentialAccessKey      = "access-key"
	CredentialServiceAccount = "service-account"
	// AnnotationOIDCClient on Secret gantry-argocd-oidc names the client.
	AnnotationOIDCClient = "gantry.dev/oidc-client"
)

// Argo CD's names.
const (
	DefaultNamespace = "argocd"
	InCluster        = "in-cluster"
	ConfigMapCM      = "argocd-cm"
	ConfigMapRBAC    = "argocd-rbac-cm"
	// OIDCSecretName holds the OIDC client secret in Argo CD's namespace, read by
	// Argo CD through oidc.config's clientSecret "$gantry-argocd-oidc:clientSecret".
	OIDCSecretName = "gantry-argocd-oidc"
	OIDCSecretKey  = "clientSecret"
	// CLIRedirectURI is where `argocd login --sso` listens.
	CLIRedirectURI = "http://localhost:8085/auth/callback"
)

// ClusterSecretName is the Argo CD cluster Secret of a virtual cluster.
func ClusterSecretName(project, vcluster string) string {
	return "gantry-" + project + "-vcluster-" + vcluster
}

// FieldManager is the server-side apply field manager of a project's writes to
// Argo CD's ConfigMaps and its AppProject: one per project, so that each
// project's keys are released on their own.
func FieldManager(project string) string { return "gantry-project-" + project }

// KeyOwner owns a project's Argo CD access keys; the underscore makes it a name
// no user can have.
func KeyOwner(project string) string { return "argocd_" + project }

// PolicyKey is the argocd-rbac-cm key of a project's role assignments; Argo CD
// appends every policy.*.csv to policy.csv.
func PolicyKey(project string) string { return "policy.gantry-" + project + ".csv" }

// OIDCClientID is the OIDC client of the Argo CD in namespace of cluster:
// "argocd" for the host's argocd namespace (what an administrator expects to
// find), else "argocd-" and a hash of where it runs (stable, and valid whatever
// the names).
func OIDCClientID(cluster, namespace string) string {
	if normalCluster(cluster) == InCluster && namespace == DefaultNamespace {
		return "argocd"
	}
	sum := sha256.Sum256([]byte(normalCluster(cluster) + "/" + namespace))
	return "argocd-" + hex.EncodeToString(sum[:])[:12]
}

// CLIClientID is the public client `argocd login --sso` uses (cliClientID):
// the CLI exchanges its code with PKCE and no secret, which gantry allows only
// for public clients.
func CLIClientID(clientID string) string { return clientID + "-cli" }

// AppProjectName is the AppProject of a project.
func AppProjectName(project string) string { return project }

func normalCluster(c string) string {
	if c == "" {
		return InCluster
	}
	return c
}

func projectGroup(project string, role platformv1alpha1.ProjectRole) string {
	return rbac.ProjectGroup(project, rbac.ProjectRole(role))
}

var allProjectRoles = []platformv1alpha1.ProjectRole{
	platformv1alpha1.RoleProjectAdmin, platformv1alpha1.RoleProjectMember, platformv1alpha1.RoleProjectViewer,
}
