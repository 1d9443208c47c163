package vcapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	toolscache "k8s.io/client-go/tools/cache"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/project"
)

// Event is one message of a watch stream (the data of a server-sent event).
type Event struct {
	// Type is LIST (first: everything visible now, in Items), ADDED, MODIFIED,
	// DELETED (Object), or ERROR (Message; the stream ends).
	Type    string `json:"type"`
	Items   []View `json:"items,omitempty"`
	Object  *View  `json:"object,omitempty"`
	Message string `json:"message,omitempty"`
}

// Event types.
const (
	EventList     = "LIST"
	EventAdded    = "ADDED"
	EventModified = "MODIFIED"
	EventDeleted  = "DELETED"
	EventError    = "ERROR"
)

// writeTimeout bounds one write to a stream: a client that stops reading is
// dropped instead of piling events up in the informer's buffer.
const writeTimeout = 10 * time.Second

// change is what the informer handler passes to the stream.
type change struct {
	deleted bool
	vc      *platformv1alpha1.VirtualCluster
}

// watchOne streams the changes of one virtual cluster; the caller must be
// allowed to get it (checked first, like a GET).
func (c *call) watchOne(p, name string) {
	if c.may(actionGet, p, name) {
		c.stream(p, name)
	}
}

// watch streams the virtual clusters of project p ("" all) that the caller may see.
func (c *call) watch(p string) {
	if p != "" && !c.validPath("project", p) {
		return
	}
	c.stream(p, "")
}

// stream serves text/event-stream: a LIST of the matching clusters the caller
// may get, then ADDED, MODIFIED and DELETED as they change, and a comment line
// every Heartbeat, until the client goes. Each event is authorized again, so a
// revoked right stops the flow at once (the cluster then goes as DELETED),
// and at each heartbeat the caller's credentials are checked again (an
// expired session ends the stream with ERROR; EventSource reconnects, which
// asks for them anew).
//
// The events come from a handler on the shared informer. Its first calls are
// the informer's current contents; they are folded into the LIST, which is
// sent once the informer says its initial list has been delivered. Later
// events are sent as they come, in the informer's order.
func (c *call) stream(p, name string) {
	a := c.api
	if a.Informers == nil {
		c.error(http.StatusNotImplemented, "watching is not available on this gantry: poll GET "+Prefix+" instead")
		return
	}
	rc := http.NewResponseController(c.w)
	ctx, cancel := context.WithCancel(c.ctx())
	inf, err := a.Informers.GetInformer(ctx, &platformv1alpha1.VirtualCluster{})
	if err != nil {
		cancel()
		c.error(http.StatusServiceUnavailable, "the virtual cluster cache is not ready: "+err.Error()+"; try again in a moment")
		return
	}
	// Unbuffered: the informer's own per-handler buffer holds what the stream
	// has not taken yet, and "initial list delivered" then means "received here".
	changes := make(chan change)
	send := func(ch change) {
		if ch.vc == nil {
			return
		}
		select {
		case changes <- ch:
		case <-ctx.Done():
		}
	}
	reg, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { send(change{vc: asVC(o)}) },
		UpdateFunc: func(_, o any) { send(change{vc: asVC(o)}) },
		DeleteFunc: func(o any) { send(change{deleted: true, vc: asVC(o)}) },
	})
	if err != nil {
		cancel()
		c.error(http.StatusServiceUnavailable, "watching virtual clusters: "+err.Error())
		return
	}
	a.streams.Add(1)
	defer func() {
		// Cancel first: it unblocks a handler call waiting in send.
		cancel()
		_ = inf.RemoveEventHandler(reg)
		a.streams.Add(-1)
	}()

	h := c.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // tells a reverse proxy in front not to buffer
	c.w.WriteHeader(http.StatusOK)
	write := func(s string) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(writeTimeout))
		if _, err := fmt.Fprint(c.w, s); err != nil {
			return false
		}
		if rc.Flush() != nil {
			return false
		}
		// Cleared once written: over HTTP/2 a deadline left set resets the
		// stream when it passes, even while idle, so a stream quiet for
		// writeTimeout (shorter than Heartbeat) was cut.
		_ = rc.SetWriteDeadline(time.Time{})
		return true
	}
	emit := func(ev Event) bool {
		data, _ := json.Marshal(ev)
		return write("data: " + string(data) + "\n\n")
	}
	// The reconnect delay for EventSource, and a first byte so that clients
	// see the stream open before the list is ready.
	if !write("retry: 3000\n\n") {
		return
	}

	matches := func(vc *platformv1alpha1.VirtualCluster) (string, bool) {
		vp, ok := project.FromNamespace(vc.Namespace)
		return vp, ok && (p == "" || vp == p) && (name == "" || vc.Name == name)
	}
	initial := map[string]*platformv1alpha1.VirtualCluster{} // until the LIST is sent
	synced := reg.HasSyncedChecker().Done()
	sent := map[string]bool{} // what the client holds: DELETED when it may no longer see it
	heartbeat := a.Heartbeat
	if heartbeat <= 0 {
		heartbeat = 15 * time.Second
	}
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ch := <-changes:
			vp, ok := matches(ch.vc)
			if !ok {
				continue
			}
			key := vp + "/" + ch.vc.Name
			if initial != nil {
				if ch.deleted {
					delete(initial, key)
				} else {
					initial[key] = ch.vc
				}
				continue
			}
			ev, ok := c.event(ch, vp, sent[key])
			if !ok {
				continue
			}
			sent[key] = ev.Type != EventDeleted
			if !emit(ev) {
				return
			}
		case <-synced:
			synced = nil
			items := []View{}
			for key, vc := range initial {
				vp, _ := project.FromNamespace(vc.Namespace)
				if c.visible(vp, vc.Name) {
					items = append(items, a.view(vc))
					sent[key] = true
				}
			}
			initial = nil
			slices.SortFunc(items, func(a, b View) int { return strings.Compare(a.Project+"/"+a.Name, b.Project+"/"+b.Name) })
			if !emit(Event{Type: EventList, Items: items}) {
				return
			}
		case <-tick.C:
			id, err := a.Auth.Authenticate(c.r)
			if err != nil {
				emit(Event{Type: EventError, Message: "Unauthorized: " + err.Error()})
				return
			}
			c.id = id // groups may have changed
			if !write(": heartbeat\n\n") {
				return
			}
		}
	}
}

// event turns a change into what the caller should hear, if anything: a
// cluster they may see is ADDED (new to them) or MODIFIED; one they held but
// may no longer see is DELETED; the rest is silence.
func (c *call) event(ch change, p string, held bool) (Event, bool) {
	v := c.api.view(ch.vc)
	canSee := c.visible(p, ch.vc.Name)
	switch {
	case ch.deleted && held:
		return Event{Type: EventDeleted, Object: &v}, true
	case ch.deleted:
		return Event{}, false
	case canSee && held:
		return Event{Type: EventModified, Object: &v}, true
	case canSee:
		return Event{Type: EventAdded, Object: &v}, true
	case held:
		return Event{Type: EventDeleted, Object: &v}, true
	}
	return Event{}, false
}

// asVC unwraps what an informer hands a handler, tombstones included.
func asVC(o any) *platformv1alpha1.VirtualCluster {
	if t, ok := o.(toolscache.DeletedFinalStateUnknown); ok {
		o = t.Obj
	}
	vc, _ := o.(*platformv1alpha1.VirtualCluster)
	return vc
}
