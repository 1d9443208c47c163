// Package webhook receives Git push webhooks from GitHub, GitLab and Gitea,
// as Argo CD's /api/webhook does, so that Applications refresh as soon as a
// commit lands instead of at the next poll.
//
// Parse verifies a request against the configured shared secrets (the same
// ones Argo CD keeps in argocd-secret) and returns the push it describes:
// which repository, in every URL form the payload gives, and which ref
// moved. NewHandler wraps it as an http.Handler with the status codes a Git
// host expects. Push.Matches tells whether an Application's repoURL and
// targetRevision are affected; the controller then invalidates the source
// cache for the repository and refreshes those Applications only.
//
// A payload is untrusted even when signed: it only ever triggers a refresh,
// which reads the repository itself, never the commit data in the payload.
package webhook
