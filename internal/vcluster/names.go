package vcluster

import (
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
)

// Labels on the host objects gantry makes for a virtual cluster.
const (
	LabelVCluster          = "platform.gantry.dev/vcluster"
	LabelVClusterNamespace = "platform.gantry.dev/vcluster-namespace"
	LabelManagedBy         = "app.kubernetes.io/managed-by"
	managedBy              = "gantry"
)

// HostNamespace is the host namespace that receives a virtual cluster's workloads:
// vc-<namespace>-<name>, hashed when longer than a namespace name may be.
func HostNamespace(namespace, name string) string {
	return shorten("vc-"+namespace+"-"+name, 63)
}

// KubeconfigSecret is the name of the Secret, beside the VirtualCluster, that holds
// its admin kubeconfig (vCluster's convention).
func KubeconfigSecret(name string) string { return "vc-" + name }

// dataDir is where a virtual cluster's control plane keeps its state.
func dataDir(root, namespace, name string) string { return filepath.Join(root, namespace, name) }

// shorten keeps s if it fits, else cuts it and appends a hash of the whole, so that
// distinct long names stay distinct.
func shorten(s string, max int) string {
	if len(s) <= max {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	h := hex.EncodeToString(sum[:])[:10]
	return s[:max-11] + "-" + h
}
