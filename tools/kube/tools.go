//go:build tools

// Package kube pins the Kubernetes components gantry runs. It is its own module so
// that k8s.io/kubernetes (and its replace lines) never enter gantry's go.mod.
// cmd/kube-controlplane imports the control-plane components; kubectl, and the
// real node's kubelet and kube-proxy, are built from here.
package kube

import (
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
