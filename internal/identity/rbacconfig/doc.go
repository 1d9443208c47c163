// Package rbacconfig keeps the RBAC enforcer's policy in step with the
// cluster: the ConfigMap gantry-rbac-cm (policy.csv, policy.default,
// policy.matchMode, as Argo CD's argocd-rbac-cm) through [Reconciler], and the
// Projects' members through [Projects] (and [SetProjects]). Both run on every
// replica of gantry, leader or not: they write nothing. Package rbac decides; this package
// only feeds it, so rbac stays free of the API server.
package rbacconfig
