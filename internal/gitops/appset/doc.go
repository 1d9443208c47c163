// Package appset reconciles ApplicationSets, level-based: each reconcile
// generates the parameter sets (package generate), renders every element
// (package template), and then makes the cluster match: for an element with
// a virtualCluster template its VirtualCluster first (the Application only
// once that cluster is Running), then the Applications, created, updated and
// deleted as spec.syncPolicy.applicationsSync allows. A VirtualCluster no
// element renders any more is deleted only after every Application that was
// deployed into it is gone, so that their resources finalizers can remove
// what they deployed first.
//
// Bad input (a generator error, a template that renders an invalid or
// duplicate name, an Argo CD field gantry does not implement) changes
// nothing: the set's conditions say what is wrong (ErrorOccurred=True,
// ParametersGenerated=False, as Argo CD) and its Applications stay as they
// were.
package appset
