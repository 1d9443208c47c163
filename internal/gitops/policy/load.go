package policy

import (
	"context"
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/project"
)

// ProjectOf returns the project whose namespace (p-<project>) holds an
// Application or ApplicationSet, or a Refusal for any other namespace: apps
// and sets act within the project that holds them, never one they name.
func ProjectOf(kind, namespace, claimed string) (string, error) {
	name, ok := project.FromNamespace(namespace)
	if !ok {
		return "", &Refusal{Project: "(none)", Rule: "metadata.namespace",
			What: fmt.Sprintf("an %s in namespace %s", kind, namespace),
			Fix:  fmt.Sprintf("%ss live in their project's namespace p-<project>: delete this one and create it in a project", kind)}
	}
	if claimed != "" && claimed != name {
		return "", &Refusal{Project: name, Rule: "spec.project",
			What: fmt.Sprintf("spec.project %q on an %s in namespace %s", claimed, kind, namespace),
			Fix:  fmt.Sprintf("set spec.project to %q (or leave it empty); to move it to project %s, delete it and create it there", name, claimed)}
	}
	return name, nil
}

// Load reads project name and compiles its rules; a project that does not
// exist is a Refusal.
func Load(ctx context.Context, r client.Reader, name string) (*Policy, error) {
	p := &platformv1alpha1.Project{}
	if err := r.Get(ctx, client.ObjectKey{Name: name}, p); err != nil {
		if client.IgnoreNotFound(err) != nil {
			return nil, err
		}
		return nil, &Refusal{Project: name, Rule: "project", What: "anything of a project that does not exist",
			Fix: "create project " + name + " (gantry project create " + name + ")"}
	}
	return New(p)
}
