package application

import (
	"context"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/gitops/cluster"
	"gantry.dev/gantry/internal/gitops/policy"
	projectpkg "gantry.dev/gantry/internal/project"
)

// An app acts within its project: the project whose namespace (p-<project>)
// holds it. Everything the engine does for an app, reconciling, deleting its
// resources, and answering the API (manifests, diffs, the resource tree), goes
// through scope first, so that no path reaches a repository or a cluster the
// project may not.

// scope is what an app may touch, resolved once per reconcile.
type scope struct {
	policy *policy.Policy
	target policy.Target
	dest   *cluster.Cluster
}

// policyFor returns the compiled rules of app's project, or a Refusal when
// the app stands outside any project. An app being deleted whose project is
// gone already (deleting a project deletes its namespace, and so its apps)
// gets the rules of a project without grants: its own namespace and virtual
// clusters, so that its resources there are still cleaned up.
func (r *Reconciler) policyFor(ctx context.Context, app *gitopsv1alpha1.Application) (*policy.Policy, error) {
	name, err := policy.ProjectOf("Application", app.Namespace, app.Spec.Project)
	if err != nil {
		return nil, err
	}
	p := &platformv1alpha1.Project{}
	if err := r.Client.Get(ctx, client.ObjectKey{Name: name}, p); err != nil {
		if client.IgnoreNotFound(err) != nil {
			return nil, err
		}
		if !app.DeletionTimestamp.IsZero() {
			return policy.New(&platformv1alpha1.Project{ObjectMeta: metav1.ObjectMeta{Name: name}})
		}
		return nil, &policy.Refusal{Project: name, Rule: "project", What: "applications of a project that does not exist",
			Fix: "create project " + name + " (gantry project create " + name + ") or delete the application"}
	}
	return r.policies.get(p)
}

// scopeOf resolves app's destination and checks it, with the project's rules
// for what comes next (sources before fetching, objects before writing).
func (r *Reconciler) scopeOf(ctx context.Context, app *gitopsv1alpha1.Application) (*scope, error) {
	pol, err := r.policyFor(ctx, app)
	if err != nil {
		return nil, err
	}
	dest, err := r.Clusters.Resolve(ctx, cluster.Destination{Server: app.Spec.Destination.Server, Name: app.Spec.Destination.Name})
	if err != nil {
		return nil, err
	}
	s := &scope{policy: pol, dest: dest, target: targetOf(dest)}
	if err := pol.Destination(s.target, app.Spec.Destination.Namespace); err != nil {
		return nil, err
	}
	if md := managedNamespaceMetadata(app); md != nil && app.Spec.Destination.Namespace != "" && !pol.Own(s.target) {
		if err := pol.NamespaceLabels(app.Spec.Destination.Namespace, md.Labels); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// sources checks every repository of srcs before anything is fetched.
func (s *scope) sources(srcs []gitopsv1alpha1.ApplicationSource) error {
	for _, src := range srcs {
		if err := s.policy.Source(src.RepoURL); err != nil {
			return err
		}
	}
	return nil
}

func targetOf(c *cluster.Cluster) policy.Target {
	return policy.Target{Host: c.Secret == "" && c.Name == cluster.HostName, Server: c.Server, Name: c.Name, Project: c.Project}
}

func managedNamespaceMetadata(app *gitopsv1alpha1.Application) *gitopsv1alpha1.ManagedNamespaceMetadata {
	if app.Spec.SyncPolicy == nil {
		return nil
	}
	return app.Spec.SyncPolicy.ManagedNamespaceMetadata
}

// policyCache keeps each project's compiled rules until the project changes:
// a thousand apps of one project compile its globs once.
type policyCache struct {
	mu    sync.Mutex
	byUID map[types.UID]cachedPolicy
}

type cachedPolicy struct {
	generation int64
	policy     *policy.Policy
}

func (c *policyCache) get(p *platformv1alpha1.Project) (*policy.Policy, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byUID[p.UID]; ok && e.generation == p.Generation && p.UID != "" {
		return e.policy, nil
	}
	pol, err := policy.New(p)
	if err != nil {
		return nil, &policy.Refusal{Project: p.Name, Rule: "project", What: "any application while its rules do not compile",
			Fix: err.Error() + "; an administrator must fix the project"}
	}
	if c.byUID == nil {
		c.byUID = map[types.UID]cachedPolicy{}
	}
	c.byUID[p.UID] = cachedPolicy{generation: p.Generation, policy: pol}
	return pol, nil
}

// appsOfProject returns the apps in a changed project's namespace.
func (r *Reconciler) appsOfProject(ctx context.Context, o client.Object) []reconcile.Request {
	var list gitopsv1alpha1.ApplicationList
	if err := r.Client.List(ctx, &list, client.InNamespace(projectpkg.Namespace(o.GetName()))); err != nil {
		r.Log.Error(err, "listing the applications of a changed project", "project", o.GetName())
		return nil
	}
	out := make([]reconcile.Request, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return out
}
