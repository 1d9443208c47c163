// Package vcapi serves virtual clusters over REST at /api/v1/virtualclusters,
// for the web UI and for CLI users who have no kubeconfig of the host: list,
// get, create, update, delete, sleep, wake, a kubeconfig that reaches the
// cluster through gantry's proxy, and server-sent-event streams of changes.
//
// Every call is authenticated, then authorized as "virtualclusters <action>
// <project>/<name>" (checked before the object is read, so a refusal says
// nothing about whether it exists); a scoped access key is also held to its
// scope. Lists and streams leave out what the caller may not get. Answers are
// a compact view of the VirtualCluster with the object itself beside it; the
// credentials an object may hold (a storage DSN's password) are redacted and
// the admin kubeconfig Secret is never read.
//
// The credential endpoint under the same prefix belongs to vcproxy, which
// registers it itself.
package vcapi
