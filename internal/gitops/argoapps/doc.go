// Package argoapps takes Argo CD's Application and ApplicationSet manifests
// (argoproj.io/v1alpha1, as Argo CD's own repositories hold them: the app of
// apps pattern, a directory given to `gantry app create -f`) into one gantry
// project, as gantry's own objects (gitops.gantry.dev/v1alpha1).
//
// Argo CD keeps every app in its own namespace (argocd) and lets the manifest
// name its AppProject. gantry keeps a project's apps in the project's
// namespace p-<project>, so the mapping is containment, not translation: the
// object lives in the project it is taken into whatever namespace or project
// it names, and a destination that means "Argo CD's namespace" on the host
// (argocd, or the manifest's own namespace) becomes the project's namespace.
// What the object may then reach is the engine's business: every
// Application, however made, goes through its project's rules.
//
// The package is pure: it changes copies of objects and asks no API server.
package argoapps
