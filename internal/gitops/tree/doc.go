// Package tree builds an application's resource tree: its managed resources and,
// below them, the objects the cluster made for them (a Deployment's ReplicaSets
// and their Pods, a Service's EndpointSlices...), each with its health and a few
// facts worth showing. The nodes marshal to the JSON of Argo CD's ResourceNode,
// so the API can answer {"nodes": [...]} as Argo CD's /resource-tree does and
// Argo CD's UI and CLI can read it.
//
// Children are found by ownerReferences, followed transitively from the managed
// resources, plus two links Kubernetes does not record as ownership: an
// EndpointSlice belongs to the Service named by its kubernetes.io/service-name
// label, and an Endpoints object to the Service of the same name. Objects not
// reached from a managed resource are left out, and an ownership cycle is
// walked once.
//
// The package knows nothing of the API server: the caller lists the candidate
// children (typically the namespaced objects of a few kinds in the
// application's namespaces) and says how to judge health.
package tree
