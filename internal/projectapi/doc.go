// Package projectapi serves Projects over REST at /api/v1/projects, for the web
// UI and for the CLI of users without a host kubeconfig: list, get, create,
// update and delete projects, and add and remove their members; and, at
// /api/v1/clusters, the clusters a project's Argo CD integration or an
// Application may name (names and servers, never credentials).
//
// Every call is authenticated, then authorized with RBAC's "projects" resource
// (object: the project's name) after an access key's scope: 401 without
// credentials, 403 when refused, and lists leave out what the caller may not
// get. Projects are stored as CRDs on the host; the project reconciler makes
// their namespace and counts usage, and hands members to RBAC, so a member
// change takes effect once it has run.
package projectapi
