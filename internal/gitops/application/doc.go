// Package application reconciles Applications. One reconcile reads top to bottom as
// Flux's kustomize-controller does: validate the spec → resolve the destination →
// fetch and render the sources → compare with the live state (diff, health) →
// sync when asked or when the automated policy says so → record status once.
// Each step is another package (source, render, livestate, diff, health, apply,
// tree); this one composes them and owns the Argo CD rules that decide when to
// sync (automated, selfHeal, retry), history, rollback and deletion.
package application
