// Package clusterapi serves the clusters gantry deploys to over REST at
// /api/v1/clusters, in Argo CD's manner: list, get, add (a server and its
// credentials, for everyone or one project) and remove. A cluster is an Argo
// CD cluster Secret in gantry's namespace (package cluster), so what the API
// adds, gantry's engine and a real Argo CD read alike; the host is always
// there as in-cluster, and running virtual clusters register themselves
// (cluster.Registrar), so the API refuses to remove those.
//
// Authorization is Argo CD's: resource "clusters", object the server URL, or
// "<project>/<server>" for a cluster registered for a project, whose project
// admins may add and remove it (rbac.ProjectPolicy). A virtual cluster's entry
// is also visible to whoever may get that virtual cluster. Lists leave out
// what the caller may not get; a get or delete of such a cluster answers 404,
// as for one that does not exist. Answers never carry the credentials.
//
// Each answer says whether gantry reaches the cluster (connectionState, as
// Argo CD shows it): a GET of its /version with its credentials, at most
// cluster.ProbeTimeout long, remembered for a while.
package clusterapi
