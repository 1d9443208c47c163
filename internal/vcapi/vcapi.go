package vcapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/eventstream"
	"gantry.dev/gantry/internal/identity/authn"
	"gantry.dev/gantry/internal/jsonapi"
	"gantry.dev/gantry/internal/project"
	"gantry.dev/gantry/internal/vcluster"
)

// Prefix is where the API is mounted (see Register).
const Prefix = "/api/v1/virtualclusters"

// RBAC resource and actions (rbac.ResourceVirtualClusters and its actions),
// spelled out here so that this package needs only an Authorize func.
const (
	resource      = "virtualclusters"
	actionGet     = "get"
	actionCreate  = "create"
	actionUpdate  = "update"
	actionDelete  = "delete"
	actionSleep   = "sleep"
	actionWake    = "wake"
	actionConnect = "connect"
)

// Authenticator checks a request's credentials (authn.Authenticator).
type Authenticator interface {
	Authenticate(r *http.Request) (authn.Identity, error)
}

// Authorize says whether subjects may act on an object; an error means 403
// (rbac.Enforcer.Authorize).
type Authorize func(subjects []string, resource, action, object string) error

// Informers hands out shared informers: gantry's manager cache
// (mgr.GetCache()) in production.
type Informers = eventstream.Informers

// API is the http.Handler of Prefix.
type API struct {
	// Client is gantry's manager client on the host. Reads may come from a
	// cache; writes go to the API server, which decides conflicts.
	Client    client.Client
	Auth      Authenticator
	Authorize Authorize
	// Informers feeds the watch streams: each stream adds a handler to the
	// shared VirtualCluster informer, so an open UI tab costs the host no
	// request. Nil answers streams with 501.
	Informers Informers
	// ExternalURL is how clients reach gantry (https://host:port), the base
	// of the proxy address in kubeconfigs and views.
	ExternalURL string
	// ServerCA verifies gantry's serving certificate (PEM); empty when gantry
	// serves a certificate the system roots trust.
	ServerCA []byte
	// Credential serves POST <Prefix>/<project>/<name>/credential
	// (vcproxy.Credentials): it is handed the request unchanged.
	Credential http.Handler
	// Heartbeat is how often streams send a keep-alive comment and check the
	// caller's credentials again (default 15s).
	Heartbeat time.Duration

	// streams counts open watch streams (tests check they end).
	streams atomic.Int32
}

// Register mounts the API on mux at Prefix and everything under it,
// including the credential sub-path: a mux that also has vcproxy.CredentialPrefix
// ("/api/v1/virtualclusters/") registered would panic, so register only this.
func (a *API) Register(mux interface{ Handle(string, http.Handler) }) {
	mux.Handle(Prefix, a)
	mux.Handle(Prefix+"/", a)
}

// maxBody bounds request bodies: a create request is a few hundred bytes.
const maxBody = 64 << 10

func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, Prefix)
	if !ok || rest != "" && rest[0] != '/' {
		jsonapi.Error(w, http.StatusNotFound, "no such API path: "+r.URL.Path)
		return
	}
	var parts []string
	if rest = strings.Trim(rest, "/"); rest != "" {
		parts = strings.Split(rest, "/")
	}
	// The credential endpoint authenticates and authorizes on its own.
	if len(parts) == 3 && parts[2] == "credential" {
		if a.Credential == nil {
			jsonapi.Error(w, http.StatusServiceUnavailable, "the credential endpoint is not configured on this gantry")
			return
		}
		a.Credential.ServeHTTP(w, r)
		return
	}
	id, err := a.Auth.Authenticate(r)
	if err != nil {
		jsonapi.Error(w, http.StatusUnauthorized, "Unauthorized: "+err.Error())
		return
	}
	c := &call{api: a, w: w, r: r, id: id}
	if len(parts) >= 1 && !c.validPath("project", parts[0]) || len(parts) >= 2 && !c.validPath("virtual cluster", parts[1]) {
		return
	}
	watch := isWatch(r)
	switch len(parts) {
	case 0:
		switch {
		case r.Method == http.MethodGet && watch:
			c.watch(r.URL.Query().Get("project"))
		case r.Method == http.MethodGet:
			c.list(r.URL.Query().Get("project"))
		case r.Method == http.MethodPost:
			jsonapi.Error(w, http.StatusMethodNotAllowed, "create a virtual cluster with POST "+Prefix+"/<project>")
		default:
			c.methodNotAllowed(http.MethodGet)
		}
	case 1:
		switch {
		case r.Method == http.MethodGet && watch:
			c.watch(parts[0])
		case r.Method == http.MethodGet:
			c.list(parts[0])
		case r.Method == http.MethodPost:
			c.create(parts[0])
		default:
			c.methodNotAllowed(http.MethodGet, http.MethodPost)
		}
	case 2:
		p, n := parts[0], parts[1]
		switch {
		case r.Method == http.MethodGet && watch:
			c.watchOne(p, n)
		case r.Method == http.MethodGet:
			c.get(p, n)
		case r.Method == http.MethodPatch:
			c.update(p, n)
		case r.Method == http.MethodDelete:
			c.delete(p, n)
		default:
			c.methodNotAllowed(http.MethodGet, http.MethodPatch, http.MethodDelete)
		}
	case 3:
		p, n := parts[0], parts[1]
		switch sub := parts[2]; {
		case sub == "sleep" && r.Method == http.MethodPost:
			c.sleep(p, n)
		case sub == "wake" && r.Method == http.MethodPost:
			c.wake(p, n)
		case sub == "kubeconfig" && r.Method == http.MethodGet:
			c.kubeconfig(p, n)
		case sub == "events" && r.Method == http.MethodGet:
			c.watchOne(p, n)
		case sub == "sleep" || sub == "wake":
			c.methodNotAllowed(http.MethodPost)
		case sub == "kubeconfig" || sub == "events":
			c.methodNotAllowed(http.MethodGet)
		default:
			jsonapi.Error(w, http.StatusNotFound, fmt.Sprintf("no such API path: %s (after <project>/<name>/ come sleep, wake, kubeconfig, events, credential)", r.URL.Path))
		}
	default:
		jsonapi.Error(w, http.StatusNotFound, "no such API path: "+r.URL.Path)
	}
}

// isWatch reads ?watch=true (or ?watch, or ?watch=1) and Accept: text/event-stream.
func isWatch(r *http.Request) bool {
	q := r.URL.Query()
	if q.Has("watch") {
		v := q.Get("watch")
		return v == "" || v == "true" || v == "1"
	}
	return strings.Contains(r.Header.Get("Accept"), "text/event-stream")
}

// call is one request: who asked and where to answer.
type call struct {
	api *API
	w   http.ResponseWriter
	r   *http.Request
	id  authn.Identity
}

func (c *call) ctx() context.Context { return c.r.Context() }

func (c *call) error(code int, msg string) { jsonapi.Error(c.w, code, msg) }

func (c *call) methodNotAllowed(allowed ...string) {
	c.w.Header().Set("Allow", strings.Join(allowed, ", "))
	c.error(http.StatusMethodNotAllowed, fmt.Sprintf("%s %s is not supported: use %s", c.r.Method, c.r.URL.Path, strings.Join(allowed, " or ")))
}

// validPath refuses path segments that cannot name a project or virtual
// cluster (DNS-1123 labels), before they reach an RBAC object or a lookup.
func (c *call) validPath(what, s string) bool {
	if errs := validation.IsDNS1123Label(s); len(errs) > 0 {
		c.error(http.StatusBadRequest, fmt.Sprintf("%q is not a valid %s name: %s", s, what, strings.Join(errs, "; ")))
		return false
	}
	return true
}

// visible says whether the caller may see a virtual cluster: the filter of
// lists and streams. It answers nothing.
func (c *call) visible(p, name string) bool {
	return c.id.InScope(p, name) && c.api.Authorize(c.id.Subjects(), resource, actionGet, p+"/"+name) == nil
}

// may checks one action on project/name and answers 403 when refused. A
// create needs a key scoped to the whole project, not one virtual cluster.
func (c *call) may(action, p, name string) bool {
	scopeName := name
	if action == actionCreate {
		scopeName = ""
	}
	if !c.id.InScope(p, scopeName) {
		c.error(http.StatusForbidden, fmt.Sprintf("this access key is scoped to %s: it cannot %s virtual cluster %s/%s; use a key for that project (gantry accesskey create)",
			describeScope(c.id), action, p, name))
		return false
	}
	if err := c.api.Authorize(c.id.Subjects(), resource, action, p+"/"+name); err != nil {
		c.error(http.StatusForbidden, err.Error())
		return false
	}
	return true
}

func describeScope(id authn.Identity) string {
	if id.Scope.VirtualCluster != "" {
		return "virtual cluster " + id.Scope.Project + "/" + id.Scope.VirtualCluster
	}
	return "project " + id.Scope.Project
}

// fetch reads a virtual cluster, answering 404 (or 500) when it cannot.
func (c *call) fetch(p, name string) (*platformv1alpha1.VirtualCluster, bool) {
	vc := &platformv1alpha1.VirtualCluster{}
	err := c.api.Client.Get(c.ctx(), types.NamespacedName{Namespace: project.Namespace(p), Name: name}, vc)
	if err != nil {
		c.k8sError(err, p, name)
		return nil, false
	}
	return vc, true
}

// k8sError answers an error of the host API, naming the virtual cluster.
func (c *call) k8sError(err error, p, name string) {
	switch {
	case apierrors.IsNotFound(err):
		c.error(http.StatusNotFound, fmt.Sprintf("virtual cluster %s not found in project %s (GET %s?project=%s lists them)", name, p, Prefix, p))
	case apierrors.IsConflict(err):
		c.error(http.StatusConflict, fmt.Sprintf("virtual cluster %s/%s changed meanwhile: %v; try again", p, name, err))
	case apierrors.IsInvalid(err) || apierrors.IsBadRequest(err):
		c.error(http.StatusBadRequest, err.Error())
	case apierrors.IsForbidden(err):
		// gantry's own client was refused by the host: not the caller's fault.
		c.error(http.StatusInternalServerError, "the host refused gantry: "+err.Error())
	case errors.Is(err, context.Canceled):
		c.error(499, "request canceled")
	default:
		var se apierrors.APIStatus
		if errors.As(err, &se) && se.Status().Code >= 400 {
			c.error(int(se.Status().Code), err.Error())
			return
		}
		c.error(http.StatusInternalServerError, err.Error())
	}
}

func (c *call) list(p string) {
	var list platformv1alpha1.VirtualClusterList
	var opts []client.ListOption
	if p != "" {
		if !c.validPath("project", p) {
			return
		}
		opts = append(opts, client.InNamespace(project.Namespace(p)))
	}
	if err := c.api.Client.List(c.ctx(), &list, opts...); err != nil {
		c.error(http.StatusInternalServerError, "listing virtual clusters: "+err.Error())
		return
	}
	// What the caller may not see is left out, not refused.
	items := []View{}
	for i := range list.Items {
		vc := &list.Items[i]
		vp, ok := project.FromNamespace(vc.Namespace)
		if !ok || !c.visible(vp, vc.Name) {
			continue
		}
		items = append(items, c.api.view(vc))
	}
	slices.SortFunc(items, func(a, b View) int { return strings.Compare(a.Project+"/"+a.Name, b.Project+"/"+b.Name) })
	jsonapi.Write(c.w, http.StatusOK, List{Items: items})
}

func (c *call) get(p, name string) {
	if !c.may(actionGet, p, name) {
		return
	}
	if vc, ok := c.fetch(p, name); ok {
		jsonapi.Write(c.w, http.StatusOK, c.api.view(vc))
	}
}

func (c *call) delete(p, name string) {
	if !c.may(actionDelete, p, name) {
		return
	}
	vc, ok := c.fetch(p, name)
	if !ok {
		return
	}
	// The UID precondition keeps a stale cached read from deleting a
	// namesake created meanwhile.
	if err := c.api.Client.Delete(c.ctx(), vc, client.Preconditions{UID: &vc.UID}); err != nil {
		c.k8sError(err, p, name)
		return
	}
	v := c.api.view(vc)
	v.Deleting = true
	v.Phase = platformv1alpha1.PhaseDeleting
	jsonapi.Write(c.w, http.StatusAccepted, v)
}

// sleep does what `gantry vcluster sleep` does: set the sleeping annotation;
// the reconciler stops the control plane. Already asleep is success.
func (c *call) sleep(p, name string) {
	if !c.may(actionSleep, p, name) {
		return
	}
	vc, ok := c.fetch(p, name)
	if !ok || !c.notDeleting(vc) {
		return
	}
	if _, asleep := vc.Annotations[vcluster.SleepingAnnotation]; !asleep {
		// A patch of the annotation alone, not of a possibly stale read.
		if !c.patchAnnotation(vc, time.Now().UTC().Format(time.RFC3339)) {
			return
		}
	}
	jsonapi.Write(c.w, http.StatusAccepted, c.api.view(vc))
}

// wake removes the sleeping annotation (`gantry vcluster wake`). Always
// patched: removing an absent annotation is harmless, and a cached read may
// not show one set a moment ago.
func (c *call) wake(p, name string) {
	if !c.may(actionWake, p, name) {
		return
	}
	vc, ok := c.fetch(p, name)
	if !ok || !c.notDeleting(vc) {
		return
	}
	if _, asleep := vc.Annotations[vcluster.SleepingAnnotation]; asleep {
		if ok, msg := c.api.quota(c.ctx(), p, "runningVirtualClusters"); !ok {
			c.error(http.StatusConflict, msg)
			return
		}
	}
	if !c.patchAnnotation(vc, nil) {
		return
	}
	jsonapi.Write(c.w, http.StatusAccepted, c.api.view(vc))
}

func (c *call) notDeleting(vc *platformv1alpha1.VirtualCluster) bool {
	if vc.DeletionTimestamp.IsZero() {
		return true
	}
	c.error(http.StatusConflict, fmt.Sprintf("virtual cluster %s is being deleted", vc.Name))
	return false
}

// patchAnnotation sets (value a string) or removes (nil) the sleeping
// annotation; vc is updated from the answer.
func (c *call) patchAnnotation(vc *platformv1alpha1.VirtualCluster, value any) bool {
	meta := map[string]any{"annotations": map[string]any{vcluster.SleepingAnnotation: value}}
	if vc.UID != "" {
		meta["uid"] = vc.UID // a precondition: refuses a namesake created meanwhile
	}
	patch, _ := json.Marshal(map[string]any{"metadata": meta})
	p, _ := project.FromNamespace(vc.Namespace)
	if err := c.api.Client.Patch(c.ctx(), vc, client.RawPatch(types.MergePatchType, patch)); err != nil {
		c.k8sError(err, p, vc.Name)
		return false
	}
	return true
}

// quota is a cheap early check against the project's counted usage: the
// reconciler enforces quotas anyway (phase Failed, reason QuotaExceeded), but
// refusing here tells the caller at once. Usage lags a little, so this can
// err both ways for a moment; the reconciler has the last word.
func (a *API) quota(ctx context.Context, p string, kinds ...string) (bool, string) {
	proj := &platformv1alpha1.Project{}
	if err := a.Client.Get(ctx, client.ObjectKey{Name: p}, proj); err != nil {
		return true, "" // the caller has checked the project exists, or it does not matter
	}
	for _, kind := range kinds {
		if over, msg := project.Exceeds(proj, kind); over {
			return false, msg
		}
	}
	return true, ""
}

// decode reads a JSON body strictly: an unknown field is an error naming it,
// so that a typo (sleep_after) is not silently ignored.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("request body is empty: send a JSON object")
		}
		return fmt.Errorf("request body is not valid JSON for this call: %w", err)
	}
	if dec.More() {
		return errors.New("request body has more than one JSON value")
	}
	return nil
}
