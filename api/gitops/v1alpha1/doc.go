// Package v1alpha1 holds the gitops.gantry.dev API of the GitOps engine:
// Application and ApplicationSet, shaped field for field like Argo CD's argoproj.io ones.
//
// +kubebuilder:object:generate=true
// +groupName=gitops.gantry.dev
package v1alpha1
