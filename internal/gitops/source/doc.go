// Package source fetches the Git repositories that Applications point at, as
// Argo CD's repo-server does, but as a library inside the gantry process.
//
// A Cache keeps one bare mirror per repository (and credential) on disk,
// shared by every Application that uses it, and answers two questions:
//
//   - Resolve: which commit does a revision (branch, tag, SHA, HEAD) name
//     right now? Answered from a cached ls-remote, so that a refresh of many
//     Applications over one repository costs one round trip.
//   - Checkout: give me a read-only directory with the files of that commit.
//     Trees are extracted once per commit and reused until Prune drops them.
//
// Credentials come from Argo CD style repository Secrets (see CredentialSet),
// each for one project or for all, and SSH host keys from a known_hosts text,
// as in argocd-ssh-known-hosts-cm. Every call names the project it reads for
// (Repo): mirrors and ls-remote answers are kept per repository and
// credential, so what one project fetched with its credentials is never
// served to another.
//
// Failures a user should act on are returned as *Error with a Reason that
// the controller can put on an Application condition.
//
// Nothing here keeps a worktree or object data in memory beyond a small
// object cache per operation: 1,000 Applications over 50 repositories cost
// disk, not heap.
package source
