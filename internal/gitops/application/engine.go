package application

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"

	corev1 "k8s.io/api/core/v1"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
	"gantry.dev/gantry/internal/gitops/diff"
	"gantry.dev/gantry/internal/gitops/health"
	"gantry.dev/gantry/internal/gitops/livestate"
	"gantry.dev/gantry/internal/gitops/source"
	"gantry.dev/gantry/internal/gitops/tree"
	"gantry.dev/gantry/internal/gitops/webhook"
)

// The engine's answers for the REST API (appapi.Engine), shaped as Argo CD's.
// The engine knows nothing of HTTP: the API asks, the engine answers in its
// own terms and in client-go's.

// clusterOf returns the app's destination as its project allows it: the API
// reads nothing through an app that the engine would refuse to deploy.
func (r *Reconciler) clusterOf(ctx context.Context, app *gitopsv1alpha1.Application) (*scope, *livestate.Cluster, error) {
	sc, err := r.scopeOf(ctx, app)
	if err != nil {
		return nil, nil, err
	}
	cl, err := r.liveCluster(client.ObjectKeyFromObject(app), sc.dest)
	return sc, cl, err
}

// Destination returns the clients of the app's destination cluster; its
// children (gantry's Applications and ApplicationSets) are read on the host.
func (r *Reconciler) Destination(ctx context.Context, app *gitopsv1alpha1.Application) (dynamic.Interface, meta.RESTMapper, error) {
	_, cl, err := r.clusterOf(ctx, app)
	if err != nil {
		return nil, nil, err
	}
	apps, _, err := r.appsCluster(ctx, false)
	if err != nil {
		return nil, nil, err
	}
	dyn, mapper := routed(cl, apps)
	return dyn, mapper, nil
}

// PodLogs opens the log of a pod in the app's destination cluster; the API
// has checked that the pod is part of the app's tree.
func (r *Reconciler) PodLogs(ctx context.Context, app *gitopsv1alpha1.Application, namespace, pod string, opts *corev1.PodLogOptions) (io.ReadCloser, error) {
	_, cl, err := r.clusterOf(ctx, app)
	if err != nil {
		return nil, err
	}
	kc, err := kubernetes.NewForConfig(cl.Config)
	if err != nil {
		return nil, err
	}
	return kc.CoreV1().Pods(namespace).GetLogs(pod, opts).Stream(ctx)
}

// ResourceDiff is Argo CD's ResourceDiff, plus the unified diff the CLI prints.
type ResourceDiff struct {
	Group               string `json:"group,omitempty"`
	Kind                string `json:"kind"`
	Namespace           string `json:"namespace,omitempty"`
	Name                string `json:"name"`
	TargetState         string `json:"targetState,omitempty"`
	LiveState           string `json:"liveState,omitempty"`
	NormalizedLiveState string `json:"normalizedLiveState,omitempty"`
	PredictedLiveState  string `json:"predictedLiveState,omitempty"`
	Diff                string `json:"diff,omitempty"`
	Hook                bool   `json:"hook,omitempty"`
	Modified            bool   `json:"modified"`
}

// ManagedResources compares the app's target state with the cluster, resource by resource.
func (r *Reconciler) ManagedResources(ctx context.Context, app *gitopsv1alpha1.Application) (any, error) {
	sc, cl, err := r.clusterOf(ctx, app)
	if err != nil {
		return nil, err
	}
	cmp, err := r.compareApp(ctx, app, sc, cl, sources(&app.Spec), nil)
	if err != nil {
		return nil, err
	}
	rules := ignoreRules(app.Spec.IgnoreDifferences)
	desired := map[resourceKey]*unstructured.Unstructured{}
	keys := map[resourceKey]bool{}
	for _, d := range cmp.desired {
		desired[keyOf(d)] = d
		keys[keyOf(d)] = true
	}
	for k := range cmp.live {
		keys[k] = true
	}
	items := []ResourceDiff{}
	for k := range keys {
		d, l := desired[k], cmp.live[k]
		if d != nil && isHook(d) || d == nil && isHook(l) {
			continue
		}
		res, err := diff.Diff(d, l, diff.OptionsFor(diff.Options{FieldManager: FieldManager}, rules, firstNonNil(d, l)))
		if err != nil {
			return nil, err
		}
		// The states are shown to anyone who may read the app: a Secret's
		// values are masked there as in the diff.
		md, ml := diff.MaskSecrets(d, l)
		items = append(items, ResourceDiff{Group: k.Group, Kind: k.Kind, Namespace: k.Namespace, Name: k.Name,
			TargetState: jsonString(md), LiveState: jsonString(ml),
			NormalizedLiveState: string(res.NormalizedLive), PredictedLiveState: string(res.PredictedLive),
			Diff: res.Unified, Modified: res.Modified})
	}
	sort.Slice(items, func(i, j int) bool {
		a, b := items[i], items[j]
		return a.Group+a.Kind+a.Namespace+a.Name < b.Group+b.Kind+b.Namespace+b.Name
	})
	return map[string]any{"items": items}, nil
}

// Manifests renders the app's sources at revision ("" = targetRevision).
func (r *Reconciler) Manifests(ctx context.Context, app *gitopsv1alpha1.Application, revision string) (any, error) {
	var revs []string
	if revision != "" {
		revs = []string{revision}
	}
	sc, err := r.scopeOf(ctx, app)
	if err != nil {
		return nil, err
	}
	objs, resolved, types, err := r.desiredState(ctx, app, sc, sources(&app.Spec), revs)
	if err != nil {
		return nil, err
	}
	manifests := make([]string, 0, len(objs))
	for _, o := range objs {
		masked, _ := diff.MaskSecrets(o, nil) // a Secret in Git is not for every app reader
		manifests = append(manifests, jsonString(masked))
	}
	out := map[string]any{"manifests": manifests, "revision": resolved[0], "sourceType": types[0]}
	if len(resolved) > 1 {
		out["revisions"], out["sourceTypes"] = resolved, types
	}
	return out, nil
}

func jsonString(o *unstructured.Unstructured) string {
	if o == nil {
		return ""
	}
	b, err := json.Marshal(o.Object)
	if err != nil {
		return fmt.Sprintf("%q", err.Error())
	}
	return string(b)
}

// OnPush refreshes the apps that track the pushed repository and branch (or its
// default branch through HEAD), as Argo CD's webhook handler does; other apps
// are left alone.
func (r *Reconciler) OnPush(ctx context.Context, push *webhook.Push) {
	apps, repos, err := r.pushed(ctx, push)
	if err != nil {
		r.Log.Error(err, "webhook: listing applications")
		return
	}
	for _, u := range repos {
		r.Sources.Invalidate(u)
	}
	for _, app := range apps {
		r.Enqueue(app)
	}
	r.Log.Info("webhook push", "repo", push.RepoURLs, "ref", push.Ref, "after", push.After, "apps", len(apps))
}

// RequestRefresh is OnPush for a replica of gantry that does not run the
// controller (leader election): it asks the leader through the API, with
// Argo CD's refresh annotation (normal: Git is asked again) on each app the
// push concerns.
func (r *Reconciler) RequestRefresh(ctx context.Context, push *webhook.Push) {
	apps, _, err := r.pushed(ctx, push)
	if err != nil {
		r.Log.Error(err, "webhook: listing applications")
		return
	}
	patch := []byte(`{"metadata":{"annotations":{"` + RefreshAnnotation + `":"normal"}}}`)
	for _, key := range apps {
		app := &gitopsv1alpha1.Application{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}
		if err := r.Client.Patch(ctx, app, client.RawPatch(types.MergePatchType, patch)); client.IgnoreNotFound(err) != nil {
			r.Log.Error(err, "webhook: asking for a refresh", "app", key)
		}
	}
	r.Log.Info("webhook push, refresh asked of the leader", "repo", push.RepoURLs, "ref", push.Ref, "after", push.After, "apps", len(apps))
}

// pushed lists the apps a push concerns and their repositories.
func (r *Reconciler) pushed(ctx context.Context, push *webhook.Push) ([]types.NamespacedName, []string, error) {
	var list gitopsv1alpha1.ApplicationList
	if err := r.Client.List(ctx, &list); err != nil {
		return nil, nil, err
	}
	seen := map[string]bool{}
	var apps []types.NamespacedName
	var repos []string
	for i := range list.Items {
		app := &list.Items[i]
		for _, s := range sources(&app.Spec) {
			if s.Chart != "" || !push.Matches(s.RepoURL, s.TargetRevision) {
				continue
			}
			if u := source.NormalizeURL(s.RepoURL); !seen[u] {
				seen[u] = true
				repos = append(repos, s.RepoURL)
			}
			apps = append(apps, types.NamespacedName{Namespace: app.Namespace, Name: app.Name})
			break
		}
	}
	return apps, repos, nil
}

// childKinds are the kinds whose objects hang below managed ones in the tree
// (by ownerReferences, or Endpoints by name); they are listed when asked for, not
// watched, so the cache holds only what apps manage.
var childKinds = []schema.GroupVersionResource{
	{Group: "apps", Version: "v1", Resource: "replicasets"},
	{Group: "apps", Version: "v1", Resource: "controllerrevisions"},
	{Version: "v1", Resource: "pods"},
	{Version: "v1", Resource: "endpoints"},
	{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"},
	{Group: "batch", Version: "v1", Resource: "jobs"},
}

// ResourceTree returns the app's managed resources and their children, as Argo
// CD's /resource-tree: {"nodes": [...]}.
func (r *Reconciler) ResourceTree(ctx context.Context, app *gitopsv1alpha1.Application) (any, error) {
	sc, cl, err := r.clusterOf(ctx, app)
	if err != nil {
		return nil, err
	}
	var managed []*unstructured.Unstructured
	for _, o := range cl.Managed(app.Namespace + "/" + app.Name) {
		if !isChild(o) && sc.policy.Reaches(sc.target, o) == nil {
			managed = append(managed, o)
		}
	}
	if hasChildren(app) {
		apps, host, err := r.appsCluster(ctx, true)
		if err != nil {
			return nil, err
		}
		managed = append(managed, liveChildren(app, sc, apps, host)...)
	}
	namespaces := map[string]bool{}
	for _, m := range managed {
		if m.GetNamespace() != "" {
			namespaces[m.GetNamespace()] = true
		}
	}
	var children []*unstructured.Unstructured
	for ns := range namespaces {
		for _, gvr := range childKinds {
			list, err := cl.Dynamic.Resource(gvr).Namespace(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				continue // a kind the cluster does not serve, or no access: fewer children
			}
			for i := range list.Items {
				children = append(children, &list.Items[i])
			}
		}
	}
	nodes := tree.Build(managed, children, func(o *unstructured.Unstructured) *health.Status {
		h, _ := health.Assess(o)
		return h
	})
	if nodes == nil {
		nodes = []tree.Node{}
	}
	return map[string]any{"nodes": nodes}, nil
}
