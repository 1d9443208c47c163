package application

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
	"gantry.dev/gantry/internal/gitops/argoapps"
	"gantry.dev/gantry/internal/gitops/cluster"
	"gantry.dev/gantry/internal/gitops/livestate"
	"gantry.dev/gantry/internal/gitops/policy"
)

// An app of apps. Applications and ApplicationSets among an app's manifests
// (Argo CD's argoproj.io ones, as Argo CD's repositories hold them, or
// gantry's) are not deployed to the app's destination: they become the app's
// children, gantry's own objects in the app's project namespace on the host
// (argoapps.Into: whatever project or namespace they name), owned by the app
// (an ownerReference: deleting the app deletes them) and checked against the
// project's rules as any object there. Otherwise they are resources like the
// others: compared, synced in their wave, pruned when they leave Git, in the
// resource tree. Each child then acts within the project as any app does.
//
// Their clients route by group (routedDynamic, routedMapper): gantry's group
// to the host, the rest to the destination, so that one sync applies both.

// appGroup is the group of gantry's Application and ApplicationSet; no other
// object of the app has it once its children are adopted.
var appGroup = gitopsv1alpha1.GroupVersion.Group

// childAppKinds are what an app's children can be.
var childAppKinds = []schema.GroupVersionKind{
	gitopsv1alpha1.GroupVersion.WithKind(argoapps.KindApplication),
	gitopsv1alpha1.GroupVersion.WithKind(argoapps.KindApplicationSet),
}

func isChild(o *unstructured.Unstructured) bool { return o.GroupVersionKind().Group == appGroup }

// hasChildren says whether the app's last comparison found children.
func hasChildren(app *gitopsv1alpha1.Application) bool {
	for _, rs := range app.Status.Resources {
		if rs.Group == appGroup {
			return true
		}
	}
	return false
}

// adopt splits rendered objects into those for the destination and the
// app's children, made gantry's objects of its project and owned by it.
func adopt(app *gitopsv1alpha1.Application, project string, rendered []*unstructured.Unstructured) (objects, children []*unstructured.Unstructured, err error) {
	seen := map[resourceKey]bool{}
	for _, o := range rendered {
		if !argoapps.Is(o.GroupVersionKind()) {
			objects = append(objects, o)
			continue
		}
		child, err := argoapps.Into(o, project)
		if err != nil {
			return nil, nil, err
		}
		if k := keyOf(child); seen[k] {
			return nil, nil, fmt.Errorf("%s appears twice in the rendered manifests", k)
		} else {
			seen[k] = true
		}
		child.SetOwnerReferences([]metav1.OwnerReference{{
			APIVersion: gitopsv1alpha1.GroupVersion.String(), Kind: "Application",
			Name: app.Name, UID: app.UID, Controller: new(true), BlockOwnerDeletion: new(true),
		}})
		children = append(children, child)
	}
	return objects, children, nil
}

// checkChildren refuses children whose name an app or set of the project
// holds already that is not this app's child: a standalone app, another
// app's child, or the app itself. Nothing of the app is written then.
func (r *Reconciler) checkChildren(ctx context.Context, app *gitopsv1alpha1.Application, project string, children []*unstructured.Unstructured, live map[resourceKey]*unstructured.Unstructured) error {
	for _, c := range children {
		if live[keyOf(c)] != nil {
			continue // this app's already
		}
		var cur client.Object = &gitopsv1alpha1.Application{} // typed: the manager's cache answers
		if c.GetKind() == argoapps.KindApplicationSet {
			cur = &gitopsv1alpha1.ApplicationSet{}
		}
		err := r.Client.Get(ctx, client.ObjectKeyFromObject(c), cur)
		if client.IgnoreNotFound(err) != nil {
			return err
		}
		if err != nil {
			continue
		}
		if owner := metav1.GetControllerOf(cur); owner != nil && owner.UID == app.UID {
			continue
		}
		what := fmt.Sprintf("the manifests hold %s %s, and project %s has one of that name already", c.GetKind(), c.GetName(), project)
		switch owner := metav1.GetControllerOf(cur); {
		case c.GetKind() == "Application" && c.GetName() == app.Name:
			return fmt.Errorf("the manifests hold Application %s, this app itself: an app cannot be its own child; rename it in Git", app.Name)
		case owner != nil:
			return fmt.Errorf("%s, the child of %s %s: rename it in Git (one of the two apps must give the name up)", what, owner.Kind, owner.Name)
		default:
			return fmt.Errorf("%s, made apart from this app: rename it in Git, or delete the existing one (gantry app delete %s) so that this app makes its own", what, c.GetName())
		}
	}
	return nil
}

// appsCluster returns the live state of the host's Applications and
// ApplicationSets: where every app's children live. It has a key of its own,
// so its watches stay while gantry runs whatever the apps deploying to the
// host do.
func (r *Reconciler) appsCluster(ctx context.Context, watch bool) (*livestate.Cluster, policy.Target, error) {
	host, err := r.Clusters.Resolve(ctx, cluster.Destination{Server: cluster.HostServer})
	if err != nil {
		return nil, policy.Target{}, err
	}
	key := "apps|" + clusterKey(host)
	r.clustersMu.Lock()
	r.appsKey = key
	cl, err := r.Live.Cluster(key, host.REST)
	r.clustersMu.Unlock()
	if err != nil {
		return nil, policy.Target{}, err
	}
	if watch {
		if err := cl.Watch(ctx, childAppKinds); err != nil {
			return nil, policy.Target{}, err
		}
	}
	return cl, targetOf(host), nil
}

// liveChildren returns the app's children as they are: in its namespace, and
// within its project's rules.
func liveChildren(app *gitopsv1alpha1.Application, sc *scope, apps *livestate.Cluster, host policy.Target) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range apps.Managed(app.Namespace + "/" + app.Name) {
		if o.GetNamespace() == app.Namespace && isChild(o) && sc.policy.Reaches(host, o) == nil {
			out = append(out, o)
		}
	}
	return out
}

// routed is a destination whose gantry Applications and ApplicationSets are
// the host's: where a sync applies, prunes and reads an app's children.
func routed(dest, apps *livestate.Cluster) (dynamic.Interface, meta.RESTMapper) {
	if apps == nil {
		return dest.Dynamic, dest.Mapper
	}
	return routedDynamic{dest: dest.Dynamic, apps: apps.Dynamic}, routedMapper{dest: dest.Mapper, apps: apps.Mapper}
}

type routedDynamic struct{ dest, apps dynamic.Interface }

var _ dynamic.Interface = routedDynamic{}

func (d routedDynamic) Resource(gvr schema.GroupVersionResource) dynamic.NamespaceableResourceInterface {
	if gvr.Group == appGroup {
		return d.apps.Resource(gvr)
	}
	return d.dest.Resource(gvr)
}

type routedMapper struct{ dest, apps meta.ResettableRESTMapper }

var _ meta.ResettableRESTMapper = routedMapper{}

func (m routedMapper) pick(group string) meta.RESTMapper {
	if group == appGroup {
		return m.apps
	}
	return m.dest
}

func (m routedMapper) KindFor(r schema.GroupVersionResource) (schema.GroupVersionKind, error) {
	return m.pick(r.Group).KindFor(r)
}

func (m routedMapper) KindsFor(r schema.GroupVersionResource) ([]schema.GroupVersionKind, error) {
	return m.pick(r.Group).KindsFor(r)
}

func (m routedMapper) ResourceFor(r schema.GroupVersionResource) (schema.GroupVersionResource, error) {
	return m.pick(r.Group).ResourceFor(r)
}

func (m routedMapper) ResourcesFor(r schema.GroupVersionResource) ([]schema.GroupVersionResource, error) {
	return m.pick(r.Group).ResourcesFor(r)
}

func (m routedMapper) RESTMapping(gk schema.GroupKind, versions ...string) (*meta.RESTMapping, error) {
	return m.pick(gk.Group).RESTMapping(gk, versions...)
}

func (m routedMapper) RESTMappings(gk schema.GroupKind, versions ...string) ([]*meta.RESTMapping, error) {
	return m.pick(gk.Group).RESTMappings(gk, versions...)
}

func (m routedMapper) ResourceSingularizer(resource string) (string, error) {
	return m.dest.ResourceSingularizer(resource)
}

func (m routedMapper) Reset() {
	m.dest.Reset()
	m.apps.Reset()
}
