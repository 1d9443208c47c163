// Package eventstream serves one kind's changes, read from a shared informer,
// as server-sent events: what gantry's watch endpoints have in common (the
// Application stream in Argo CD's shape, the VirtualCluster stream in
// gantry's). The endpoint decides what each change means to its caller; this
// package does the plumbing that is easy to get subtly wrong: the handler on
// the shared informer, the initial contents told apart from later changes,
// write deadlines, heartbeats, and removing the handler when the client goes.
//
// No library fits: client-go's watch is per request to the API server, and an
// open web UI should cost the host no request at all.
package eventstream

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Informers hands out shared informers: gantry's manager cache
// (mgr.GetCache()) in production.
type Informers interface {
	GetInformer(ctx context.Context, obj client.Object, opts ...cache.InformerGetOption) (cache.Informer, error)
}

// WriteTimeout bounds one write: a client that stops reading is dropped
// instead of piling events up in the informer's buffer. A variable for tests.
var WriteTimeout = 10 * time.Second

// DefaultHeartbeat is the interval of comment lines (and of credential checks
// by the endpoints) when none is given.
const DefaultHeartbeat = 15 * time.Second

// Change is one change of one object.
type Change[T client.Object] struct {
	Deleted bool
	Object  T
}

// Kind says what Next returned.
type Kind int

const (
	// Initial carries Items: every object the informer held when the stream
	// opened, sorted by namespace and name. Sent once, first.
	Initial Kind = iota
	// Changed carries Change: an object added, modified or deleted since.
	Changed
	// Heartbeat is a tick of the heartbeat interval (a comment line has been
	// written already); endpoints check the caller's credentials again.
	Heartbeat
)

// Event is what Next returns.
type Event[T client.Object] struct {
	Kind   Kind
	Items  []T
	Change Change[T]
}

// Stream is one open stream of server-sent events about objects of type T.
type Stream[T client.Object] struct {
	ctx     context.Context
	cancel  context.CancelFunc
	w       http.ResponseWriter
	rc      *http.ResponseController
	changes chan Change[T]
	synced  <-chan struct{}
	tick    *time.Ticker
	initial map[client.ObjectKey]T // until the informer's initial contents are in
	close   func()
}

// Open registers a handler for obj's kind on the shared informer and starts
// the response (headers, a reconnect delay of 3 s for EventSource, and a first
// byte so clients see the stream open before the initial list is ready). An
// error comes before anything is written: the endpoint answers it as it
// answers other errors. The caller must Close the stream.
func Open[T client.Object](ctx context.Context, w http.ResponseWriter, informers Informers, obj T, heartbeat time.Duration) (*Stream[T], error) {
	ctx, cancel := context.WithCancel(ctx)
	inf, err := informers.GetInformer(ctx, obj)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("the cache is not ready: %w; try again in a moment", err)
	}
	s := &Stream[T]{ctx: ctx, cancel: cancel, w: w, rc: http.NewResponseController(w),
		// Unbuffered: the informer's per-handler buffer holds what the stream
		// has not taken yet, so "initial contents delivered" means "received here".
		changes: make(chan Change[T]),
		initial: map[client.ObjectKey]T{}}
	send := func(o any, deleted bool) {
		if t, ok := o.(toolscache.DeletedFinalStateUnknown); ok {
			o = t.Obj
		}
		obj, ok := o.(T)
		if !ok {
			return
		}
		select {
		case s.changes <- Change[T]{Deleted: deleted, Object: obj}:
		case <-ctx.Done():
		}
	}
	reg, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { send(o, false) },
		UpdateFunc: func(_, o any) { send(o, false) },
		DeleteFunc: func(o any) { send(o, true) },
	})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("watching: %w", err)
	}
	s.synced = reg.HasSyncedChecker().Done()
	if heartbeat <= 0 {
		heartbeat = DefaultHeartbeat
	}
	s.tick = time.NewTicker(heartbeat)
	s.close = func() {
		cancel() // first: it unblocks a handler call waiting in send
		_ = inf.RemoveEventHandler(reg)
		s.tick.Stop()
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // tells a reverse proxy in front not to buffer
	w.WriteHeader(http.StatusOK)
	s.write("retry: 3000\n\n")
	return s, nil
}

// Close removes the informer handler. Safe to call more than once.
func (s *Stream[T]) Close() {
	if s.close != nil {
		s.close()
		s.close = nil
	}
}

// Next waits for what to tell the client next. false: the client went (or a
// write failed); the endpoint returns.
func (s *Stream[T]) Next() (Event[T], bool) {
	for {
		select {
		case <-s.ctx.Done():
			return Event[T]{}, false
		case ch := <-s.changes:
			if s.initial == nil {
				return Event[T]{Kind: Changed, Change: ch}, true
			}
			key := client.ObjectKeyFromObject(ch.Object)
			if ch.Deleted {
				delete(s.initial, key)
			} else {
				s.initial[key] = ch.Object
			}
		case <-s.synced:
			s.synced = nil
			items := make([]T, 0, len(s.initial))
			for _, o := range s.initial {
				items = append(items, o)
			}
			slices.SortFunc(items, func(a, b T) int {
				return cmp.Or(cmp.Compare(a.GetNamespace(), b.GetNamespace()), cmp.Compare(a.GetName(), b.GetName()))
			})
			s.initial = nil
			return Event[T]{Kind: Initial, Items: items}, true
		case <-s.tick.C:
			if !s.write(": heartbeat\n\n") {
				return Event[T]{}, false
			}
			return Event[T]{Kind: Heartbeat}, true
		}
	}
}

// Data sends v, as JSON, as an unnamed event. false: the client is gone.
func (s *Stream[T]) Data(v any) bool {
	data, err := json.Marshal(v)
	if err != nil {
		return false
	}
	return s.write("data: " + string(data) + "\n\n")
}

// Queue is Data without the flush: for the events of an initial list, which
// go out together when the next event is flushed (10,000 applications were
// 10,000 flushes, each a frame and a write of its own).
func (s *Stream[T]) Queue(v any) bool {
	data, err := json.Marshal(v)
	if err != nil {
		return false
	}
	return s.send("data: "+string(data)+"\n\n", false)
}

// Named sends v, as JSON, as an event of the given name (EventSource delivers
// it only to listeners of that name).
func (s *Stream[T]) Named(event string, v any) bool {
	data, err := json.Marshal(v)
	if err != nil {
		return false
	}
	return s.write("event: " + event + "\ndata: " + string(data) + "\n\n")
}

func (s *Stream[T]) write(text string) bool { return s.send(text, true) }

func (s *Stream[T]) send(text string, flush bool) bool {
	_ = s.rc.SetWriteDeadline(time.Now().Add(WriteTimeout))
	if _, err := io.WriteString(s.w, text); err != nil {
		s.cancel()
		return false
	}
	if !flush {
		return true
	}
	if s.rc.Flush() != nil {
		s.cancel()
		return false
	}
	// Cleared once written: over HTTP/2 a deadline left set resets the stream
	// when it passes, even while idle, so a stream quiet for WriteTimeout
	// (shorter than the heartbeat) was cut.
	_ = s.rc.SetWriteDeadline(time.Time{})
	return true
}

// Type is an event type as Kubernetes watches and Argo CD's stream name them.
type Type string

// Event types.
const (
	Added    Type = "ADDED"
	Modified Type = "MODIFIED"
	Deleted  Type = "DELETED"
)

// Held remembers which objects the client holds, so each change is told as
// what it is to this client: an object it may see is ADDED (new to it) or
// MODIFIED; one it held but may no longer see (deleted, filtered out, or its
// right revoked) is DELETED; the rest is silence.
type Held map[string]bool

// Tell returns the event type for a change of the object at key, or false for
// none. show: the object exists and the client may see it.
func (h Held) Tell(key string, show bool) (Type, bool) {
	held := h[key]
	switch {
	case show && held:
		return Modified, true
	case show:
		h[key] = true
		return Added, true
	case held:
		delete(h, key)
		return Deleted, true
	}
	return "", false
}
