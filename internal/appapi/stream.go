package appapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
	"gantry.dev/gantry/internal/api"
	"gantry.dev/gantry/internal/eventstream"
	"gantry.dev/gantry/internal/identity/rbac"
	"gantry.dev/gantry/internal/jsonapi"
)

// StreamPath is Argo CD's stream of application changes (not under Prefix).
const StreamPath = "/api/v1/stream/applications"

// Informers hands out shared informers: gantry's manager cache
// (mgr.GetCache()) in production.
type Informers = eventstream.Informers

// Event types of the stream, Argo CD's watch.EventType values.
const (
	EventAdded    = string(eventstream.Added)
	EventModified = string(eventstream.Modified)
	EventDeleted  = string(eventstream.Deleted)
)

// StreamEvent is Argo CD's ApplicationWatchEvent, as its API server sends it
// on /api/v1/stream/applications: each server-sent event's data is
// {"result": {"type": ..., "application": {...}}}.
type StreamEvent struct {
	Result *WatchEvent `json:"result,omitempty"`
	// Error ends the stream (credentials expired): grpc-gateway's error shape.
	Error *StreamError `json:"error,omitempty"`
}

// WatchEvent is one change of one application.
type WatchEvent struct {
	Type        string                      `json:"type"`
	Application *gitopsv1alpha1.Application `json:"application"`
}

// StreamError is the last message of a stream that ends on an error.
type StreamError struct {
	Code     int    `json:"code"`
	Message  string `json:"message"`
	HTTPCode int    `json:"http_code"`
}

// SyncedEvent names the server-sent event sent once every application that
// exists when the stream opens has been sent as ADDED (its data is {}).
// Argo CD's own clients ignore it (EventSource delivers named events only to
// listeners of that name); gantry's UI uses it to tell "no applications" from
// "not loaded yet".
const SyncedEvent = "synced"

// streamFilter is what a stream's query asks for (Argo CD's
// ApplicationQuery: name, projects, appNamespace, selector).
type streamFilter struct {
	name      string
	projects  []string
	namespace string
	selector  labels.Selector
}

func parseStreamFilter(r *http.Request) (streamFilter, error) {
	q := r.URL.Query()
	f := streamFilter{name: q.Get("name"), namespace: q.Get("appNamespace")}
	// Argo CD repeats the parameter (?projects=a&projects=b); a comma list is taken too.
	for _, p := range q["projects"] {
		for _, s := range strings.Split(p, ",") {
			if s = strings.TrimSpace(s); s != "" {
				f.projects = append(f.projects, s)
			}
		}
	}
	if sel := q.Get("selector"); sel != "" {
		s, err := labels.Parse(sel)
		if err != nil {
			return f, fmt.Errorf("selector: %w", err)
		}
		f.selector = s
	}
	return f, nil
}

func (f streamFilter) matches(app *gitopsv1alpha1.Application) bool {
	if f.name != "" && app.Name != f.name {
		return false
	}
	if f.namespace != "" && app.Namespace != f.namespace {
		return false
	}
	if len(f.projects) > 0 && !slices.Contains(f.projects, app.Spec.Project) && !slices.Contains(f.projects, Project(app)) {
		return false
	}
	if f.selector != nil && !f.selector.Matches(labels.Set(app.Labels)) {
		return false
	}
	return true
}

// stream serves Argo CD's GET /api/v1/stream/applications as server-sent
// events: every matching application the caller may get as ADDED (then the
// named event SyncedEvent), then ADDED, MODIFIED and DELETED as they change,
// and a comment line every Heartbeat, until the client goes. Each event is
// authorized again, so an application the caller may no longer see goes as
// DELETED; at each heartbeat the caller's credentials are checked again (an
// expired session ends the stream with an error message; EventSource then
// reconnects, which asks for them anew).
//
// Events come from a handler on the shared Application informer: an open UI
// costs the host no request.
func (a *API) stream(w http.ResponseWriter, r *http.Request, c *api.Caller) error {
	if a.Informers == nil {
		return jsonapi.Errorf(http.StatusNotImplemented, "watching is not available on this gantry: poll GET %s instead", Prefix)
	}
	filter, err := parseStreamFilter(r)
	if err != nil {
		return jsonapi.Errorf(http.StatusBadRequest, "%v", err)
	}
	st, err := eventstream.Open(r.Context(), w, a.Informers, &gitopsv1alpha1.Application{}, a.Heartbeat)
	if err != nil {
		return jsonapi.Errorf(http.StatusServiceUnavailable, "applications: %v", err)
	}
	a.streams.Add(1)
	defer func() {
		st.Close()
		a.streams.Add(-1)
	}()

	visible := func(app *gitopsv1alpha1.Application) bool {
		return filter.matches(app) && can(c, rbac.ActionGet, app) == nil
	}
	emit := func(typ eventstream.Type, app *gitopsv1alpha1.Application) bool {
		return st.Data(StreamEvent{Result: &WatchEvent{Type: string(typ), Application: forStream(app)}})
	}
	// The initial list goes out unflushed, and with SyncedEvent at once.
	queue := func(typ eventstream.Type, app *gitopsv1alpha1.Application) bool {
		return st.Queue(StreamEvent{Result: &WatchEvent{Type: string(typ), Application: forStream(app)}})
	}
	held := eventstream.Held{}
	for {
		ev, ok := st.Next()
		if !ok {
			return nil
		}
		switch ev.Kind {
		case eventstream.Initial:
			for _, app := range ev.Items {
				if typ, ok := held.Tell(client.ObjectKeyFromObject(app).String(), visible(app)); ok && !queue(typ, app) {
					return nil
				}
			}
			if !st.Named(SyncedEvent, struct{}{}) {
				return nil
			}
		case eventstream.Changed:
			app := ev.Change.Object
			if typ, ok := held.Tell(client.ObjectKeyFromObject(app).String(), !ev.Change.Deleted && visible(app)); ok && !emit(typ, app) {
				return nil
			}
		case eventstream.Heartbeat:
			// Groups may have changed; credentials may have expired.
			if err := c.Refresh(r); err != nil {
				st.Data(StreamEvent{Error: &StreamError{Code: 16, HTTPCode: http.StatusUnauthorized, Message: "Unauthorized: " + err.Error()}})
				return nil
			}
		}
	}
}

// forStream is a copy of an informer's application fit to send: the
// informer's object is shared and must not change; managedFields are noise.
// A shallow copy: only its own top-level fields change, and it is only read
// (encoded) afterwards; a deep copy per app was most of an initial list's
// allocations with 10,000 apps.
func forStream(app *gitopsv1alpha1.Application) *gitopsv1alpha1.Application {
	out := *app
	out.ManagedFields = nil
	out.APIVersion, out.Kind = gitopsv1alpha1.GroupVersion.String(), "Application"
	return &out
}

// refreshModes are the values of GET ?refresh=, Argo CD's.
var refreshModes = []string{"normal", "hard"}

// refresh asks the controller to compare app again (Argo CD's annotation
// argocd.argoproj.io/refresh, as `gantry app get --refresh` sets it) and
// waits until it has: the controller removes the annotation once the new
// comparison is recorded. The answer is the app then, as in Argo CD.
func (a *API) refresh(ctx context.Context, w http.ResponseWriter, app *gitopsv1alpha1.Application, mode string) error {
	if !slices.Contains(refreshModes, mode) {
		return jsonapi.Errorf(http.StatusBadRequest, "refresh %q: use normal (ask Git again) or hard (also render again)", mode)
	}
	// A merge patch of the annotation alone, with the UID as a precondition
	// (a namesake created meanwhile is not touched).
	before := app.ResourceVersion
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{
		"uid":         app.UID,
		"annotations": map[string]any{RefreshAnnotation: mode},
	}})
	if err := a.Client.Patch(ctx, app, client.RawPatch("application/merge-patch+json", patch)); err != nil {
		return err
	}
	wait := a.RefreshTimeout
	if wait <= 0 {
		wait = 30 * time.Second
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	poll := time.NewTicker(100 * time.Millisecond)
	defer poll.Stop()
	key := client.ObjectKeyFromObject(app)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-deadline.C:
			return jsonapi.Errorf(http.StatusGatewayTimeout, "application %s was not refreshed within %s: the refresh is asked for (annotation %s) and happens when the GitOps controller gets to it",
				app.Name, wait, RefreshAnnotation)
		case <-poll.C:
			cur := &gitopsv1alpha1.Application{}
			if err := a.Client.Get(ctx, key, cur); err != nil {
				return err
			}
			// Done when the annotation is gone from a newer version than the one
			// read before the patch (the cached client may still hold that one).
			if _, pending := cur.Annotations[RefreshAnnotation]; !pending && cur.UID == app.UID && cur.ResourceVersion != before {
				jsonapi.Write(w, http.StatusOK, cur)
				return nil
			}
		}
	}
}

// RefreshAnnotation is Argo CD's: "normal" or "hard"; the controller removes it.
const RefreshAnnotation = "argocd.argoproj.io/refresh"
