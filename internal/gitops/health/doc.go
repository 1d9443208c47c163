// Package health assesses the health of Kubernetes objects the way Argo CD does,
// so that an application's health in gantry reads the same as in Argo CD.
//
// The status codes, their order (IsWorse) and the built-in per-kind rules follow
// Argo CD's gitops-engine pkg/health and the Lua checks Argo CD ships for kinds
// without a Go rule (CronJob, argoproj.io Application and ApplicationSet);
// messages are copied verbatim because users and tooling match on them.
// gantry's own Application, as the child of an app of apps, has no health
// there, as an argoproj.io Application has none in Argo CD v3.3; its
// ApplicationSet takes Argo CD's ApplicationSet check.
//
// Kinds without a rule differ from Argo CD in one respect: a custom resource that
// reports status conditions is judged by kstatus (sigs.k8s.io/cli-utils), the
// convention Flux and kubectl wait use. Where kstatus has nothing to go on (no
// status, no conditions), and for built-in kinds without a rule (ConfigMap,
// Secret, RBAC, CRDs...), Assess returns nil: the object has no health, and
// Aggregate leaves it out, exactly as Argo CD does.
//
// The package knows nothing of the API server: it reads the objects it is given.
//
// Files: health.go (codes, Assess, Aggregate, the table of rules), one file per
// kind or family of kinds, generic.go (the kstatus fallback).
package health
