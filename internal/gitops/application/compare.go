package application

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
	"gantry.dev/gantry/internal/gitops/argoapps"
	"gantry.dev/gantry/internal/gitops/diff"
	"gantry.dev/gantry/internal/gitops/health"
	"gantry.dev/gantry/internal/gitops/livestate"
	"gantry.dev/gantry/internal/gitops/render"
	"gantry.dev/gantry/internal/gitops/source"
)

// comparison is the result of comparing Git with the cluster for one app.
type comparison struct {
	revisions   []string // one per source
	sourceTypes []string
	desired     []*unstructured.Unstructured
	live        map[resourceKey]*unstructured.Unstructured
	resources   []gitopsv1alpha1.ResourceStatus
	outOfSync   map[resourceKey]bool
	// exact are the live objects equal to their desired state with no field
	// ignored: a sync need not dry-run them (apply.Options.InSync).
	exact  map[resourceKey]bool
	sync   gitopsv1alpha1.SyncStatusCode
	health gitopsv1alpha1.HealthStatus
	images []string
	// apps holds the app's children (the host's Applications), nil when it has none.
	apps *livestate.Cluster
}

// comparisonError is a failure to render or read state: reported as Argo CD's
// ComparisonError condition.
type comparisonError struct{ err error }

func (e comparisonError) Error() string { return e.err.Error() }
func (e comparisonError) Unwrap() error { return e.err }

// desiredState fetches and renders the app's sources at the revisions asked for
// (an operation's, or the spec's).
// Every repository is checked against the app's project before anything is
// fetched: an operation (a rollback) may name sources the spec does not.
func (r *Reconciler) desiredState(ctx context.Context, app *gitopsv1alpha1.Application, sc *scope, srcs []gitopsv1alpha1.ApplicationSource, revisions []string) (objs []*unstructured.Unstructured, resolved, types []string, err error) {
	if err := sc.sources(srcs); err != nil {
		return nil, nil, nil, err
	}
	after := r.freshAfter(app)
	resolved = make([]string, len(srcs))
	dirs := make([]string, len(srcs))
	refs := map[string]render.RefSource{}
	project := sc.policy.Project() // whose repository credentials may be used
	for i, s := range srcs {
		rev := s.TargetRevision
		if i < len(revisions) && revisions[i] != "" {
			rev = revisions[i]
		}
		if s.Chart != "" {
			resolved[i] = rev // a chart version; the renderer fetches the chart
			continue
		}
		sha, err := r.Sources.ResolveAfter(ctx, source.Repo{URL: s.RepoURL, Project: project}, rev, after)
		if err != nil {
			return nil, nil, nil, comparisonError{err}
		}
		dir, err := r.Sources.Checkout(ctx, source.Repo{URL: s.RepoURL, Project: project}, sha)
		if err != nil {
			return nil, nil, nil, comparisonError{err}
		}
		resolved[i], dirs[i] = sha, dir
		if s.Ref != "" {
			refs[s.Ref] = render.RefSource{Dir: dir, Revision: sha}
		}
	}
	for i, s := range srcs {
		if s.Ref != "" && s.Path == "" && s.Chart == "" {
			types = append(types, "")
			continue // only provides files to the others
		}
		res, err := r.Renderer.Render(ctx, render.Request{
			Source:      s,
			Dir:         dirs[i],
			Revision:    resolved[i],
			RefSources:  refs,
			AppName:     app.Name,
			Namespace:   app.Spec.Destination.Namespace,
			KubeVersion: r.KubeVersion,
		})
		if err != nil {
			return nil, nil, nil, comparisonError{err}
		}
		objs = append(objs, res.Objects...)
		types = append(types, string(res.SourceType))
		if s.Chart != "" && res.Revision != "" {
			resolved[i] = res.Revision
		}
	}
	return objs, resolved, types, nil
}

// prepare sets the destination namespace on namespaced objects without one, drops
// namespaces from cluster-scoped ones (as kubectl does), and rejects duplicates.
func prepare(cl *livestate.Cluster, namespace string, objs []*unstructured.Unstructured) error {
	seen := map[resourceKey]bool{}
	for _, o := range objs {
		gvk := o.GroupVersionKind()
		if gvk.Kind == "" || gvk.Version == "" {
			return fmt.Errorf("a manifest named %q has no apiVersion or kind", o.GetName())
		}
		m, err := cl.Mapping(gvk)
		if err != nil {
			if isCRDInSet(gvk, objs) {
				// Its CRD comes in the same sync: assume namespaced unless it says otherwise.
				if o.GetNamespace() == "" && crdScope(gvk, objs) != "Cluster" {
					o.SetNamespace(namespace)
				}
				continue
			}
			return err
		}
		if m.Scope.Name() == meta.RESTScopeNameNamespace {
			if o.GetNamespace() == "" {
				if namespace == "" {
					return fmt.Errorf("%s %s has no namespace and the destination has none: set destination.namespace", gvk.Kind, o.GetName())
				}
				o.SetNamespace(namespace)
			}
		} else {
			o.SetNamespace("")
		}
		if o.GetName() == "" {
			if o.GetGenerateName() == "" {
				return fmt.Errorf("a %s manifest has neither metadata.name nor metadata.generateName", gvk.Kind)
			}
			continue // a hook with generateName: each run makes a new one
		}
		k := keyOf(o)
		if seen[k] {
			return fmt.Errorf("%s appears twice in the rendered manifests", k)
		}
		seen[k] = true
	}
	return nil
}

func isCRDInSet(gvk schema.GroupVersionKind, objs []*unstructured.Unstructured) bool {
	return crdScope(gvk, objs) != ""
}

func crdScope(gvk schema.GroupVersionKind, objs []*unstructured.Unstructured) string {
	for _, o := range objs {
		if o.GetKind() != "CustomResourceDefinition" {
			continue
		}
		group, _, _ := unstructured.NestedString(o.Object, "spec", "group")
		kind, _, _ := unstructured.NestedString(o.Object, "spec", "names", "kind")
		if group == gvk.Group && kind == gvk.Kind {
			scope, _, _ := unstructured.NestedString(o.Object, "spec", "scope")
			return scope
		}
	}
	return ""
}

// compare diffs desired with live and assesses health, as Argo CD's app state
// manager does.
func compare(app *gitopsv1alpha1.Application, desired []*unstructured.Unstructured, live map[resourceKey]*unstructured.Unstructured) (*comparison, error) {
	c := &comparison{desired: desired, live: live, outOfSync: map[resourceKey]bool{}, exact: map[resourceKey]bool{}, sync: gitopsv1alpha1.SyncStatusSynced}
	rules := ignoreRules(app.Spec.IgnoreDifferences)
	worst := health.Healthy
	images := map[string]bool{}
	add := func(k resourceKey, version string, d, l *unstructured.Unstructured) error {
		rs := gitopsv1alpha1.ResourceStatus{Group: k.Group, Version: version, Kind: k.Kind, Namespace: k.Namespace, Name: k.Name,
			Status: gitopsv1alpha1.SyncStatusSynced}
		if d != nil {
			rs.SyncWave = syncWave(d)
			rs.Hook = isHook(d)
		}
		if rs.Hook {
			return nil // hooks are run by syncs, not compared (Argo CD)
		}
		opts := diff.OptionsFor(diff.Options{FieldManager: FieldManager}, rules, firstNonNil(d, l))
		modified, err := diff.Modified(d, l, opts)
		if err != nil {
			return fmt.Errorf("comparing %s: %w", k, err)
		}
		switch {
		case modified:
			rs.Status = gitopsv1alpha1.SyncStatusOutOfSync
			c.outOfSync[k] = true
			c.sync = gitopsv1alpha1.SyncStatusOutOfSync
		case d != nil && l != nil && len(opts.IgnoreDifferences)+len(opts.JQPathExpressions)+len(opts.ManagedFieldsManagers) == 0:
			c.exact[k] = true
		}
		if d == nil {
			rs.RequiresPruning = true
		}
		if l == nil {
			rs.Health = &gitopsv1alpha1.HealthStatus{Status: gitopsv1alpha1.HealthMissing}
			if health.IsWorse(worst, health.Missing) {
				worst = health.Missing
			}
		} else if h, err := health.Assess(l); err == nil && h != nil {
			rs.Health = &gitopsv1alpha1.HealthStatus{Status: gitopsv1alpha1.HealthStatusCode(h.Status), Message: h.Message}
			if health.IsWorse(worst, h.Status) {
				worst = h.Status
			}
			for _, img := range podImages(l) {
				images[img] = true
			}
		}
		c.resources = append(c.resources, rs)
		return nil
	}
	for _, d := range desired {
		k := keyOf(d)
		if err := add(k, d.GroupVersionKind().Version, d, live[k]); err != nil {
			return nil, err
		}
	}
	desiredKeys := map[resourceKey]bool{}
	for _, d := range desired {
		desiredKeys[keyOf(d)] = true
	}
	for k, l := range live {
		if !desiredKeys[k] && !isHook(l) {
			if err := add(k, l.GroupVersionKind().Version, nil, l); err != nil {
				return nil, err
			}
		}
	}
	sort.Slice(c.resources, func(i, j int) bool { return lessResource(c.resources[i], c.resources[j]) })
	c.health = gitopsv1alpha1.HealthStatus{Status: gitopsv1alpha1.HealthStatusCode(worst)}
	for img := range images {
		c.images = append(c.images, img)
	}
	sort.Strings(c.images)
	return c, nil
}

func firstNonNil(a, b *unstructured.Unstructured) *unstructured.Unstructured {
	if a != nil {
		return a
	}
	return b
}

func lessResource(a, b gitopsv1alpha1.ResourceStatus) bool {
	ka := strings.Join([]string{a.Group, a.Kind, a.Namespace, a.Name}, "/")
	kb := strings.Join([]string{b.Group, b.Kind, b.Namespace, b.Name}, "/")
	return ka < kb
}

func ignoreRules(in []gitopsv1alpha1.ResourceIgnoreDifferences) []diff.IgnoreRule {
	out := make([]diff.IgnoreRule, 0, len(in))
	for _, r := range in {
		rule := diff.IgnoreRule{Group: r.Group, Kind: r.Kind, Name: r.Name, Namespace: r.Namespace,
			JSONPointers: r.JSONPointers, JQPathExpressions: r.JQPathExpressions, ManagedFieldsManagers: r.ManagedFieldsManagers}
		out = append(out, rule)
		if r.Group == argoapps.Group && (r.Kind == argoapps.KindApplication || r.Kind == argoapps.KindApplicationSet) {
			// An app of apps written for Argo CD ignores fields of its
			// children by Argo CD's group; they are gantry's here.
			rule.Group = appGroup
			out = append(out, rule)
		}
	}
	return out
}

// podImages lists the container images of a workload or pod, for the summary.
func podImages(obj *unstructured.Unstructured) []string {
	paths := [][]string{{"spec", "template", "spec", "containers"}, {"spec", "containers"}, {"spec", "jobTemplate", "spec", "template", "spec", "containers"}}
	var out []string
	for _, p := range paths {
		cs, _, _ := unstructured.NestedSlice(obj.Object, p...)
		for _, c := range cs {
			if m, ok := c.(map[string]any); ok {
				if img, ok := m["image"].(string); ok {
					out = append(out, img)
				}
			}
		}
	}
	return out
}
