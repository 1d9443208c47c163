// Package apply is the sync step of gantry's GitOps engine: it makes a cluster
// match a set of rendered objects the way Argo CD's gitops-engine (pkg/sync) does,
// so that an application written for Argo CD syncs the same here. It knows
// nothing of the Application CRD, the API or the UI: the caller renders the
// desired objects, finds the live ones it manages, and turns the Result into
// status.
//
// One call, Sync, runs a whole operation and blocks until it ends (or its context
// does); callers run it in a goroutine and may watch Options.Progress.
//
// # Steps
//
//  1. Plan. Namespaced objects without a namespace get the destination namespace;
//     cluster-scoped ones lose any. Every desired object is stamped with the
//     caller's tracking annotation and labels. Sync options come from the
//     application (Options.SyncOptions) overridden by each object's
//     argocd.argoproj.io/sync-options annotation.
//  2. Validate. Every object the sync would write is dry-run on the server
//     (server-side apply with dryRun=All; hooks as creations) before anything
//     changes. One failure fails the sync, with every failing resource's message,
//     and nothing is applied. Objects whose kind is defined by a CRD of the same
//     sync cannot be dry-run and are skipped, as in Argo CD. With CreateNamespace,
//     the destination namespace is dry-run too, and the NotFound of that namespace
//     (or of any Namespace the sync declares) is accepted for the objects inside it;
//     the namespace itself is created in PreSync, before anything needs it.
//  3. Apply, phase by phase (PreSync, Sync, PostSync) and wave by wave
//     (argocd.argoproj.io/sync-wave, then Argo CD's kind order, then name). A
//     Namespace or CRD is pulled into the wave of the first object that needs it.
//     Every object is server-side applied with Force (gantry always applies
//     server-side; ServerSideApply=false is accepted and changes nothing), or
//     created/replaced with Replace=true. Before the next wave starts, the wave's
//     objects must be healthy (Options.Health; degraded fails the sync); as in
//     Argo CD the last wave is not waited for unless it has hooks.
//  4. Hooks (argocd.argoproj.io/hook, or helm.sh/hook mapped as Argo CD maps it) are
//     created, not applied: generateName gets a name fixed for the operation;
//     BeforeHookCreation (the default) deletes the previous instance first;
//     HookSucceeded and HookFailed delete them when the operation ends that way. A
//     hook's phase is complete when Health says healthy; a degraded hook fails the
//     sync, which then runs the SyncFail hooks. While it runs a hook carries
//     argocd.argoproj.io/hook-finalizer so its outcome cannot vanish unread.
//  5. Prune: live objects no longer desired are deleted (with Options.Prune) in
//     the Sync phase, in the reverse order of their waves (the highest first),
//     each before the applies of its wave; PruneLast ones after the last wave.
//     Prune=false reports PruneSkipped. An object is only deleted if its live
//     tracking annotation, read again just before, is this application's, and the
//     delete carries its UID as precondition.
//
// Selective sync (Options.Resources) applies and prunes only the named resources
// and runs no hooks; ApplyOutOfSyncOnly skips live resources the caller does not
// list in Options.OutOfSync. DryRun stops after validation and reports what would
// happen.
//
// # Differences from Argo CD
//
// Validation is a server-side dry run (Argo CD dry-runs on the client), so it also
// catches admission denials. Prune=confirm without Options.PruneConfirmed is
// reported PruneSkipped instead of holding the operation. A degraded resource
// between waves is reported SyncFailed (Argo CD keeps Synced and only fails the
// operation). Delete=false is parsed (ResourceSyncOptions) but only matters when an
// application is deleted, which is not this package's business. Replace=true uses
// PUT. Force=true deletes and re-creates an existing object, with Replace=true
// always, without it when the apply is refused as invalid (an immutable field);
// its validation is a dry-run create under a generated name, since the live
// object still holds the name. Validate=false asks the server to ignore
// unknown fields (fieldValidation=Ignore); creations and replacements honour it,
// but server-side apply rejects unknown fields whatever the setting, exactly as
// kubectl apply --server-side --validate=false does.
//
// Files: types.go (API), syncoptions.go, hooks.go (annotations), plan.go (tasks),
// order.go (sorting, waves), validate.go (dry run), sync.go (the operation),
// step.go (one wave), wait.go (health and deletion waits), kube.go (API calls).
package apply
