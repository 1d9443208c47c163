package vcapi

import (
	"net/http"
	"slices"
	"strings"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/eventstream"
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
	EventAdded    = string(eventstream.Added)
	EventModified = string(eventstream.Modified)
	EventDeleted  = string(eventstream.Deleted)
	EventError    = "ERROR"
)

// watchOne streams the changes of one virtual cluster; the caller must be
// allowed to get it (checked first, like a GET).
func (c *call) watchOne(p, name string) {
	if c.may(actionGet, p, name) {
		c.stream(p, name)
	}
}

// stream serves text/event-stream: a LIST of the matching clusters the caller
// may get, then ADDED, MODIFIED and DELETED as they change, and a comment line
// every Heartbeat, until the client goes. Each event is authorized again, so a
// revoked right stops the flow at once (the cluster then goes as DELETED),
// and at each heartbeat the caller's credentials are checked again (an
// expired session ends the stream with ERROR; EventSource reconnects, which
// asks for them anew).
//
// The events come from a handler on the shared informer (eventstream); its
// initial contents make the LIST.
func (c *call) stream(p, name string) {
	a := c.api
	if a.Informers == nil {
		c.error(http.StatusNotImplemented, "watching is not available on this gantry: poll GET "+Prefix+" instead")
		return
	}
	st, err := eventstream.Open(c.ctx(), c.w, a.Informers, &platformv1alpha1.VirtualCluster{}, a.Heartbeat)
	if err != nil {
		c.error(http.StatusServiceUnavailable, "virtual clusters: "+err.Error())
		return
	}
	a.streams.Add(1)
	defer func() {
		st.Close()
		a.streams.Add(-1)
	}()

	// show: the cluster matches the stream and the caller may see it.
	show := func(vc *platformv1alpha1.VirtualCluster) (key string, ok bool) {
		vp, inProject := project.FromNamespace(vc.Namespace)
		key = vp + "/" + vc.Name
		return key, inProject && (p == "" || vp == p) && (name == "" || vc.Name == name) && c.visible(vp, vc.Name)
	}
	held := eventstream.Held{}
	for {
		ev, ok := st.Next()
		if !ok {
			return
		}
		switch ev.Kind {
		case eventstream.Initial:
			items := []View{}
			for _, vc := range ev.Items {
				if key, ok := show(vc); ok {
					held.Tell(key, true)
					items = append(items, a.view(vc))
				}
			}
			slices.SortFunc(items, func(a, b View) int { return strings.Compare(a.Project+"/"+a.Name, b.Project+"/"+b.Name) })
			if !st.Data(Event{Type: EventList, Items: items}) {
				return
			}
		case eventstream.Changed:
			vc := ev.Change.Object
			key, visible := show(vc)
			if typ, ok := held.Tell(key, !ev.Change.Deleted && visible); ok {
				v := a.view(vc)
				if !st.Data(Event{Type: string(typ), Object: &v}) {
					return
				}
			}
		case eventstream.Heartbeat:
			// Groups may have changed; credentials may have expired.
			if err := c.caller.Refresh(c.r); err != nil {
				st.Data(Event{Type: EventError, Message: "Unauthorized: " + err.Error()})
				return
			}
		}
	}
}
