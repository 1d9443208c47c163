package appapi

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
	"gantry.dev/gantry/internal/api"
	"gantry.dev/gantry/internal/gitops/actions"
	"gantry.dev/gantry/internal/jsonapi"
)

// ActionFieldManager writes what resource actions change, apart from the
// engine's own field manager, so that a later sync neither owns nor reverts
// it (the change is outside Git, as in Argo CD).
const ActionFieldManager = "gantry-action"

// listActions is Argo CD's GET /applications/{name}/resource/actions:
// {"actions": [{"name", "disabled"}]} for one node of the app's tree.
func (a *API) listActions(w http.ResponseWriter, r *http.Request, _ *api.Caller, app *gitopsv1alpha1.Application) error {
	l, err := a.locate(r.Context(), r.URL.Query(), app)
	if err != nil {
		return err
	}
	list := actions.List(l.obj)
	if list == nil {
		list = []actions.Action{}
	}
	jsonapi.Write(w, http.StatusOK, map[string]any{"actions": list})
	return nil
}

// runAction is Argo CD's POST /applications/{name}/resource/actions: the
// body names the action, as a JSON string ("restart", Argo CD's v1 form) or
// as {"action": "restart"} (its v2 form). It needs applications
// action/<group>/<kind>/<action> on the app, checked once the body named it.
func (a *API) runAction(w http.ResponseWriter, r *http.Request, c *api.Caller, app *gitopsv1alpha1.Application) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return jsonapi.Errorf(http.StatusBadRequest, "reading the request body: %v", err)
	}
	var name string
	if err := json.Unmarshal(body, &name); err != nil {
		var v2 struct {
			Action string `json:"action"`
		}
		if err := json.Unmarshal(body, &v2); err != nil || v2.Action == "" {
			return jsonapi.Errorf(http.StatusBadRequest, `the body names the action: "restart" or {"action": "restart"}`)
		}
		name = v2.Action
	}
	q := r.URL.Query()
	if err := can(c, fmt.Sprintf("action/%s/%s/%s", q.Get("group"), q.Get("kind"), name), app); err != nil {
		return err
	}
	ctx := r.Context()
	l, err := a.locate(ctx, q, app)
	if err != nil {
		return err
	}
	change, err := actions.Run(l.obj, name, time.Now())
	if err != nil {
		return jsonapi.Errorf(http.StatusBadRequest, "%v", err)
	}
	if change.Create != nil {
		// A Job from a CronJob, beside it in its namespace.
		dyn, _, err := a.Engine.Destination(ctx, app)
		if err != nil {
			return engineError(err)
		}
		created, err := dyn.Resource(jobsResource).Namespace(l.obj.GetNamespace()).Create(ctx, change.Create,
			metav1.CreateOptions{FieldManager: ActionFieldManager})
		if apierrors.IsAlreadyExists(err) {
			return jsonapi.Errorf(http.StatusConflict, "job %s exists already: run the action again in a second", change.Create.GetName())
		}
		if err != nil {
			return err
		}
		jsonapi.Write(w, http.StatusOK, map[string]any{"created": created.GetName()})
		return nil
	}
	patch, err := json.Marshal(change.MergePatch)
	if err != nil {
		return err
	}
	if _, err := l.client.Patch(ctx, l.obj.GetName(), types.MergePatchType, patch,
		metav1.PatchOptions{FieldManager: ActionFieldManager}); err != nil {
		return err
	}
	jsonapi.Write(w, http.StatusOK, map[string]any{})
	return nil
}

var jobsResource = schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}
