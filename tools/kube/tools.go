//go:build tools

// Package kube pins the Kubernetes components gantry runs. It is its own module so
// that k8s.io/kubernetes (and its replace lines) never enter gantry's go.mod.
package kube

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
