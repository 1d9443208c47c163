// Package cluster knows the clusters Applications deploy to. Each is described by
// a Secret in Argo CD's documented cluster Secret format (label
// argocd.argoproj.io/secret-type=cluster; name, server and a JSON config with a
// bearer token or TLS client certificates), so one format serves gantry's own
// engine and a real Argo CD. The host cluster is always there as
// https://kubernetes.default.svc ("in-cluster"), and every running virtual
// cluster registers itself with such a Secret (Registrar).
package cluster
