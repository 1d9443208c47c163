// Package rbacconfig keeps the RBAC enforcer's policy in step with the
// cluster: the ConfigMap gantry-rbac-cm (policy.csv, policy.default,
// policy.matchMode, as Argo CD's argocd-rbac-cm) through [Reconciler], and the
// Projects' members through [SetProjects]. Package rbac decides; this package
// only feeds it, so rbac stays free of the API server.
package rbacconfig
