// Package render turns an Application source, already checked out on disk by
// package source, into Kubernetes objects, as Argo CD's repo-server does, but
// inside the gantry process.
//
// A source is one of three types, chosen as Argo CD chooses them: a Helm
// chart (chart set, an explicit helm block, or a Chart.yaml in the path), a
// kustomization (an explicit kustomize block, or a kustomization.yaml,
// kustomization.yml or Kustomization file in the path) or a directory of
// YAML and JSON manifests (everything else). An explicit block wins over what
// the files say; two explicit blocks are an error.
//
// Rendering never changes the checkout: Argo CD's kustomize overrides (it
// runs `kustomize edit` on its own clone) are applied to an in-memory copy of
// the kustomization file that kustomize reads through a file system which
// refuses anything outside the repository. Paths that leave the repository
// (`..`, absolute paths, symlinks) are errors, as are remote kustomize bases
// and remote Helm value files, which would make a render depend on more than
// the commit it names.
//
// Helm charts are rendered with the Helm 4 SDK in client-only mode (what
// `helm template --include-crds` does); hooks are kept as objects with their
// helm.sh/hook annotations for the sync engine to order. Charts from Helm
// repositories are downloaded over HTTP(S), checked against the digest in the
// repository index, and kept in a directory so that a pinned version is
// downloaded once.
//
// Objects come back as the tools produced them: namespaced objects without a
// namespace stay without one, because the sync engine fills in the
// destination namespace (as Argo CD does). Lists (kind: List, or any *List
// with items) are flattened into their items.
//
// A Cache keeps rendered results keyed by repository, revision, path and a
// hash of everything else that changes the output, so that the controller can
// compare hundreds of Applications against an unchanged commit without
// running kustomize or Helm again.
package render
