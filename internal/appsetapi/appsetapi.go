// Package appsetapi serves /api/v1/applicationsets in the paths and JSON
// shapes of Argo CD's ApplicationSetService: list, get, create (with upsert)
// and delete, each call authenticated and authorized on RBAC resource
// "applicationsets", object "<project>/<name>", the project being the
// template's spec.project as in Argo CD.
package appsetapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/identity/authn"
	"gantry.dev/gantry/internal/identity/rbac"
	"gantry.dev/gantry/internal/jsonapi"
	"gantry.dev/gantry/internal/project"
)

// Prefix is where the API is mounted.
const Prefix = "/api/v1/applicationsets"

// Authenticator checks a request's credentials (authn.Authenticator).
type Authenticator interface {
	Authenticate(r *http.Request) (authn.Identity, error)
}

// Authorize says whether subjects may act on an object; an error means 403
// (rbac.Enforcer.Authorize).
type Authorize func(subjects []string, resource, action, object string) error

// API is the http.Handler of /api/v1/applicationsets.
type API struct {
	Client    client.Client
	Auth      Authenticator
	Authorize Authorize
	// DefaultNamespace is where sets live when a request names no appsetNamespace.
	DefaultNamespace string
}

// maxBody bounds request bodies: an ApplicationSet is a few KiB.
const maxBody = 1 << 20

// Register mounts the API on mux.
func (a *API) Register(mux interface{ Handle(string, http.Handler) }) {
	mux.Handle(Prefix, a)
	mux.Handle(Prefix+"/", a)
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

func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id, err := a.Auth.Authenticate(r)
	if err != nil {
		jsonapi.Error(w, http.StatusUnauthorized, "Unauthorized: "+err.Error())
		return
	}
	rest := strings.Trim(strings.TrimPrefix(r.URL.Path, Prefix), "/")
	ns := r.URL.Query().Get("appsetNamespace")
	if ns == "" {
		ns = a.DefaultNamespace
	}
	ctx := r.Context()
	switch {
	case rest == "" && r.Method == http.MethodGet:
		a.list(w, r, id)
	case rest == "" && r.Method == http.MethodPost:
		err = a.create(ctx, w, r, ns, id)
	case rest != "" && !strings.Contains(rest, "/") && r.Method == http.MethodGet:
		var set *gitopsv1alpha1.ApplicationSet
		if set, err = a.get(ctx, ns, rest, id, "get"); err == nil {
			set.APIVersion, set.Kind = gitopsv1alpha1.GroupVersion.String(), "ApplicationSet"
			jsonapi.Write(w, http.StatusOK, set)
		}
	case rest != "" && !strings.Contains(rest, "/") && r.Method == http.MethodDelete:
		var set *gitopsv1alpha1.ApplicationSet
		if set, err = a.get(ctx, ns, rest, id, "delete"); err == nil {
			if err = a.Client.Delete(ctx, set); err == nil || apierrors.IsNotFound(err) {
				err = nil
				jsonapi.Write(w, http.StatusOK, map[string]any{})
			}
		}
	case !strings.Contains(rest, "/"):
		err = jsonapi.Errorf(http.StatusMethodNotAllowed, "%s %s is not supported", r.Method, r.URL.Path)
	default:
		err = jsonapi.Errorf(http.StatusNotFound, "no such API path: %s", r.URL.Path)
	}
	if err != nil {
		jsonapi.WriteError(w, err)
	}
}

// allowed checks one action on one set: the access key's scope, then RBAC.
func (a *API) allowed(id authn.Identity, action, proj, name string) error {
	if !id.InScope(proj, "") {
		return jsonapi.Errorf(http.StatusForbidden, "this access key is scoped to %s/%s", id.Scope.Project, id.Scope.VirtualCluster)
	}
	if err := a.Authorize(id.Subjects(), rbac.ResourceApplicationSets, action, proj+"/"+name); err != nil {
		return jsonapi.Errorf(http.StatusForbidden, "%s", err.Error())
	}
	return nil
}

// get reads a set the caller may act on. A set the caller may not see is
// answered 403, as Argo CD does (permission denied).
func (a *API) get(ctx context.Context, ns, name string, id authn.Identity, action string) (*gitopsv1alpha1.ApplicationSet, error) {
	set := &gitopsv1alpha1.ApplicationSet{}
	if err := a.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, set); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, jsonapi.Errorf(http.StatusNotFound, "applicationset %q not found in namespace %s", name, ns)
		}
		return nil, err
	}
	if err := a.allowed(id, action, Project(set), set.Name); err != nil {
		return nil, err
	}
	return set, nil
}

func (a *API) list(w http.ResponseWriter, r *http.Request, id authn.Identity) {
	var list gitopsv1alpha1.ApplicationSetList
	opts := []client.ListOption{}
	if ns := r.URL.Query().Get("appsetNamespace"); ns != "" {
		opts = append(opts, client.InNamespace(ns))
	}
	if err := a.Client.List(r.Context(), &list, opts...); err != nil {
		jsonapi.WriteError(w, err)
		return
	}
	projects := r.URL.Query()["projects"]
	// What the caller may not see is left out, not refused: as in Argo CD.
	visible := []gitopsv1alpha1.ApplicationSet{}
	for i := range list.Items {
		set := &list.Items[i]
		p := Project(set)
		if len(projects) > 0 && !contains(projects, p) {
			continue
		}
		if a.allowed(id, "get", p, set.Name) == nil {
			set.APIVersion, set.Kind = gitopsv1alpha1.GroupVersion.String(), "ApplicationSet"
			visible = append(visible, *set)
		}
	}
	jsonapi.Write(w, http.StatusOK, map[string]any{"metadata": map[string]any{"resourceVersion": list.ResourceVersion}, "items": visible})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// create stores the set as sent, unknown fields included, so that the
// controller reports Argo CD fields gantry does not support instead of losing
// them here. It is checked first: the kind, the name, the template's project
// (it must exist, and the caller must be allowed to create sets in it).
func (a *API) create(ctx context.Context, w http.ResponseWriter, r *http.Request, ns string, id authn.Identity) error {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		return jsonapi.Errorf(http.StatusRequestEntityTooLarge, "request body is larger than %d KiB", maxBody>>10)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return jsonapi.Errorf(http.StatusBadRequest, "request body is empty: send an ApplicationSet (apiVersion, kind, metadata.name, spec.generators, spec.template)")
	}
	obj := &unstructured.Unstructured{}
	if err := json.Unmarshal(data, &obj.Object); err != nil || obj.Object == nil {
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
	if obj.GetNamespace() == "" {
		obj.SetNamespace(ns)
	}
	set := &gitopsv1alpha1.ApplicationSet{}
	if err := json.Unmarshal(data, set); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return jsonapi.Errorf(http.StatusBadRequest, "field %s must be %s, not a JSON %s", te.Field, te.Type, te.Value)
		}
		return jsonapi.Errorf(http.StatusBadRequest, "not a valid ApplicationSet: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	set.Namespace = obj.GetNamespace()
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
	if p, ok := project.FromNamespace(set.Namespace); ok && p != proj {
		return jsonapi.Errorf(http.StatusBadRequest, "spec.template.spec.project is %q but namespace %s belongs to project %q: create the set in %s", proj, set.Namespace, p, project.Namespace(proj))
	}
	if err := a.allowed(id, "create", proj, name); err != nil {
		return err
	}
	if err := a.Client.Get(ctx, types.NamespacedName{Name: proj}, &platformv1alpha1.Project{}); err != nil {
		if apierrors.IsNotFound(err) {
			return jsonapi.Errorf(http.StatusBadRequest, "spec.template.spec.project: project %q does not exist", proj)
		}
		return err
	}
	upsert, _ := strconv.ParseBool(r.URL.Query().Get("upsert"))
	err = a.Client.Create(ctx, obj)
	if apierrors.IsAlreadyExists(err) {
		if !upsert {
			return jsonapi.Errorf(http.StatusConflict, "applicationset %s already exists in namespace %s: use upsert=true (gantry appset create --upsert) to replace its spec", name, obj.GetNamespace())
		}
		cur := &gitopsv1alpha1.ApplicationSet{}
		if err := a.Client.Get(ctx, client.ObjectKeyFromObject(obj), cur); err != nil {
			return err
		}
		// Replacing a set changes what it generates: the caller needs update on
		// the set as it is and as it will be.
		if err := a.allowed(id, "update", Project(cur), name); err != nil {
			return err
		}
		if err := a.allowed(id, "update", proj, name); err != nil {
			return err
		}
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(obj.GroupVersionKind())
		if err = a.Client.Get(ctx, client.ObjectKeyFromObject(obj), u); err != nil {
			return err
		}
		u.Object["spec"] = obj.Object["spec"]
		for k, v := range obj.GetLabels() {
			labels := u.GetLabels()
			if labels == nil {
				labels = map[string]string{}
			}
			labels[k] = v
			u.SetLabels(labels)
		}
		if err = a.Client.Update(ctx, u); err != nil {
			return err
		}
		obj = u
	} else if err != nil {
		if apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) {
			return jsonapi.Errorf(http.StatusBadRequest, "%s", apiMessage(err))
		}
		return err
	}
	jsonapi.Write(w, http.StatusOK, obj)
	return nil
}

func apiMessage(err error) string {
	var se apierrors.APIStatus
	if errors.As(err, &se) {
		return se.Status().Message
	}
	return fmt.Sprint(err)
}
