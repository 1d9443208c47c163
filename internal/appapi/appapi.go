package appapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
	"gantry.dev/gantry/internal/identity/authn"
	"gantry.dev/gantry/internal/jsonapi"
	"gantry.dev/gantry/internal/project"
)

// Prefix is where the API is mounted.
const Prefix = "/api/v1/applications"

// Authenticator checks a request's credentials (authn.Authenticator).
type Authenticator interface {
	Authenticate(r *http.Request) (authn.Identity, error)
}

// Authorize says whether subjects may act on an object; an error means 403
// (rbac.Enforcer.Authorize).
type Authorize func(subjects []string, resource, action, object string) error

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
	Destination(ctx context.Context, app *gitopsv1alpha1.Application) (*Destination, error)
}

// API is the http.Handler of /api/v1/applications.
type API struct {
	Client client.Client
	// APIReader reads what the cache does not hold (the Application's own
	// Events) straight from the API server; nil answers those with 503.
	APIReader client.Reader
	Auth      Authenticator
	Authorize Authorize
	Engine    Engine
	// DefaultNamespace is where apps live when a request names no appNamespace.
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

// maxBody bounds request bodies: an Application is a few KiB.
const maxBody = 1 << 20

func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id, err := a.Auth.Authenticate(r)
	if err != nil {
		jsonapi.Error(w, http.StatusUnauthorized, "Unauthorized: "+err.Error())
		return
	}
	user := id.User
	if r.URL.Path == StreamPath {
		a.stream(w, r, id)
		return
	}
	// can checks one action on one app; a refusal is answered 403 here.
	can := func(action string, app *gitopsv1alpha1.Application) bool {
		if !id.InScope(Project(app), "") {
			jsonapi.Error(w, http.StatusForbidden, "this access key is scoped to "+id.Scope.Project+"/"+id.Scope.VirtualCluster)
			return false
		}
		if err := a.Authorize(id.Subjects(), "applications", action, Project(app)+"/"+app.Name); err != nil {
			jsonapi.Error(w, http.StatusForbidden, err.Error())
			return false
		}
		return true
	}
	rest := strings.Trim(strings.TrimPrefix(r.URL.Path, Prefix), "/")
	parts := strings.Split(rest, "/")
	if rest == "" {
		parts = nil
	}
	ns := r.URL.Query().Get("appNamespace")
	if ns == "" {
		ns = a.DefaultNamespace
	}
	ctx := r.Context()
	switch {
	case len(parts) == 0 && r.Method == http.MethodGet:
		a.list(w, r, id)
	case len(parts) == 0 && r.Method == http.MethodPost:
		a.create(ctx, w, r, ns, id)
	case len(parts) == 1 && r.Method == http.MethodGet:
		a.withApp(w, r, ns, parts[0], func(app *gitopsv1alpha1.Application) {
			if !can("get", app) {
				return
			}
			// Argo CD's refresh: ?refresh=normal|hard, answered once compared again.
			if mode := r.URL.Query().Get("refresh"); mode != "" {
				a.refresh(ctx, w, app, mode)
				return
			}
			jsonapi.Write(w, http.StatusOK, app)
		})
	case len(parts) == 1 && r.Method == http.MethodDelete:
		a.withApp(w, r, ns, parts[0], func(app *gitopsv1alpha1.Application) {
			if can("delete", app) {
				a.delete(ctx, w, r, ns, parts[0])
			}
		})
	case len(parts) == 2 && r.Method == http.MethodPost && parts[1] == "sync":
		a.withApp(w, r, ns, parts[0], func(app *gitopsv1alpha1.Application) {
			if can("sync", app) {
				a.sync(ctx, w, r, app, user)
			}
		})
	case len(parts) == 2 && r.Method == http.MethodPost && parts[1] == "rollback":
		a.withApp(w, r, ns, parts[0], func(app *gitopsv1alpha1.Application) {
			if can("sync", app) {
				a.rollback(ctx, w, r, app, user)
			}
		})
	case len(parts) == 2 && r.Method == http.MethodGet && parts[1] == "resource-tree":
		a.withApp(w, r, ns, parts[0], func(app *gitopsv1alpha1.Application) {
			if can("get", app) {
				a.engine(w, func() (any, error) { return a.Engine.ResourceTree(ctx, app) })
			}
		})
	case len(parts) == 2 && r.Method == http.MethodGet && parts[1] == "managed-resources":
		a.withApp(w, r, ns, parts[0], func(app *gitopsv1alpha1.Application) {
			if can("get", app) {
				a.engine(w, func() (any, error) { return a.Engine.ManagedResources(ctx, app) })
			}
		})
	case len(parts) == 2 && r.Method == http.MethodGet && parts[1] == "manifests":
		a.withApp(w, r, ns, parts[0], func(app *gitopsv1alpha1.Application) {
			if can("get", app) {
				a.engine(w, func() (any, error) { return a.Engine.Manifests(ctx, app, r.URL.Query().Get("revision")) })
			}
		})
	case len(parts) == 2 && r.Method == http.MethodGet && parts[1] == "resource":
		a.withApp(w, r, ns, parts[0], func(app *gitopsv1alpha1.Application) {
			if can("get", app) {
				a.resource(ctx, w, r.URL.Query(), app)
			}
		})
	case len(parts) == 2 && r.Method == http.MethodGet && parts[1] == "events":
		a.withApp(w, r, ns, parts[0], func(app *gitopsv1alpha1.Application) {
			if can("get", app) {
				a.events(ctx, w, r.URL.Query(), app)
			}
		})
	case actionPath(parts) && r.Method == http.MethodGet:
		a.withApp(w, r, ns, parts[0], func(app *gitopsv1alpha1.Application) {
			if can("get", app) {
				a.listActions(ctx, w, r.URL.Query(), app)
			}
		})
	case actionPath(parts) && r.Method == http.MethodPost:
		a.withApp(w, r, ns, parts[0], func(app *gitopsv1alpha1.Application) {
			a.runAction(ctx, w, r, app, func(action string) bool { return can(action, app) })
		})
	case len(parts) <= 2 || actionPath(parts):
		jsonapi.Error(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s %s is not supported", r.Method, r.URL.Path))
	default:
		jsonapi.Error(w, http.StatusNotFound, "no such API path: "+r.URL.Path)
	}
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

func (a *API) list(w http.ResponseWriter, r *http.Request, id authn.Identity) {
	var list gitopsv1alpha1.ApplicationList
	opts := []client.ListOption{}
	if ns := r.URL.Query().Get("appNamespace"); ns != "" {
		opts = append(opts, client.InNamespace(ns))
	}
	if sel := r.URL.Query().Get("selector"); sel != "" {
		s, err := metav1.ParseToLabelSelector(sel)
		if err != nil {
			jsonapi.Error(w, http.StatusBadRequest, "selector: "+err.Error())
			return
		}
		ls, err := metav1.LabelSelectorAsSelector(s)
		if err != nil {
			jsonapi.Error(w, http.StatusBadRequest, "selector: "+err.Error())
			return
		}
		opts = append(opts, client.MatchingLabelsSelector{Selector: ls})
	}
	if err := a.Client.List(r.Context(), &list, opts...); err != nil {
		jsonapi.Error(w, http.StatusInternalServerError, err.Error())
		return
	}
	if p := r.URL.Query().Get("projects"); p != "" {
		items := list.Items[:0]
		for _, app := range list.Items {
			if app.Spec.Project == p {
				items = append(items, app)
			}
		}
		list.Items = items
	}
	// What the caller may not see is left out, not refused: as in Argo CD.
	visible := []gitopsv1alpha1.Application{}
	for _, app := range list.Items {
		if id.InScope(Project(&app), "") && a.Authorize(id.Subjects(), "applications", "get", Project(&app)+"/"+app.Name) == nil {
			visible = append(visible, app)
		}
	}
	list.Items = visible
	jsonapi.Write(w, http.StatusOK, map[string]any{"metadata": map[string]any{"resourceVersion": list.ResourceVersion}, "items": list.Items})
}

// create stores the app as sent, unknown fields included, so that the controller
// reports Argo CD fields gantry does not support instead of losing them here.
func (a *API) create(ctx context.Context, w http.ResponseWriter, r *http.Request, ns string, id authn.Identity) {
	obj := &unstructured.Unstructured{}
	if err := decode(r, &obj.Object); err != nil {
		jsonapi.Error(w, http.StatusBadRequest, err.Error())
		return
	}
	// Argo CD clients send argoproj.io/v1alpha1; the kind is the same.
	obj.SetAPIVersion(gitopsv1alpha1.GroupVersion.String())
	obj.SetKind("Application")
	if obj.GetNamespace() == "" {
		obj.SetNamespace(ns)
	}
	probe := &gitopsv1alpha1.Application{}
	probe.Namespace, probe.Name = obj.GetNamespace(), obj.GetName()
	probe.Spec.Project, _, _ = unstructured.NestedString(obj.Object, "spec", "project")
	if !id.InScope(Project(probe), "") {
		jsonapi.Error(w, http.StatusForbidden, "this access key is scoped to "+id.Scope.Project+"/"+id.Scope.VirtualCluster)
		return
	}
	if err := a.Authorize(id.Subjects(), "applications", "create", Project(probe)+"/"+probe.Name); err != nil {
		jsonapi.Error(w, http.StatusForbidden, err.Error())
		return
	}
	upsert, _ := strconv.ParseBool(r.URL.Query().Get("upsert"))
	err := a.Client.Create(ctx, obj)
	if apierrors.IsAlreadyExists(err) && upsert {
		cur := &unstructured.Unstructured{}
		cur.SetGroupVersionKind(obj.GroupVersionKind())
		if err = a.Client.Get(ctx, client.ObjectKeyFromObject(obj), cur); err == nil {
			cur.Object["spec"] = obj.Object["spec"]
			if err = a.Client.Update(ctx, cur); err == nil {
				obj = cur
			}
		}
	}
	if err != nil {
		writeK8sError(w, err)
		return
	}
	jsonapi.Write(w, http.StatusOK, obj)
}

func (a *API) withApp(w http.ResponseWriter, r *http.Request, ns, name string, fn func(*gitopsv1alpha1.Application)) {
	app := &gitopsv1alpha1.Application{}
	if err := a.Client.Get(r.Context(), types.NamespacedName{Namespace: ns, Name: name}, app); err != nil {
		writeK8sError(w, err)
		return
	}
	fn(app)
}

// delete follows Argo CD: cascade (default true) deletes the resources, with
// propagationPolicy foreground (default) or background; cascade=false orphans them.
func (a *API) delete(ctx context.Context, w http.ResponseWriter, r *http.Request, ns, name string) {
	q := r.URL.Query()
	cascade := q.Get("cascade") != "false"
	app := &gitopsv1alpha1.Application{}
	if err := a.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, app); err != nil {
		writeK8sError(w, err)
		return
	}
	patch := client.MergeFrom(app.DeepCopy())
	if err := app.SetCascade(cascade, q.Get("propagationPolicy")); err != nil {
		jsonapi.Error(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := a.Client.Patch(ctx, app, patch); err != nil {
		writeK8sError(w, err)
		return
	}
	if err := a.Client.Delete(ctx, app); err != nil {
		writeK8sError(w, err)
		return
	}
	jsonapi.Write(w, http.StatusOK, map[string]any{})
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

func (a *API) sync(ctx context.Context, w http.ResponseWriter, r *http.Request, app *gitopsv1alpha1.Application, user string) {
	var req syncRequest
	if err := decode(r, &req); err != nil && !errors.Is(err, io.EOF) {
		jsonapi.Error(w, http.StatusBadRequest, err.Error())
		return
	}
	op := &gitopsv1alpha1.Operation{
		Sync: &gitopsv1alpha1.SyncOperation{Revision: req.Revision, Revisions: req.Revisions, Prune: req.Prune,
			DryRun: req.DryRun, Resources: req.Resources},
		InitiatedBy: gitopsv1alpha1.OperationInitiator{Username: user},
		Info:        req.Infos,
	}
	if req.SyncOptions != nil {
		op.Sync.SyncOptions = req.SyncOptions.Items
	}
	if req.Retry != nil {
		op.Retry = *req.Retry
	}
	a.startOperation(ctx, w, app, op)
}

// startOperation sets app.operation, refusing while another one runs.
func (a *API) startOperation(ctx context.Context, w http.ResponseWriter, app *gitopsv1alpha1.Application, op *gitopsv1alpha1.Operation) {
	if app.Operation != nil || app.Status.OperationState != nil && app.Status.OperationState.Phase == gitopsv1alpha1.OperationRunning {
		jsonapi.Error(w, http.StatusConflict, "another operation is already in progress")
		return
	}
	patch := client.MergeFrom(app.DeepCopy())
	app.Operation = op
	if err := a.Client.Patch(ctx, app, patch); err != nil {
		writeK8sError(w, err)
		return
	}
	jsonapi.Write(w, http.StatusOK, app)
}

// rollback is Argo CD's ApplicationRollbackRequest: sync to a history entry's
// source and revision; refused while automated sync is on (it would undo it).
func (a *API) rollback(ctx context.Context, w http.ResponseWriter, r *http.Request, app *gitopsv1alpha1.Application, user string) {
	var req struct {
		ID     int64 `json:"id"`
		Prune  bool  `json:"prune"`
		DryRun bool  `json:"dryRun"`
		// Infos as in a sync request (gantry's addition to Argo CD's rollback).
		Infos []gitopsv1alpha1.Info `json:"infos"`
	}
	if err := decode(r, &req); err != nil {
		jsonapi.Error(w, http.StatusBadRequest, err.Error())
		return
	}
	if p := app.Spec.SyncPolicy; p != nil && p.Automated != nil && (p.Automated.Enabled == nil || *p.Automated.Enabled) {
		jsonapi.Error(w, http.StatusBadRequest, "rollback cannot be initiated when auto-sync is enabled: disable spec.syncPolicy.automated first")
		return
	}
	op, err := RollbackOperation(app, req.ID, user)
	if err != nil {
		jsonapi.Error(w, http.StatusBadRequest, err.Error())
		return
	}
	op.Sync.Prune, op.Sync.DryRun, op.Info = req.Prune, req.DryRun, req.Infos
	a.startOperation(ctx, w, app, op)
}

// RollbackOperation is the sync operation that restores history entry id.
func RollbackOperation(app *gitopsv1alpha1.Application, id int64, user string) (*gitopsv1alpha1.Operation, error) {
	for _, h := range app.Status.History {
		if h.ID != id {
			continue
		}
		op := &gitopsv1alpha1.Operation{
			Sync:        &gitopsv1alpha1.SyncOperation{Revision: h.Revision, Revisions: h.Revisions, Source: h.Source.DeepCopy(), Sources: h.Sources},
			InitiatedBy: gitopsv1alpha1.OperationInitiator{Username: user},
		}
		return op, nil
	}
	ids := make([]string, 0, len(app.Status.History))
	for _, h := range app.Status.History {
		ids = append(ids, strconv.FormatInt(h.ID, 10))
	}
	return nil, fmt.Errorf("application %s has no history entry %d (ids: %s)", app.Name, id, strings.Join(ids, ", "))
}

func (a *API) engine(w http.ResponseWriter, fn func() (any, error)) {
	if a.Engine == nil {
		jsonapi.Error(w, http.StatusServiceUnavailable, "the GitOps engine is not running")
		return
	}
	v, err := fn()
	if err != nil {
		jsonapi.Error(w, http.StatusInternalServerError, err.Error())
		return
	}
	jsonapi.Write(w, http.StatusOK, v)
}

func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return err
		}
		return fmt.Errorf("request body is not valid JSON for this call: %w", err)
	}
	return nil
}

func writeK8sError(w http.ResponseWriter, err error) {
	var se apierrors.APIStatus
	if errors.As(err, &se) {
		jsonapi.Error(w, int(se.Status().Code), se.Status().Message)
		return
	}
	jsonapi.Error(w, http.StatusInternalServerError, err.Error())
}
