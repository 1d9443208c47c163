package project

import (
	"fmt"

	"k8s.io/apimachinery/pkg/util/validation"
)

// ArgoCDNamespace is where Argo CD keeps its Applications and
// ApplicationSets; a manifest written for Argo CD names it.
const ArgoCDNamespace = "argocd"

// Place says where a project's new Application or ApplicationSet lives: in
// its project's namespace, p-<project>. project is what the object names
// (spec.project; "" is the given namespace's project, or "default");
// namespace is the one the request names ("" for none; Argo CD's own is
// taken as none). Any other namespace is refused, naming both and the fix.
// It returns the project and the namespace.
func Place(projectName, namespace string) (string, string, error) {
	if namespace == ArgoCDNamespace {
		namespace = ""
	}
	owner, inProject := FromNamespace(namespace)
	if projectName == "" {
		projectName = "default"
		if inProject {
			projectName = owner
		}
	}
	if msgs := validation.IsDNS1123Label(Namespace(projectName)); len(msgs) > 0 {
		return "", "", fmt.Errorf("project %q is not a project name: %s", projectName, msgs[0])
	}
	want := Namespace(projectName)
	switch {
	case namespace == "" || namespace == want:
		return projectName, want, nil
	case inProject:
		return "", "", fmt.Errorf("namespace %s belongs to project %q, not to project %q: leave the namespace out (the object goes to %s), or name project %q",
			namespace, owner, projectName, want, owner)
	default:
		return "", "", fmt.Errorf("namespace %s belongs to no project: objects of project %q live in namespace %s; leave the namespace out, or use %s",
			namespace, projectName, want, want)
	}
}
