// Package v1alpha1 holds the gitops.gantry.dev API, for the GitOps engine.
// It has no kinds yet; the group is registered now so clients can be wired
// before the first kind lands.
//
// +kubebuilder:object:generate=true
// +groupName=gitops.gantry.dev
package v1alpha1
