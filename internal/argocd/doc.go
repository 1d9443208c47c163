// Package argocd connects a Project to a real Argo CD that the user installed
// (Project spec.argoCD). Per project, level-based, it keeps:
//
//   - clusters: one Argo CD cluster Secret per virtual cluster that is switched
//     on, gantry-<project>-vcluster-<name>, reaching it through gantry's proxy
//     with a passive system access key (or, with spec.argoCD.direct, at its own
//     endpoint with the token of ServiceAccount kube-system/argocd-manager, as
//     `argocd cluster add` makes);
//   - SSO: a confidential OIDC client per Argo CD instance (shared by the
//     projects that use it) and a public one for `argocd login --sso` (its
//     cliClientID: the CLI exchanges codes with PKCE and no secret), the
//     secret in Secret gantry-argocd-oidc, url and oidc.config in argocd-cm,
//     and the project's own policy.gantry-<project>.csv in argocd-rbac-cm;
//   - an AppProject named after the project.
//
// Everything written follows Argo CD's documented formats. The ConfigMaps Argo CD
// owns are written with server-side apply, one field manager per project
// (gantry-project-<project>), so projects share ownership of identical keys, each
// owns only its own, keys the operator wrote are never taken over (a conflict is
// reported on the Project, not forced), and releasing the manager removes
// exactly what that project alone wrote. Every reconcile checks everything first
// (Argo CD's namespace, its ConfigMaps, roles, conflicts, and a server-side dry
// run of every write) and writes nothing when something is wrong; the outcome is
// the Project's condition ArgoIntegrationSynced.
//
// Where the integration wrote is remembered on the Project (annotation
// gantry.dev/argocd-target, with finalizer gantry.dev/argocd-integration), so
// turning it off, moving it to another Argo CD, or deleting the Project removes
// everything it wrote there.
package argocd
