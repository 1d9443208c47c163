package vcapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
	"gantry.dev/gantry/internal/api"
	"gantry.dev/gantry/internal/eventstream"
	"gantry.dev/gantry/internal/identity/rbac"
	"gantry.dev/gantry/internal/jsonapi"
	"gantry.dev/gantry/internal/project"
	"gantry.dev/gantry/internal/vcluster"
)

// Prefix is where the API is mounted (see Register).
const Prefix = "/api/v1/virtualclusters"

// RBAC resource and actions (rbac.ResourceVirtualClusters and its actions).
const (
	resource      = rbac.ResourceVirtualClusters
	actionGet     = rbac.ActionGet
	actionCreate  = rbac.ActionCreate
	actionUpdate  = rbac.ActionUpdate
	actionDelete  = rbac.ActionDelete
	actionSleep   = rbac.ActionSleep
	actionWake    = rbac.ActionWake
	actionConnect = rbac.ActionConnect
)

// Informers hands out shared informers: gantry's manager cache
// (mgr.GetCache()) in production.
type Informers = eventstream.Informers

// API serves Prefix on an api.Router (Register).
type API struct {
	// Client is gantry's manager client on the host. Reads may come from a
	// cache; writes go to the API server, which decides conflicts.
	Client client.Client
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
	// Heartbeat is how often streams send a keep-alive comment and check the
	// caller's credentials again (default 15s).
	Heartbeat time.Duration

	// streams counts open watch streams (tests check they end).
	streams atomic.Int32
}

// maxBody bounds request bodies: a create request is a few hundred bytes.
const maxBody = 64 << 10

// Register mounts the API. The credential endpoint under the same prefix,
// POST <Prefix>/{project}/{name}/credential, is vcproxy's.
func (a *API) Register(r *api.Router) {
	handle := func(pattern string, fn func(c *call, p, name string)) {
		r.Handle(pattern, a.serve(fn), api.BodyLimit(maxBody))
	}
	one := Prefix + "/{project}/{name}"
	// GET answers a list, or a stream with ?watch=true (or Accept: text/event-stream).
	handle("GET "+Prefix, func(c *call, _, _ string) { c.listOrWatch(c.r.URL.Query().Get("project")) })
	handle("POST "+Prefix, func(c *call, _, _ string) {
		c.error(http.StatusMethodNotAllowed, "create a virtual cluster with POST "+Prefix+"/<project>")
	})
	handle("GET "+Prefix+"/{project}", func(c *call, p, _ string) { c.listOrWatch(p) })
	handle("POST "+Prefix+"/{project}", func(c *call, p, _ string) { c.create(p) })
	handle("GET "+one, func(c *call, p, n string) {
		if isWatch(c.r) {
			c.watchOne(p, n)
		} else {
			c.get(p, n)
		}
	})
	handle("PATCH "+one, (*call).update)
	handle("DELETE "+one, (*call).delete)
	handle("POST "+one+"/sleep", (*call).sleep)
	handle("POST "+one+"/wake", (*call).wake)
	handle("GET "+one+"/kubeconfig", (*call).kubeconfig)
	handle("GET "+one+"/events", (*call).watchOne)
}

// serve makes a call of the request, its path's names checked.
func (a *API) serve(fn func(c *call, p, name string)) api.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, caller *api.Caller) error {
		c := &call{api: a, w: w, r: r, caller: caller}
		p, name := r.PathValue("project"), r.PathValue("name")
		if p != "" && !c.validPath("project", p) || name != "" && !c.validPath("virtual cluster", name) {
			return nil
		}
		fn(c, p, name)
		return nil
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
	api    *API
	w      http.ResponseWriter
	r      *http.Request
	caller *api.Caller
}

func (c *call) ctx() context.Context { return c.r.Context() }

func (c *call) error(code int, msg string) { jsonapi.Error(c.w, code, msg) }

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
	return c.caller.May(resource, actionGet, api.VirtualCluster(p, name))
}

// may checks one action on project/name and answers 403 when refused. A
// create needs a key scoped to the whole project, not one virtual cluster.
func (c *call) may(action, p, name string) bool {
	obj := api.VirtualCluster(p, name)
	if action == actionCreate {
		obj = api.InProject(p, name)
	}
	if err := c.caller.Can(resource, action, obj); err != nil {
		jsonapi.WriteError(c.w, err)
		return false
	}
	return true
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

// listOrWatch answers the virtual clusters of project p ("" all) that the
// caller may see: a list, or a stream of them when the request asks to watch.
func (c *call) listOrWatch(p string) {
	if p != "" && !c.validPath("project", p) {
		return
	}
	if isWatch(c.r) {
		c.stream(p, "")
		return
	}
	c.list(p)
}

func (c *call) list(p string) {
	var list platformv1alpha1.VirtualClusterList
	var opts []client.ListOption
	if p != "" {
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
func decode(r *http.Request, v any) error { return api.DecodeStrict(r, v) }
