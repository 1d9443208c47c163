// Package accesskeys is gantry's access keys for the CLI and CI: the key
// (gak_<id>_<secret>; only the SHA-256 of the secret is kept), its record
// (owner, scope, expiry, revocation), its verification, and its storage as
// Secrets in gantry's namespace, one per key. Keys are scoped to a project or
// a virtual cluster, expire, and act as their owner within that scope; system
// keys belong to one of gantry's integrations and carry their own groups.
// Package authn accepts them as credentials; package accesskeyapi serves
// /api/v1/accesskeys.
package accesskeys
