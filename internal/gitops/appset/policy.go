package appset

import (
	"context"
	"errors"
	"fmt"
	"strings"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
	"gantry.dev/gantry/internal/gitops/appset/template"
	"gantry.dev/gantry/internal/gitops/cluster"
	"gantry.dev/gantry/internal/gitops/policy"
)

// A set acts within the project whose namespace holds it, as its
// Applications will: what the project does not allow is refused here, before
// a repository is read or anything is generated, and again by the
// Application controller for each app (the engine is the boundary; this
// makes a bad template fail as a whole instead of app by app).

// setPolicy returns the rules of the set's project and checks the
// repositories its generators read.
func (r *Reconciler) setPolicy(ctx context.Context, set *gitopsv1alpha1.ApplicationSet) (*policy.Policy, error) {
	name, err := policy.ProjectOf("ApplicationSet", set.Namespace, set.Spec.Template.Spec.Project)
	if err != nil && !strings.Contains(set.Spec.Template.Spec.Project, "{{") {
		return nil, err
	}
	if err != nil {
		// A templated project is checked once rendered (checkRendered).
		if name, err = policy.ProjectOf("ApplicationSet", set.Namespace, ""); err != nil {
			return nil, err
		}
	}
	pol, err := policy.Load(ctx, r.opts.Client, name)
	if err != nil {
		return nil, err
	}
	for _, ref := range generatorRefs(&set.Spec) {
		if ref.repoURL == "" {
			continue
		}
		if err := pol.Source(ref.repoURL); err != nil {
			return nil, err
		}
	}
	return pol, nil
}

// checkRendered checks every generated Application's project, repositories
// and destination; all refusals are reported together.
func (r *Reconciler) checkRendered(ctx context.Context, set *gitopsv1alpha1.ApplicationSet, pol *policy.Policy, rendered []*template.Rendered) error {
	var errs []error
	for _, rd := range rendered {
		app := rd.Application
		if _, err := policy.ProjectOf("Application", set.Namespace, app.Spec.Project); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", rd.Element, err))
			continue
		}
		srcs := app.Spec.Sources
		if app.Spec.Source != nil {
			srcs = append(srcs, *app.Spec.Source)
		}
		for _, s := range srcs {
			if err := pol.Source(s.RepoURL); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", rd.Element, err))
			}
		}
		t, known, err := r.target(ctx, set, rd)
		if err != nil {
			return err
		}
		if known {
			if err := pol.Destination(t, app.Spec.Destination.Namespace); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", rd.Element, err))
			}
		}
	}
	return errors.Join(errs...)
}

// target is where an element's Application deploys, as far as it can be
// known before it exists: the host, the element's own preview virtual
// cluster (not registered until it runs), or a registered cluster. An
// unknown one is left to the Application controller, which refuses it.
func (r *Reconciler) target(ctx context.Context, set *gitopsv1alpha1.ApplicationSet, rd *template.Rendered) (policy.Target, bool, error) {
	d := rd.Application.Spec.Destination
	if strings.TrimRight(d.Server, "/") == cluster.HostServer || d.Name == cluster.HostName {
		return policy.Target{Host: true, Server: cluster.HostServer, Name: cluster.HostName}, true, nil
	}
	project, _ := policy.ProjectOf("ApplicationSet", set.Namespace, "")
	if rd.VirtualCluster != nil && d.Name == cluster.ClusterName(set.Namespace, rd.VirtualCluster.Name) {
		return policy.Target{Name: d.Name, Project: project}, true, nil
	}
	if r.opts.Clusters == nil {
		return policy.Target{}, false, nil
	}
	c, err := r.opts.Clusters.Resolve(ctx, cluster.Destination{Server: d.Server, Name: d.Name})
	if err != nil {
		return policy.Target{}, false, nil // unknown: the Application controller says so
	}
	return policy.Target{Server: c.Server, Name: c.Name, Project: c.Project}, true, nil
}
