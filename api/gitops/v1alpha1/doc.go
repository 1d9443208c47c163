// Package v1alpha1 holds the gitops.gantry.dev API of the GitOps engine:
// Application, shaped field for field like Argo CD's argoproj.io Application.
//
// +kubebuilder:object:generate=true
// +groupName=gitops.gantry.dev
package v1alpha1
