package appapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
	"gantry.dev/gantry/internal/gitops/actions"
	"gantry.dev/gantry/internal/jsonapi"
)

// ActionFieldManager writes what resource actions change, apart from the
// engine's own field manager, so that a later sync neither owns nor reverts
// it (the change is outside Git, as in Argo CD).
const ActionFieldManager = "gantry-action"

// listActions is Argo CD's GET /applications/{name}/resource/actions:
// {"actions": [{"name", "disabled"}]} for one node of the app's tree.
func (a *API) listActions(ctx context.Context, w http.ResponseWriter, q url.Values, app *gitopsv1alpha1.Application) {
	l, ok := a.locate(ctx, w, q, app)
	if !ok {
		return
	}
	list := actions.List(l.obj)
	if list == nil {
		list = []actions.Action{}
	}
	jsonapi.Write(w, http.StatusOK, map[string]any{"actions": list})
}

// runAction is Argo CD's POST /applications/{name}/resource/actions: the
// body names the action, as a JSON string ("restart", Argo CD's v1 form) or
// as {"action": "restart"} (its v2 form). It needs applications
// action/<group>/<kind>/<action> on the app, checked by can.
func (a *API) runAction(ctx context.Context, w http.ResponseWriter, r *http.Request, app *gitopsv1alpha1.Application, can func(string) bool) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		jsonapi.Error(w, http.StatusBadRequest, err.Error())
		return
	}
	var name string
	if err := json.Unmarshal(body, &name); err != nil {
		var v2 struct {
			Action string `json:"action"`
		}
		if err := json.Unmarshal(body, &v2); err != nil || v2.Action == "" {
			jsonapi.Error(w, http.StatusBadRequest, `the body names the action: "restart" or {"action": "restart"}`)
			return
		}
		name = v2.Action
	}
	q := r.URL.Query()
	if !can(fmt.Sprintf("action/%s/%s/%s", q.Get("group"), q.Get("kind"), name)) {
		return
	}
	l, ok := a.locate(ctx, w, q, app)
	if !ok {
		return
	}
	change, err := actions.Run(l.obj, name, time.Now())
	if err != nil {
		jsonapi.Error(w, http.StatusBadRequest, err.Error())
		return
	}
	switch {
	case change.Create != nil:
		// A Job from a CronJob, beside it in its namespace.
		dest, err := a.Engine.Destination(ctx, app)
		if err != nil {
			jsonapi.Error(w, http.StatusInternalServerError, err.Error())
			return
		}
		created, err := dest.Dynamic.Resource(jobsResource).Namespace(l.obj.GetNamespace()).Create(ctx, change.Create,
			metav1.CreateOptions{FieldManager: ActionFieldManager})
		if err != nil {
			if apierrors.IsAlreadyExists(err) {
				jsonapi.Error(w, http.StatusConflict, fmt.Sprintf("job %s exists already: run the action again in a second", change.Create.GetName()))
				return
			}
			writeK8sError(w, err)
			return
		}
		jsonapi.Write(w, http.StatusOK, map[string]any{"created": created.GetName()})
	default:
		patch, err := json.Marshal(change.MergePatch)
		if err != nil {
			jsonapi.Error(w, http.StatusInternalServerError, err.Error())
			return
		}
		if _, err := l.client.Patch(ctx, l.obj.GetName(), types.MergePatchType, patch,
			metav1.PatchOptions{FieldManager: ActionFieldManager}); err != nil {
			writeK8sError(w, err)
			return
		}
		jsonapi.Write(w, http.StatusOK, map[string]any{})
	}
}

var jobsResource = schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}

// actionPath reports whether parts are {name}/resource/actions.
func actionPath(parts []string) bool {
	return len(parts) == 3 && parts[1] == "resource" && strings.EqualFold(parts[2], "actions")
}
