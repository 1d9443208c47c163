// Package statuswrite records a controller's computed status so that a stale
// informer cache cannot drop part of it.
//
// A reconciler reads its object from the manager's cache, which may not have
// seen the reconciler's own last write yet. A merge patch computed from such a
// copy leaves out every field the stale copy happens to share with the new
// status, and the server keeps the value written in between: an Application
// stayed OutOfSync after its sync had succeeded, until the next poll. Two
// things prevent it here:
//
//   - Get notices when the cache is behind this writer's last write of the
//     object (its resourceVersion differs from the one that write returned)
//     and then reads the API server instead;
//   - Patch sends the reconciler's change (a merge patch from the copy it
//     read to the status it computed) with an optimistic lock, and on a
//     conflict sends the same change against the server's current copy: a
//     write made in between by someone else (another status field, a
//     finalizer, spec.operation cleared) is kept, and the change is not lost;
//   - the change is made of whole top-level status fields, as desired has
//     them: a merge patch of one nested field is merged into whatever the
//     server holds, and a struct whose zero fields the server never stored
//     (a Project's first usage count) would lack required fields;
//   - status.conditions, a list a merge patch can only replace whole, is
//     sent as the server's current list with the reconciler's changes made
//     to it, condition type by condition type: two reconcilers that write
//     conditions of their own to one object (the Project and Argo CD
//     reconcilers on a Project) keep each other's.
//
// controller-runtime has the pieces (MergeFromWithOptimisticLock, the API
// reader) but not this combination; it is small and shared by every
// reconciler that writes a status.
package statuswrite

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/resourceversion"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// attempts bounds the conflict retries of one Patch: each needs a write by
// someone else between our read and our write.
const attempts = 5

// Writer reads and writes one kind's objects for one reconciler.
type Writer struct {
	// Client reads through the manager's cache and writes. Required.
	Client client.Client
	// Reader reads the API server itself (mgr.GetAPIReader()). Default Client,
	// which gives up the protection against a stale cache (tests only).
	Reader client.Reader

	mu   sync.Mutex
	last map[types.NamespacedName]string // resourceVersion of the latest copy seen or written
}

// Get reads key into obj from the cache, or from the API server when the cache
// has not caught up with this writer's last write of it.
func (w *Writer) Get(ctx context.Context, key types.NamespacedName, obj client.Object) error {
	if err := w.Client.Get(ctx, key, obj); err != nil {
		if apierrors.IsNotFound(err) {
			w.Forget(key)
		}
		return err
	}
	w.mu.Lock()
	last, ok := w.last[key]
	w.mu.Unlock()
	if !ok || last == obj.GetResourceVersion() {
		return nil
	}
	// A cache ahead of this writer's last write (someone else wrote since: a
	// user's refresh annotation) holds that write too. Resource versions
	// compare as numbers on etcd and kine; where they do not, ask the server.
	if c, err := resourceversion.CompareResourceVersion(obj.GetResourceVersion(), last); err == nil && c > 0 {
		w.Wrote(obj)
		return nil
	}
	if err := w.reader().Get(ctx, key, obj); err != nil {
		return err
	}
	// Whatever the server has now is what the cache will show next: remember
	// it, so an object that someone else wrote is read from the API only once.
	w.Wrote(obj)
	return nil
}

// Wrote records the resourceVersion of obj as returned by a write of it (a
// finalizer or annotation patch), so Get knows which copy is current.
func (w *Writer) Wrote(obj client.Object) {
	if obj.GetResourceVersion() == "" {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.last == nil {
		w.last = map[types.NamespacedName]string{}
	}
	w.last[client.ObjectKeyFromObject(obj)] = obj.GetResourceVersion()
}

// Forget drops what the writer remembers of a deleted object.
func (w *Writer) Forget(key types.NamespacedName) {
	w.mu.Lock()
	delete(w.last, key)
	w.mu.Unlock()
}

// Patch writes the change from base (the copy Get returned, before the
// reconcile changed it, with the resourceVersion it was read at) to desired's
// status. changed says whether the two statuses differ enough to be worth a
// write. On success desired carries the new resourceVersion. A deleted object
// is not an error.
func Patch[T client.Object](ctx context.Context, w *Writer, base, desired T, changed func(server, desired T) bool) error {
	if !changed(base, desired) {
		return nil
	}
	target, err := withStatusOf(base, desired)
	if err != nil {
		return err
	}
	diff, err := client.MergeFrom(base).Data(target)
	if err != nil {
		return err
	}
	change, err := wholeFields(diff, desired)
	if err != nil {
		return err
	}
	conds, err := conditionChangeOf(base, desired)
	if err != nil {
		return err
	}
	key := client.ObjectKeyFromObject(base)
	current := base
	for i := 0; ; i++ {
		body, err := onto(change, conds, current)
		if err != nil {
			return err
		}
		answer := base.DeepCopyObject().(T)
		err = w.Client.Status().Patch(ctx, answer, client.RawPatch(types.MergePatchType, body))
		switch {
		case err == nil:
			w.Wrote(answer)
			desired.SetResourceVersion(answer.GetResourceVersion())
			return nil
		case apierrors.IsNotFound(err):
			w.Forget(key)
			return nil
		case !apierrors.IsConflict(err) || i == attempts-1:
			return err
		}
		fresh := base.DeepCopyObject().(T)
		if err := w.reader().Get(ctx, key, fresh); err != nil {
			return client.IgnoreNotFound(err)
		}
		current = fresh
	}
}

// wholeFields replaces each status field of a merge patch with desired's
// whole value of it.
func wholeFields(patch []byte, desired client.Object) ([]byte, error) {
	m, err := decode(patch)
	if err != nil {
		return nil, err
	}
	status, _ := m["status"].(map[string]any)
	if status == nil {
		return patch, nil
	}
	data, err := json.Marshal(desired)
	if err != nil {
		return nil, err
	}
	d, err := decode(data)
	if err != nil {
		return nil, err
	}
	want, _ := d["status"].(map[string]any)
	for k := range status {
		status[k] = want[k] // nil (JSON null) when desired has none: removed
	}
	return json.Marshal(m)
}

// onto returns the patch that makes change on current: locked to current's
// resourceVersion, with status.conditions (when the change has them) made
// from current's list.
func onto(change []byte, conds *conditionChange, current client.Object) ([]byte, error) {
	m, err := decode(change)
	if err != nil {
		return nil, err
	}
	status, _ := m["status"].(map[string]any)
	if status != nil {
		// A merge patch merges objects key by key: a key the desired value
		// leaves out (an omitempty zero, retryCount 0 after a retry) would
		// keep the server's. Null every such key, so the field ends up as
		// desired has it, whole.
		data, err := json.Marshal(current)
		if err != nil {
			return nil, err
		}
		cur, err := decode(data)
		if err != nil {
			return nil, err
		}
		curStatus, _ := cur["status"].(map[string]any)
		for k, v := range status {
			if k != "conditions" {
				status[k] = replacing(curStatus[k], v)
			}
		}
	}
	if status != nil && conds != nil {
		if _, ok := status["conditions"]; ok {
			now, err := conditionsOf(current)
			if err != nil {
				return nil, err
			}
			if list := conds.apply(now); len(list) > 0 {
				status["conditions"] = list
			} else {
				status["conditions"] = nil
			}
		}
	}
	meta, _ := m["metadata"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
	}
	// The API server refuses the patch (409) if the object changed since.
	meta["resourceVersion"] = current.GetResourceVersion()
	m["metadata"] = meta
	return json.Marshal(m)
}

// replacing is want as a merge patch that turns cur into want exactly: keys
// of cur that want lacks are set to null, at every depth of nested objects
// (lists are replaced whole by a merge patch anyway).
func replacing(cur, want any) any {
	c, okc := cur.(map[string]any)
	w, okw := want.(map[string]any)
	if !okc || !okw {
		return want
	}
	out := make(map[string]any, len(w)+len(c))
	for k, v := range w {
		out[k] = replacing(c[k], v)
	}
	for k := range c {
		if _, ok := w[k]; !ok {
			out[k] = nil
		}
	}
	return out
}

// withStatusOf returns a copy of base whose Status field is desired's: the
// patch from base to it touches the status only. Every kind gantry writes has
// its status in a field named Status, as Kubebuilder lays them out.
func withStatusOf[T client.Object](base, desired T) (T, error) {
	var zero T
	out := base.DeepCopyObject().(T)
	src := reflect.ValueOf(desired.DeepCopyObject()).Elem().FieldByName("Status")
	dst := reflect.ValueOf(out).Elem().FieldByName("Status")
	if !src.IsValid() || !dst.IsValid() || !dst.CanSet() {
		return zero, fmt.Errorf("%T has no Status field", base)
	}
	dst.Set(src)
	return out, nil
}

func (w *Writer) reader() client.Reader {
	if w.Reader != nil {
		return w.Reader
	}
	return w.Client
}
