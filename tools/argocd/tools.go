//go:build tools

// Package argocd pins the Argo CD the test suite runs for real (internal/argocdtest).
// It is its own module so that Argo CD, its older Kubernetes libraries and its
// replace lines never enter gantry's go.mod. `make argocd-binaries` builds
// Argo CD's multi-call binary from here into bin/argocd; symlinks named
// argocd-server, argocd-repo-server and argocd-application-controller select
// the component.
package argocd

import (
	_ "github.com/argoproj/argo-cd/v3/cmd"
)
