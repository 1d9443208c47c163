package appapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
	"gantry.dev/gantry/internal/api"
	"gantry.dev/gantry/internal/gitops/policy"
	"gantry.dev/gantry/internal/identity/rbac"
	"gantry.dev/gantry/internal/jsonapi"
	"gantry.dev/gantry/internal/project"
)

// Prefix is where the API is mounted.
const Prefix = "/api/v1/applications"

// Engine answers what only the GitOps engine knows.
type Engine interface {
	// ResourceTree returns Argo CD's ApplicationTree JSON shape: {"nodes": [...]}.
	ResourceTree(ctx context.Context, app *gitopsv1alpha1.Application) (any, error)
	// ManagedResources returns {"items": [ResourceDiff...]}.
	ManagedResources(ctx context.Context, app *gitopsv1alpha1.Application) (any, error)
	// Manifests returns {"manifests": [...], "revision": ..., "sourceType": ...} at revision ("" = target).
	Manifests(ctx context.Context, app *gitopsv1alpha1.Application, revision string) (any, error)
	// Destination returns clients of the app's destination cluster, from which
	// the resource and events endpoints read the objects of its tree.
	Destination(ctx context.Context, app *gitopsv1alpha1.Application) (dynamic.Interface, meta.RESTMapper, error)
	// PodLogs opens the log of a pod of the app's destination cluster.
	PodLogs(ctx context.Context, app *gitopsv1alpha1.Application, namespace, pod string, opts *corev1.PodLogOptions) (io.ReadCloser, error)
}

// API serves /api/v1/applications on an api.Router (Register).
type API struct {
	Client client.Client
	// APIReader reads what the cache does not hold (the Application's own
	// Events) straight from the API server; nil answers those with 503.
	APIReader client.Reader
	Engine    Engine
	// DefaultNamespace is where apps are looked up when a request names no
	// appNamespace.
	DefaultNamespace string
	// Informers feeds StreamPath: each stream adds a handler to the shared
	// Application informer (gantry's manager cache, mgr.GetCache()). Nil
	// answers the stream with 501.
	Informers Informers
	// Heartbeat is how often streams send a keep-alive comment and check the
	// caller's credentials again (default 15s).
	Heartbeat time.Duration
	// RefreshTimeout bounds how long GET ?refresh= waits for the controller
	// to compare the app again (default 30s).
	RefreshTimeout time.Duration

	// streams counts open streams (tests check they end).
	streams atomic.Int32
}

// Register mounts the API: Argo CD's paths, each call authorized on the app
// ("applications <action> <project>/<name>").
func (a *API) Register(r *api.Router) {
	r.Handle("GET "+Prefix, a.list)
	r.Handle("POST "+Prefix, a.create)
	r.Handle("GET "+StreamPath, a.stream)
	one := Prefix + "/{name}"
	r.Handle("GET "+one, a.withApp(rbac.ActionGet, a.get))
	r.Handle("DELETE "+one, a.withApp(rbac.ActionDelete, a.delete))
	r.Handle("POST "+one+"/sync", a.withApp(rbac.ActionSync, a.sync))
	r.Handle("POST "+one+"/rollback", a.withApp(rbac.ActionSync, a.rollback))
	r.Handle("GET "+one+"/resource-tree", a.withApp(rbac.ActionGet, a.engine(func(ctx context.Context, _ *http.Request, app *gitopsv1alpha1.Application) (any, error) {
		return a.Engine.ResourceTree(ctx, app)
	})))
	r.Handle("GET "+one+"/managed-resources", a.withApp(rbac.ActionGet, a.engine(func(ctx context.Context, _ *http.Request, app *gitopsv1alpha1.Application) (any, error) {
		return a.Engine.ManagedResources(ctx, app)
	})))
	r.Handle("GET "+one+"/manifests", a.withApp(rbac.ActionGet, a.engine(func(ctx context.Context, r *http.Request, app *gitopsv1alpha1.Application) (any, error) {
		return a.Engine.Manifests(ctx, app, r.URL.Query().Get("revision"))
	})))
	r.Handle("GET "+one+"/resource", a.withApp(rbac.ActionGet, a.resource))
	r.Handle("GET "+one+"/events", a.withApp(rbac.ActionGet, a.events))
	r.Handle("GET "+one+"/logs", a.withApp(rbac.ActionGet, a.logs))
	r.Handle("GET "+one+"/resource/actions", a.withApp(rbac.ActionGet, a.listActions))
	// The action's own right (action/<group>/<kind>/<name>) is checked once
	// the body has named it.
	r.Handle("POST "+one+"/resource/actions", a.withApp("", a.runAction))
}

// appHandler serves a call on one app the caller may act on.
type appHandler func(w http.ResponseWriter, r *http.Request, c *api.Caller, app *gitopsv1alpha1.Application) error

// withApp reads the app named by the path (in ?appNamespace=, default
// DefaultNamespace) and checks action on it first ("" leaves the check to h).
// In a project's namespace the check comes before the read, so that a 404
// does not tell a caller without rights which apps exist there.
func (a *API) withApp(action string, h appHandler) api.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, c *api.Caller) error {
		ns := r.URL.Query().Get("appNamespace")
		if ns == "" {
			ns = a.DefaultNamespace
		}
		name := r.PathValue("name")
		if p, ok := project.FromNamespace(ns); ok && action != "" {
			if err := c.Can(rbac.ResourceApplications, action, api.InProject(p, name)); err != nil {
				return err
			}
		}
		app := &gitopsv1alpha1.Application{}
		if err := a.Client.Get(r.Context(), types.NamespacedName{Namespace: ns, Name: name}, app); err != nil {
			return err
		}
		if action != "" {
			if err := can(c, action, app); err != nil {
				return err
			}
		}
		return h(w, r, c, app)
	}
}

// can checks one action on one app.
func can(c *api.Caller, action string, app *gitopsv1alpha1.Application) error {
	return c.Can(rbac.ResourceApplications, action, api.InProject(Project(app), app.Name))
}

// Project is the project an app belongs to for authorization: the one whose
// namespace (p-<project>) holds it, whatever spec.project says, so that an app
// cannot claim another project's rights; elsewhere, spec.project.
func Project(app *gitopsv1alpha1.Application) string {
	if p, ok := project.FromNamespace(app.Namespace); ok {
		return p
	}
	return app.Spec.Project
}

func (a *API) get(w http.ResponseWriter, r *http.Request, _ *api.Caller, app *gitopsv1alpha1.Application) error {
	// Argo CD's refresh: ?refresh=normal|hard, answered once compared again.
	if mode := r.URL.Query().Get("refresh"); mode != "" {
		return a.refresh(r.Context(), w, app, mode)
	}
	jsonapi.Write(w, http.StatusOK, app)
	return nil
}

func (a *API) list(w http.ResponseWriter, r *http.Request, c *api.Caller) error {
	var list gitopsv1alpha1.ApplicationList
	opts := []client.ListOption{}
	if ns := r.URL.Query().Get("appNamespace"); ns != "" {
		opts = append(opts, client.InNamespace(ns))
	}
	if sel := r.URL.Query().Get("selector"); sel != "" {
		s, err := metav1.ParseToLabelSelector(sel)
		if err != nil {
			return jsonapi.Errorf(http.StatusBadRequest, "selector: %v", err)
		}
		ls, err := metav1.LabelSelectorAsSelector(s)
		if err != nil {
			return jsonapi.Errorf(http.StatusBadRequest, "selector: %v", err)
		}
		opts = append(opts, client.MatchingLabelsSelector{Selector: ls})
	}
	if err := a.Client.List(r.Context(), &list, opts...); err != nil {
		return err
	}
	p := r.URL.Query().Get("projects")
	// What the caller may not see is left out, not refused: as in Argo CD.
	visible := []gitopsv1alpha1.Application{}
	for _, app := range list.Items {
		if (p == "" || app.Spec.Project == p) && can(c, rbac.ActionGet, &app) == nil {
			visible = append(visible, app)
		}
	}
	jsonapi.Write(w, http.StatusOK, map[string]any{"metadata": map[string]any{"resourceVersion": list.ResourceVersion}, "items": visible})
	return nil
}

// create stores the app as sent, unknown fields included, so that the
// controller reports Argo CD fields gantry does not support instead of losing
// them here. The app lands in its project's namespace (project.Place).
func (a *API) create(w http.ResponseWriter, r *http.Request, c *api.Caller) error {
	obj := &unstructured.Unstructured{}
	if err := api.Decode(r, &obj.Object); err != nil {
		return err
	}
	// Argo CD clients send argoproj.io/v1alpha1; the kind is the same.
	obj.SetAPIVersion(gitopsv1alpha1.GroupVersion.String())
	obj.SetKind("Application")
	proj, _, _ := unstructured.NestedString(obj.Object, "spec", "project")
	ns := obj.GetNamespace()
	if ns == "" {
		ns = r.URL.Query().Get("appNamespace")
	}
	proj, ns, err := project.Place(proj, ns)
	if err != nil {
		return jsonapi.Errorf(http.StatusBadRequest, "application %q: %v", obj.GetName(), err)
	}
	obj.SetNamespace(ns)
	if err := unstructured.SetNestedField(obj.Object, proj, "spec", "project"); err != nil {
		return jsonapi.Errorf(http.StatusBadRequest, "spec: %v", err)
	}
	name := obj.GetName()
	if err := c.Can(rbac.ResourceApplications, rbac.ActionCreate, api.InProject(proj, name)); err != nil {
		return err
	}
	upsert, _ := strconv.ParseBool(r.URL.Query().Get("upsert"))
	err = a.Client.Create(r.Context(), obj)
	if apierrors.IsAlreadyExists(err) && upsert {
		obj, err = a.replace(r.Context(), c, obj, proj)
	}
	if err != nil {
		return err
	}
	jsonapi.Write(w, http.StatusOK, obj)
	return nil
}

// replace is create's upsert of an existing app: its spec becomes the one
// sent. That needs update on the app, and may not change its project: the
// app would leave its project's namespace, or claim another project's rights.
func (a *API) replace(ctx context.Context, c *api.Caller, obj *unstructured.Unstructured, proj string) (*unstructured.Unstructured, error) {
	cur := &gitopsv1alpha1.Application{}
	if err := a.Client.Get(ctx, client.ObjectKeyFromObject(obj), cur); err != nil {
		return nil, err
	}
	if err := can(c, rbac.ActionUpdate, cur); err != nil {
		return nil, err
	}
	if was := cur.Spec.Project; was != "" && was != proj {
		return nil, jsonapi.Errorf(http.StatusBadRequest, "application %s belongs to project %q, not %q: an upsert cannot move it to another project; delete it and create it in the other project",
			cur.Name, was, proj)
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(obj.GroupVersionKind())
	if err := a.Client.Get(ctx, client.ObjectKeyFromObject(obj), u); err != nil {
		return nil, err
	}
	u.Object["spec"] = obj.Object["spec"]
	if err := a.Client.Update(ctx, u); err != nil {
		return nil, err
	}
	return u, nil
}

// delete follows Argo CD: cascade (default true) deletes the resources, with
// propagationPolicy foreground (default) or background; cascade=false orphans them.
func (a *API) delete(w http.ResponseWriter, r *http.Request, _ *api.Caller, app *gitopsv1alpha1.Application) error {
	q := r.URL.Query()
	patch := client.MergeFrom(app.DeepCopy())
	if err := app.SetCascade(q.Get("cascade") != "false", q.Get("propagationPolicy")); err != nil {
		return jsonapi.Errorf(http.StatusBadRequest, "%v", err)
	}
	ctx := r.Context()
	if err := a.Client.Patch(ctx, app, patch); err != nil {
		return err
	}
	// Without cascade the app's children (the apps of an app of apps, which it
	// owns) stay too: orphaned, as Argo CD leaves them.
	var opts []client.DeleteOption
	if q.Get("cascade") == "false" {
		opts = append(opts, client.PropagationPolicy(metav1.DeletePropagationOrphan))
	}
	if err := a.Client.Delete(ctx, app, opts...); err != nil {
		return err
	}
	jsonapi.Write(w, http.StatusOK, map[string]any{})
	return nil
}

// syncRequest is Argo CD's ApplicationSyncRequest (the fields gantry honours).
type syncRequest struct {
	Revision    string                                 `json:"revision"`
	Revisions   []string                               `json:"revisions"`
	Prune       bool                                   `json:"prune"`
	DryRun      bool                                   `json:"dryRun"`
	Resources   []gitopsv1alpha1.SyncOperationResource `json:"resources"`
	SyncOptions *struct {
		Items []string `json:"items"`
	} `json:"syncOptions"`
	Retry *gitopsv1alpha1.RetryStrategy `json:"retryStrategy"`
	// Infos are recorded in the operation (operation.info, then
	// status.operationState.operation.info): `argocd app sync --info`, and
	// how `gantry app sync` tells its own operation's result from an earlier one.
	Infos []gitopsv1alpha1.Info `json:"infos"`
}

// sync starts a sync; the body is optional (sync to the target revision).
func (a *API) sync(w http.ResponseWriter, r *http.Request, c *api.Caller, app *gitopsv1alpha1.Application) error {
	var req syncRequest
	if err := api.Decode(r, &req); err != nil && !errors.Is(err, api.ErrEmptyBody) {
		return err
	}
	op := &gitopsv1alpha1.Operation{
		Sync: &gitopsv1alpha1.SyncOperation{Revision: req.Revision, Revisions: req.Revisions, Prune: req.Prune,
			DryRun: req.DryRun, Resources: req.Resources},
		InitiatedBy: gitopsv1alpha1.OperationInitiator{Username: c.User},
		Info:        req.Infos,
	}
	if req.SyncOptions != nil {
		op.Sync.SyncOptions = req.SyncOptions.Items
	}
	if req.Retry != nil {
		op.Retry = *req.Retry
	}
	return a.startOperation(r.Context(), w, app, op)
}

// startOperation sets app.operation, refusing while another one runs.
//
// The app was read from the cache, which may not hold an operation set a
// moment ago (two clicks, two CLIs): the patch carries the resourceVersion
// read, so a stale read fails with a conflict instead of overwriting the
// pending operation, and the check is made again on the API server's copy.
func (a *API) startOperation(ctx context.Context, w http.ResponseWriter, app *gitopsv1alpha1.Application, op *gitopsv1alpha1.Operation) error {
	for attempt := 0; ; attempt++ {
		if app.Operation != nil || app.Status.OperationState != nil && app.Status.OperationState.Phase == gitopsv1alpha1.OperationRunning {
			return jsonapi.Errorf(http.StatusConflict, "another operation is already in progress")
		}
		patch := client.MergeFromWithOptions(app.DeepCopy(), client.MergeFromWithOptimisticLock{})
		app.Operation = op
		err := a.Client.Patch(ctx, app, patch)
		if err == nil {
			jsonapi.Write(w, http.StatusOK, app)
			return nil
		}
		if !apierrors.IsConflict(err) || attempt == 2 {
			return err
		}
		reader := a.APIReader
		if reader == nil {
			reader = a.Client
		}
		fresh := &gitopsv1alpha1.Application{}
		if err := reader.Get(ctx, client.ObjectKeyFromObject(app), fresh); err != nil {
			return err
		}
		app = fresh
	}
}

// rollback is Argo CD's ApplicationRollbackRequest: sync to a history entry's
// source and revision; refused while automated sync is on (it would undo it).
func (a *API) rollback(w http.ResponseWriter, r *http.Request, c *api.Caller, app *gitopsv1alpha1.Application) error {
	var req struct {
		ID     int64 `json:"id"`
		Prune  bool  `json:"prune"`
		DryRun bool  `json:"dryRun"`
		// Infos as in a sync request (gantry's addition to Argo CD's rollback).
		Infos []gitopsv1alpha1.Info `json:"infos"`
	}
	if err := api.Decode(r, &req); err != nil {
		return err
	}
	if p := app.Spec.SyncPolicy; p != nil && p.Automated != nil && (p.Automated.Enabled == nil || *p.Automated.Enabled) {
		return jsonapi.Errorf(http.StatusBadRequest, "rollback cannot be initiated when auto-sync is enabled: disable spec.syncPolicy.automated first")
	}
	op, err := app.RollbackOperation(req.ID, c.User)
	if err != nil {
		return jsonapi.Errorf(http.StatusBadRequest, "%v", err)
	}
	op.Sync.Prune, op.Sync.DryRun, op.Info = req.Prune, req.DryRun, req.Infos
	return a.startOperation(r.Context(), w, app, op)
}

// engine answers from the GitOps engine.
func (a *API) engine(fn func(context.Context, *http.Request, *gitopsv1alpha1.Application) (any, error)) appHandler {
	return func(w http.ResponseWriter, r *http.Request, _ *api.Caller, app *gitopsv1alpha1.Application) error {
		if a.Engine == nil {
			return errNoEngine
		}
		v, err := fn(r.Context(), r, app)
		if err != nil {
			return engineError(err)
		}
		jsonapi.Write(w, http.StatusOK, v)
		return nil
	}
}

// engineError answers an error of the engine: 403 when the app's project
// refuses what was asked (the engine reads nothing for such an app), 500
// otherwise.
func engineError(err error) error {
	if policy.IsRefusal(err) {
		return jsonapi.Errorf(http.StatusForbidden, "%v", err)
	}
	return jsonapi.Errorf(http.StatusInternalServerError, "%v", err)
}

var errNoEngine = jsonapi.Errorf(http.StatusServiceUnavailable, "the GitOps engine is not running")
