package appapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
	"gantry.dev/gantry/internal/api"
	"gantry.dev/gantry/internal/gitops/tree"
	"gantry.dev/gantry/internal/jsonapi"
)

// secretMask replaces a Secret's values, as Argo CD's hideSecretData does.
const secretMask = "++++++++"

// inTree finds the node of the app's tree that ref names (uid checked when
// given); ok is false when there is none, so that the resource and events
// endpoints read nothing outside the app.
func (a *API) inTree(ctx context.Context, app *gitopsv1alpha1.Application, match func(tree.Node) bool) (tree.Node, bool, error) {
	v, err := a.Engine.ResourceTree(ctx, app)
	if err != nil {
		return tree.Node{}, false, err
	}
	var t tree.Tree
	b, err := json.Marshal(v)
	if err != nil {
		return tree.Node{}, false, err
	}
	if err := json.Unmarshal(b, &t); err != nil {
		return tree.Node{}, false, err
	}
	for _, n := range t.Nodes {
		if match(n) {
			return n, true, nil
		}
	}
	return tree.Node{}, false, nil
}

// located is one live object of an app's tree, and how to write it.
type located struct {
	obj    *unstructured.Unstructured
	client dynamic.ResourceInterface
	what   string // "Deployment.apps web in namespace shop", for messages
}

// locate reads the live object of the tree node that q names (namespace,
// resourceName, kind, group, version: Argo CD's query); nothing outside the
// app's tree is read.
func (a *API) locate(ctx context.Context, q url.Values, app *gitopsv1alpha1.Application) (*located, error) {
	if a.Engine == nil {
		return nil, errNoEngine
	}
	ns, name, kind, group, version := q.Get("namespace"), q.Get("resourceName"), q.Get("kind"), q.Get("group"), q.Get("version")
	if name == "" || kind == "" {
		return nil, jsonapi.Errorf(http.StatusBadRequest, "resourceName and kind are required")
	}
	what := fmt.Sprintf("%s %s", kind, name)
	if group != "" {
		what = fmt.Sprintf("%s.%s %s", kind, group, name)
	}
	if ns != "" {
		what += " in namespace " + ns
	}
	node, ok, err := a.inTree(ctx, app, func(n tree.Node) bool {
		return n.Group == group && n.Kind == kind && n.Namespace == ns && n.Name == name
	})
	if err != nil {
		return nil, engineError(err)
	}
	if !ok {
		return nil, jsonapi.Errorf(http.StatusNotFound, "%s not found as part of application %s", what, app.Name)
	}
	if version == "" {
		version = node.Version
	}
	dyn, mapper, err := a.Engine.Destination(ctx, app)
	if err != nil {
		return nil, engineError(err)
	}
	var versions []string
	if version != "" {
		versions = []string{version}
	}
	m, err := mapper.RESTMapping(schema.GroupKind{Group: group, Kind: kind}, versions...)
	if err != nil {
		return nil, jsonapi.Errorf(http.StatusNotFound, "%s: %v", what, err)
	}
	var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		ri = dyn.Resource(m.Resource).Namespace(ns)
	}
	obj, err := ri.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil, jsonapi.Errorf(http.StatusNotFound, "%s no longer exists in the cluster", what)
		}
		return nil, err
	}
	return &located{obj: obj, client: ri, what: what}, nil
}

// resource is Argo CD's GET /applications/{name}/resource: the live object,
// as a JSON string in {"manifest": ...}, of one node of the app's tree.
func (a *API) resource(w http.ResponseWriter, r *http.Request, _ *api.Caller, app *gitopsv1alpha1.Application) error {
	l, err := a.locate(r.Context(), r.URL.Query(), app)
	if err != nil {
		return err
	}
	obj := l.obj
	if obj.GroupVersionKind().Group == "" && obj.GetKind() == "Secret" {
		HideSecretData(obj)
	}
	b, err := json.Marshal(obj.Object)
	if err != nil {
		return err
	}
	jsonapi.Write(w, http.StatusOK, map[string]any{"manifest": string(b)})
	return nil
}

// HideSecretData masks a Secret's values (data and stringData, and the copy
// kubectl keeps in its last-applied annotation), keeping the keys.
func HideSecretData(obj *unstructured.Unstructured) {
	for _, field := range []string{"data", "stringData"} {
		m, ok := obj.Object[field].(map[string]any)
		if !ok {
			continue
		}
		for k := range m {
			m[k] = secretMask
		}
	}
	const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"
	if ann := obj.GetAnnotations(); ann[lastApplied] != "" {
		ann[lastApplied] = secretMask
		obj.SetAnnotations(ann)
	}
}

// events is Argo CD's GET /applications/{name}/events: the core/v1 Events of
// one resource of the app's tree (from the destination cluster), or of the
// Application itself when no resource is named.
func (a *API) events(w http.ResponseWriter, r *http.Request, _ *api.Caller, app *gitopsv1alpha1.Application) error {
	ctx, q := r.Context(), r.URL.Query()
	ns, name, uid := q.Get("resourceNamespace"), q.Get("resourceName"), q.Get("resourceUID")
	if name == "" && uid == "" {
		reader := a.APIReader
		if reader == nil {
			return jsonapi.Errorf(http.StatusServiceUnavailable, "no reader for the application's events")
		}
		var list corev1.EventList
		sel := fields.SelectorFromSet(fields.Set{"involvedObject.name": app.Name, "involvedObject.namespace": app.Namespace,
			"involvedObject.uid": string(app.UID)})
		if err := reader.List(ctx, &list, client.InNamespace(app.Namespace), client.MatchingFieldsSelector{Selector: sel}); err != nil {
			return err
		}
		items := list.Items
		if items == nil {
			items = []corev1.Event{}
		}
		jsonapi.Write(w, http.StatusOK, map[string]any{"items": items})
		return nil
	}
	if a.Engine == nil {
		return errNoEngine
	}
	node, ok, err := a.inTree(ctx, app, func(n tree.Node) bool {
		return n.Namespace == ns && (name == "" || n.Name == name) && (uid == "" || n.UID == uid)
	})
	if err != nil {
		return engineError(err)
	}
	if !ok {
		return jsonapi.Errorf(http.StatusNotFound, "%s not found as part of application %s", name+uid, app.Name)
	}
	dyn, _, err := a.Engine.Destination(ctx, app)
	if err != nil {
		return engineError(err)
	}
	set := fields.Set{"involvedObject.name": node.Name}
	if node.Namespace != "" {
		set["involvedObject.namespace"] = node.Namespace
	}
	if node.UID != "" {
		set["involvedObject.uid"] = node.UID
	}
	list, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "events"}).Namespace(node.Namespace).
		List(ctx, metav1.ListOptions{FieldSelector: fields.SelectorFromSet(set).String()})
	if err != nil {
		return err
	}
	items := make([]map[string]any, 0, len(list.Items))
	for _, e := range list.Items {
		items = append(items, e.Object)
	}
	jsonapi.Write(w, http.StatusOK, map[string]any{"items": items})
	return nil
}
