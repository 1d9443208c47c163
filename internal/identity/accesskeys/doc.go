// Package accesskeys keeps access keys for the CLI and CI as Secrets in gantry's
// namespace (one per key, holding only the SHA-256 of its secret), and serves
// /api/v1/accesskeys to create (the key is shown once), list and revoke them.
// Keys are scoped to a project or a virtual cluster, expire, and act as their
// owner within that scope.
package accesskeys
