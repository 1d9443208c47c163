package application

import (
	"fmt"
	"strings"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
	"gantry.dev/gantry/internal/gitops/apply"
	"gantry.dev/gantry/internal/gitops/diff"
)

// validateSpec checks what the CRD schema cannot: one of source and sources,
// a repoURL on each, and names that make a valid source set.
func validateSpec(spec *gitopsv1alpha1.ApplicationSpec) error {
	switch {
	case spec.Source == nil && len(spec.Sources) == 0:
		return fmt.Errorf("spec has neither source nor sources: set spec.source.repoURL (and path) to the Git repository to deploy")
	case spec.Source != nil && len(spec.Sources) > 0:
		return fmt.Errorf("spec sets both source and sources: use one of them")
	}
	refs := map[string]bool{}
	deployable := 0
	for i, s := range sources(spec) {
		if strings.TrimSpace(s.RepoURL) == "" {
			return fmt.Errorf("source %d has no repoURL", i)
		}
		if s.Ref != "" {
			if refs[s.Ref] {
				return fmt.Errorf("two sources have ref %q: refs must be unique", s.Ref)
			}
			refs[s.Ref] = true
		}
		if s.Ref == "" || s.Path != "" || s.Chart != "" {
			deployable++
		}
		if s.Chart != "" && s.Path != "" {
			return fmt.Errorf("source %d sets both chart and path: a chart comes from a Helm repository, a path from Git", i)
		}
		n := 0
		if s.Helm != nil {
			n++
		}
		if s.Kustomize != nil {
			n++
		}
		if s.Directory != nil {
			n++
		}
		if n > 1 {
			return fmt.Errorf("source %d sets more than one of helm, kustomize and directory: keep the one matching the source's type", i)
		}
	}
	if deployable == 0 {
		return fmt.Errorf("every source only has a ref: at least one source must have a path or chart to deploy")
	}
	for i, r := range spec.IgnoreDifferences {
		for _, expr := range r.JQPathExpressions {
			if err := diff.ValidateJQ(expr); err != nil {
				return fmt.Errorf("ignoreDifferences[%d]: %w", i, err)
			}
		}
	}
	if spec.SyncPolicy != nil {
		if err := apply.CheckSyncOptions(spec.SyncPolicy.SyncOptions); err != nil {
			return fmt.Errorf("syncPolicy.syncOptions: %w", err)
		}
		if spec.SyncPolicy.ManagedNamespaceMetadata != nil && !apply.ParseSyncOptions(spec.SyncPolicy.SyncOptions).CreateNamespace {
			// Argo CD does nothing then; say so rather than ignore it.
			return fmt.Errorf("syncPolicy.managedNamespaceMetadata needs the sync option CreateNamespace=true")
		}
	}
	return nil
}

// sources returns the app's sources as a list whichever field holds them.
func sources(spec *gitopsv1alpha1.ApplicationSpec) []gitopsv1alpha1.ApplicationSource {
	if spec.Source != nil {
		return []gitopsv1alpha1.ApplicationSource{*spec.Source}
	}
	return spec.Sources
}
