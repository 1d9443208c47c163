// Package policy decides what a project's Applications may touch, as an Argo CD
// AppProject does and stricter by default: which repositories they read
// (sourceRepos, local repositories), where they deploy (the project's own
// virtual clusters and namespace, plus what an administrator grants in
// allowedDestinations) and which kinds they may write there (cluster- and
// namespace-scoped allow and deny lists, Namespace labels that would loosen
// Pod Security).
//
// Its decisions are pure: they read a Project and objects and answer with a
// Refusal that names the rule and how an administrator changes it (Load is
// the one function that reads, the Project). The engine asks it
// before it fetches a repository and before any dry run, apply, prune or hook;
// the ApplicationSet controller asks it before it generates anything.
package policy
