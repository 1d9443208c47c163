package argocd

import (
	"context"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
)

// AppProjectGVK is Argo CD's AppProject (manifests/crds/appproject-crd.yaml).
var AppProjectGVK = schema.GroupVersionKind{Group: "argoproj.io", Version: "v1alpha1", Kind: "AppProject"}

// appProject renders project p's AppProject. Its destinations are the
// project's clusters in Argo CD (by server URL, any namespace), and every
// cluster-scoped kind is allowed there because they are the project's own
// virtual clusters, in which its key is cluster-admin.
func appProject(p *platformv1alpha1.Project, namespace string, servers []string) *unstructured.Unstructured {
	spec := p.Spec.ArgoCD.Project
	repos := spec.SourceRepos
	if len(repos) == 0 {
		repos = []string{"*"}
	}
	servers = slices.Clone(servers)
	slices.Sort(servers)
	dests := []any{}
	for _, s := range slices.Compact(servers) {
		dests = append(dests, map[string]any{"server": s, "namespace": "*"})
	}
	roles := []any{}
	for _, role := range spec.Roles {
		var groups []any
		for _, pr := range role.ProjectRoles {
			groups = append(groups, projectGroup(p.Name, pr))
		}
		for _, g := range role.Groups {
			groups = append(groups, g)
		}
		m := map[string]any{"name": role.Name}
		if role.Description != "" {
			m["description"] = role.Description
		}
		if len(role.Policies) > 0 {
			m["policies"] = anySlice(role.Policies)
		}
		if len(groups) > 0 {
			m["groups"] = groups
		}
		roles = append(roles, m)
	}
	description := "Project " + p.Name + " of gantry"
	if p.Spec.DisplayName != "" {
		description = p.Spec.DisplayName + " (gantry project " + p.Name + ")"
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"metadata": map[string]any{
			"name": AppProjectName(p.Name), "namespace": namespace,
			"labels": map[string]any{LabelManagedBy: ManagedBy, LabelProject: p.Name},
		},
		"spec": map[string]any{
			"description":              description,
			"sourceRepos":              anySlice(repos),
			"destinations":             dests,
			"clusterResourceWhitelist": []any{map[string]any{"group": "*", "kind": "*"}},
			"roles":                    roles,
		},
	}}
	u.SetGroupVersionKind(AppProjectGVK)
	return u
}

func anySlice(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// checkAppProject makes sure the AppProject kind exists and that an
// AppProject of that name, if any, is the project's own.
func checkAppProject(ctx context.Context, in *instance, proj string) error {
	got := &unstructured.Unstructured{}
	got.SetGroupVersionKind(AppProjectGVK)
	err := in.c.Get(ctx, client.ObjectKey{Namespace: in.Namespace, Name: AppProjectName(proj)}, got)
	switch {
	case apierrors.IsNotFound(err):
		return nil
	case err != nil:
		return classify(err, "AppProject "+AppProjectName(proj), in)
	case !ownedBy(got, proj):
		return problemf(ReasonConflict, "AppProject %s in namespace %s of cluster %s was not made by gantry for project %s: rename or delete it, or turn spec.argoCD.project off",
			AppProjectName(proj), in.Namespace, in.Cluster, proj)
	}
	return nil
}

// applyAppProject writes it. It is wholly gantry's object, so a field someone
// changed is taken back (forced), unlike Argo CD's ConfigMaps.
func applyAppProject(ctx context.Context, in *instance, u *unstructured.Unstructured, proj string, dryRun bool) error {
	opts := []client.ApplyOption{client.FieldOwner(FieldManager(proj)), client.ForceOwnership}
	if dryRun {
		opts = append(opts, client.DryRunAll)
	}
	return classify(in.c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u.DeepCopy()), opts...), "AppProject "+u.GetName(), in)
}

// removeAppProject deletes the project's AppProject if gantry made it.
func removeAppProject(ctx context.Context, in *instance, proj string) error {
	got := &unstructured.Unstructured{}
	got.SetGroupVersionKind(AppProjectGVK)
	err := in.c.Get(ctx, client.ObjectKey{Namespace: in.Namespace, Name: AppProjectName(proj)}, got)
	if apierrors.IsNotFound(err) || isNoKind(err) {
		return nil
	}
	if err != nil {
		return classify(err, "AppProject "+AppProjectName(proj), in)
	}
	if !ownedBy(got, proj) {
		return nil
	}
	uid := got.GetUID()
	return classify(client.IgnoreNotFound(in.c.Delete(ctx, got, client.Preconditions{UID: &uid})), "deleting AppProject "+got.GetName(), in)
}
