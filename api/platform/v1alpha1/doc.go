// Package v1alpha1 holds the platform.gantry.dev API: the objects a user
// creates to ask gantry for a virtual cluster.
//
// +kubebuilder:object:generate=true
// +groupName=platform.gantry.dev
package v1alpha1
