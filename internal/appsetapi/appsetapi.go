// Package appsetapi serves /api/v1/applicationsets in the paths and JSON
// shapes of Argo CD's ApplicationSetService: list, get, create (with upsert)
// and delete, each call authenticated and authorized on RBAC resource
// "applicationsets", object "<project>/<name>", the project being the
// template's spec.project as in Argo CD. A set lives in its project's
// namespace, p-<project>, as its applications do: created there when the
// request names no namespace or Argo CD's, refused in any other; an upsert
// needs update on the set and cannot move it to another project.
package appsetapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/api"
	"gantry.dev/gantry/internal/identity/rbac"
	"gantry.dev/gantry/internal/jsonapi"
	"gantry.dev/gantry/internal/project"
)

// Prefix is where the API is mounted.
const Prefix = "/api/v1/applicationsets"

// API serves /api/v1/applicationsets on an api.Router (Register).
type API struct {
	Client client.Client
	// DefaultNamespace is where sets are looked up when a request names no
	// appsetNamespace.
	DefaultNamespace string
}

// Register mounts the API.
func (a *API) Register(r *api.Router) {
	r.Handle("GET "+Prefix, a.list)
	r.Handle("POST "+Prefix, a.create)
	r.Handle("GET "+Prefix+"/{name}", a.getOne)
	r.Handle("DELETE "+Prefix+"/{name}", a.delete)
}

// Project is the project an ApplicationSet belongs to for authorization: its
// template's spec.project, as in Argo CD; when that is empty, the project whose
// namespace holds it.
func Project(set *gitopsv1alpha1.ApplicationSet) string {
	if p := set.Spec.Template.Spec.Project; p != "" {
		return p
	}
	p, _ := project.FromNamespace(set.Namespace)
	return p
}

// namespace is the namespace a call names, ?appsetNamespace= or the default.
func (a *API) namespace(r *http.Request) string {
	if ns := r.URL.Query().Get("appsetNamespace"); ns != "" {
		return ns
	}
	return a.DefaultNamespace
}

func (a *API) getOne(w http.ResponseWriter, r *http.Request, c *api.Caller) error {
	set, err := a.get(r.Context(), a.namespace(r), r.PathValue("name"), c, rbac.ActionGet)
	if err != nil {
		return err
	}
	set.APIVersion, set.Kind = gitopsv1alpha1.GroupVersion.String(), "ApplicationSet"
	jsonapi.Write(w, http.StatusOK, set)
	return nil
}

func (a *API) delete(w http.ResponseWriter, r *http.Request, c *api.Caller) error {
	set, err := a.get(r.Context(), a.namespace(r), r.PathValue("name"), c, rbac.ActionDelete)
	if err != nil {
		return err
	}
	if err := a.Client.Delete(r.Context(), set); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	jsonapi.Write(w, http.StatusOK, map[string]any{})
	return nil
}

// can checks one action on one set of project proj.
func can(c *api.Caller, action, proj, name string) error {
	return c.Can(rbac.ResourceApplicationSets, action, api.InProject(proj, name))
}

// get reads a set the caller may act on. A set the caller may not see is
// answered 403, as Argo CD does (permission denied).
func (a *API) get(ctx context.Context, ns, name string, c *api.Caller, action string) (*gitopsv1alpha1.ApplicationSet, error) {
	set := &gitopsv1alpha1.ApplicationSet{}
	if err := a.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, set); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, jsonapi.Errorf(http.StatusNotFound, "applicationset %q not found in namespace %s", name, ns)
		}
		return nil, err
	}
	if err := can(c, action, Project(set), set.Name); err != nil {
		return nil, err
	}
	return set, nil
}

func (a *API) list(w http.ResponseWriter, r *http.Request, c *api.Caller) error {
	var list gitopsv1alpha1.ApplicationSetList
	opts := []client.ListOption{}
	if ns := r.URL.Query().Get("appsetNamespace"); ns != "" {
		opts = append(opts, client.InNamespace(ns))
	}
	if err := a.Client.List(r.Context(), &list, opts...); err != nil {
		return err
	}
	projects := r.URL.Query()["projects"]
	// What the caller may not see is left out, not refused: as in Argo CD.
	visible := []gitopsv1alpha1.ApplicationSet{}
	for i := range list.Items {
		set := &list.Items[i]
		p := Project(set)
		if len(projects) > 0 && !slices.Contains(projects, p) {
			continue
		}
		if can(c, rbac.ActionGet, p, set.Name) == nil {
			set.APIVersion, set.Kind = gitopsv1alpha1.GroupVersion.String(), "ApplicationSet"
			visible = append(visible, *set)
		}
	}
	jsonapi.Write(w, http.StatusOK, map[string]any{"metadata": map[string]any{"resourceVersion": list.ResourceVersion}, "items": visible})
	return nil
}

// create stores the set as sent, unknown fields included, so that the
// controller reports Argo CD fields gantry does not support instead of losing
// them here. It is checked first: the kind, the name, the template's project
// (it must exist, and the caller must be allowed to create sets in it), and
// the namespace, which is the project's (project.Place).
func (a *API) create(w http.ResponseWriter, r *http.Request, c *api.Caller) error {
	obj := &unstructured.Unstructured{}
	if err := api.Decode(r, &obj.Object); err != nil || obj.Object == nil {
		if errors.Is(err, api.ErrEmptyBody) {
			return jsonapi.Errorf(http.StatusBadRequest, "request body is empty: send an ApplicationSet (apiVersion, kind, metadata.name, spec.generators, spec.template)")
		}
		if code, _ := jsonapi.StatusOf(err); err != nil && code != http.StatusBadRequest {
			return err // too large
		}
		return jsonapi.Errorf(http.StatusBadRequest, "request body is not a JSON object: send an ApplicationSet")
	}
	if k := obj.GetKind(); k != "" && k != "ApplicationSet" {
		return jsonapi.Errorf(http.StatusBadRequest, "request body is a %q, not an ApplicationSet", k)
	}
	switch v := obj.GetAPIVersion(); v {
	case "", gitopsv1alpha1.GroupVersion.String(), "argoproj.io/v1alpha1":
	default:
		return jsonapi.Errorf(http.StatusBadRequest, "apiVersion %q: use %s (or argoproj.io/v1alpha1)", v, gitopsv1alpha1.GroupVersion)
	}
	// Argo CD clients send argoproj.io/v1alpha1; the kind is the same.
	obj.SetAPIVersion(gitopsv1alpha1.GroupVersion.String())
	obj.SetKind("ApplicationSet")
	set := &gitopsv1alpha1.ApplicationSet{}
	data, _ := json.Marshal(obj.Object)
	if err := json.Unmarshal(data, set); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return jsonapi.Errorf(http.StatusBadRequest, "field %s must be %s, not a JSON %s", te.Field, te.Type, te.Value)
		}
		return jsonapi.Errorf(http.StatusBadRequest, "not a valid ApplicationSet: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	name := obj.GetName()
	if name == "" {
		return jsonapi.Errorf(http.StatusBadRequest, "metadata.name is required")
	}
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return jsonapi.Errorf(http.StatusBadRequest, "metadata.name %q: %s", name, strings.Join(errs, "; "))
	}
	if len(set.Spec.Generators) == 0 {
		return jsonapi.Errorf(http.StatusBadRequest, "spec.generators is empty: an ApplicationSet needs at least one generator")
	}
	proj := set.Spec.Template.Spec.Project
	if proj == "" {
		return jsonapi.Errorf(http.StatusBadRequest, "spec.template.spec.project is required: the project of the generated applications, e.g. default")
	}
	if strings.Contains(proj, "{{") {
		return jsonapi.Errorf(http.StatusBadRequest, "spec.template.spec.project %q is templated: it must name one project, which the set's permissions are checked against", proj)
	}
	// The set lives in its project's namespace, as its applications do.
	ns := obj.GetNamespace()
	if ns == "" {
		ns = r.URL.Query().Get("appsetNamespace")
	}
	proj, ns, err := project.Place(proj, ns)
	if err != nil {
		return jsonapi.Errorf(http.StatusBadRequest, "applicationset %q (spec.template.spec.project): %v", name, err)
	}
	obj.SetNamespace(ns)
	if err := can(c, rbac.ActionCreate, proj, name); err != nil {
		return err
	}
	ctx := r.Context()
	if err := a.Client.Get(ctx, types.NamespacedName{Name: proj}, &platformv1alpha1.Project{}); err != nil {
		if apierrors.IsNotFound(err) {
			return jsonapi.Errorf(http.StatusBadRequest, "spec.template.spec.project: project %q does not exist", proj)
		}
		return err
	}
	upsert, _ := strconv.ParseBool(r.URL.Query().Get("upsert"))
	err = a.Client.Create(ctx, obj)
	switch {
	case apierrors.IsAlreadyExists(err) && !upsert:
		return jsonapi.Errorf(http.StatusConflict, "applicationset %s already exists in namespace %s: use upsert=true (gantry appset create --upsert) to replace its spec", name, ns)
	case apierrors.IsAlreadyExists(err):
		if obj, err = a.replace(ctx, c, obj, proj); err != nil {
			return err
		}
	case apierrors.IsInvalid(err) || apierrors.IsBadRequest(err):
		_, msg := jsonapi.StatusOf(err)
		return jsonapi.Errorf(http.StatusBadRequest, "%s", msg)
	case err != nil:
		return err
	}
	jsonapi.Write(w, http.StatusOK, obj)
	return nil
}

// replace is create's upsert of an existing set: its spec becomes the one
// sent, its labels are added to. That changes what the set generates, so the
// caller needs update on the set, and it may not move to another project.
func (a *API) replace(ctx context.Context, c *api.Caller, obj *unstructured.Unstructured, proj string) (*unstructured.Unstructured, error) {
	cur := &gitopsv1alpha1.ApplicationSet{}
	if err := a.Client.Get(ctx, client.ObjectKeyFromObject(obj), cur); err != nil {
		return nil, err
	}
	if err := can(c, rbac.ActionUpdate, Project(cur), cur.Name); err != nil {
		return nil, err
	}
	if was := Project(cur); was != proj {
		return nil, jsonapi.Errorf(http.StatusBadRequest, "applicationset %s belongs to project %q, not %q: an upsert cannot move it to another project; delete it and create it in the other project",
			cur.Name, was, proj)
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(obj.GroupVersionKind())
	if err := a.Client.Get(ctx, client.ObjectKeyFromObject(obj), u); err != nil {
		return nil, err
	}
	u.Object["spec"] = obj.Object["spec"]
	labels := u.GetLabels()
	for k, v := range obj.GetLabels() {
		if labels == nil {
			labels = map[string]string{}
		}
		labels[k] = v
	}
	u.SetLabels(labels)
	if err := a.Client.Update(ctx, u); err != nil {
		return nil, err
	}
	return u, nil
}
