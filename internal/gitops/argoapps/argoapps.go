package argoapps

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
	"gantry.dev/gantry/internal/gitops/cluster"
	"gantry.dev/gantry/internal/project"
)

// Group is Argo CD's API group; Version the only version of its Application
// and ApplicationSet.
const (
	Group   = "argoproj.io"
	Version = "v1alpha1"
)

// ArgoCDNamespace is Argo CD's namespace in its manifests: where its apps
// live, and the destination of an app of apps.
const ArgoCDNamespace = project.ArgoCDNamespace

// Kinds are the kinds the package takes in.
const (
	KindApplication    = "Application"
	KindApplicationSet = "ApplicationSet"
)

// Is reports whether gvk is an Application or an ApplicationSet, Argo CD's
// or gantry's: an object gantry keeps as its own rather than deploy.
func Is(gvk schema.GroupVersionKind) bool {
	if gvk.Group != Group && gvk.Group != gitopsv1alpha1.GroupVersion.Group {
		return false
	}
	return gvk.Kind == KindApplication || gvk.Kind == KindApplicationSet
}

// Into returns a copy of obj (an Application or ApplicationSet that Is
// accepts) as gantry's object of project:
//   - apiVersion gitops.gantry.dev/v1alpha1, namespace p-<project>, whatever
//     namespace the manifest names;
//   - spec.project (an ApplicationSet: spec.template.spec.project) is
//     project, whatever project the manifest names, so that no manifest
//     names its way into another project; an ApplicationSet's generated apps
//     live beside it (spec.template.metadata.namespace is dropped);
//   - a destination on the host (https://kubernetes.default.svc or
//     in-cluster) whose namespace is argocd or the manifest's own namespace
//     (Argo CD's namespace, where an app of apps puts its children) is
//     p-<project>;
//   - metadata keeps name, labels, annotations and finalizers; status,
//     operation and what the API server sets are dropped: the engine's,
//     never a manifest's.
//
// A manifest without a name, of another version or of a malformed shape is
// an error naming it and the fix.
func Into(obj *unstructured.Unstructured, projectName string) (*unstructured.Unstructured, error) {
	gvk := obj.GroupVersionKind()
	what := describe(obj)
	if !Is(gvk) {
		return nil, fmt.Errorf("%s is not an Application or ApplicationSet", what)
	}
	if gvk.Version != Version {
		return nil, fmt.Errorf("%s: apiVersion %s/%s is not served: use %s/%s", what, gvk.Group, gvk.Version, Group, Version)
	}
	name := obj.GetName()
	if name == "" {
		return nil, fmt.Errorf("%s has no metadata.name: an %s needs one (generateName is not enough)", what, gvk.Kind)
	}
	if msgs := validation.IsDNS1123Subdomain(name); len(msgs) > 0 {
		return nil, fmt.Errorf("%s: metadata.name %q: %s", what, name, strings.Join(msgs, "; "))
	}
	ns := project.Namespace(projectName)
	out := &unstructured.Unstructured{Object: map[string]any{}}
	out.SetAPIVersion(gitopsv1alpha1.GroupVersion.String())
	out.SetKind(gvk.Kind)
	out.SetName(name)
	out.SetNamespace(ns)
	out.SetLabels(obj.GetLabels())
	out.SetAnnotations(obj.GetAnnotations())
	out.SetFinalizers(obj.GetFinalizers())
	spec, found, err := unstructured.NestedMap(obj.Object, "spec")
	if err != nil {
		return nil, fmt.Errorf("%s: spec: %w", what, err)
	}
	if !found {
		return nil, fmt.Errorf("%s has no spec", what)
	}
	out.Object["spec"] = spec // a deep copy: NestedMap copies
	// Argo CD's namespaces in this manifest: argocd, and its own, unless its
	// own is a project's (then it is another project's, and stays so: the
	// project's rules refuse it, visibly).
	homes := []string{ArgoCDNamespace}
	if own := obj.GetNamespace(); own != "" && own != ns {
		if _, isProject := project.FromNamespace(own); !isProject {
			homes = append(homes, own)
		}
	}
	specPath := []string{"spec"}
	if gvk.Kind == KindApplicationSet {
		specPath = []string{"spec", "template", "spec"}
		unstructured.RemoveNestedField(out.Object, "spec", "template", "metadata", "namespace")
	}
	if err := unstructured.SetNestedField(out.Object, projectName, append(specPath, "project")...); err != nil {
		return nil, fmt.Errorf("%s: %s: %w", what, strings.Join(specPath, "."), err)
	}
	if err := mapDestination(out.Object, append(specPath, "destination"), homes, ns); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// mapDestination sets the destination at path to namespace ns when it names
// one of homes on the host.
func mapDestination(obj map[string]any, path, homes []string, ns string) error {
	dest, found, err := unstructured.NestedMap(obj, path...)
	if err != nil {
		return fmt.Errorf("%s: %w", strings.Join(path, "."), err)
	}
	if !found {
		return nil
	}
	server, _ := dest["server"].(string)
	clusterName, _ := dest["name"].(string)
	namespace, _ := dest["namespace"].(string)
	onHost := strings.TrimRight(server, "/") == cluster.HostServer || server == "" && clusterName == cluster.HostName
	if !onHost {
		return nil
	}
	for _, h := range homes {
		if namespace == h {
			return unstructured.SetNestedField(obj, ns, append(path, "namespace")...)
		}
	}
	return nil
}

func describe(obj *unstructured.Unstructured) string {
	kind := obj.GetKind()
	if kind == "" {
		kind = "a manifest"
	}
	if n := obj.GetName(); n != "" {
		return kind + " " + n
	}
	return kind + " without a name"
}
