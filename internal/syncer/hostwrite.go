package syncer

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// fieldManager names the syncer in managedFields.
const fieldManager = "gantry-syncer"

// owned reports whether obj was made by the syncer of virtual cluster vcluster.
func owned(obj metav1.Object, vcluster string) bool {
	l := obj.GetLabels()
	return l[LabelManagedBy] == ManagedBySyncer && l[LabelVCluster] == vcluster
}

// foreignError reports a host object in the syncer's way that it did not make.
type foreignError struct {
	kind, namespace, name, vcluster string
}

func (e *foreignError) Error() string {
	return fmt.Sprintf("host %s %s/%s already exists and was not made by the syncer of virtual cluster %s "+
		"(it lacks the labels %s=%s, %s=%s); the syncer leaves it untouched: delete or rename it to let the virtual object sync",
		e.kind, e.namespace, e.name, e.vcluster, LabelManagedBy, ManagedBySyncer, LabelVCluster, e.vcluster)
}

// collisionError reports a host object that is the syncer's but the copy of
// another virtual object: HostName joins names with "-x-", so "a-x-b" in
// namespace "c" and "a" in namespace "b-x-c" have one host name. The first
// keeps it; the second is not synced, so neither overwrites, mounts or deletes
// the other's copy.
type collisionError struct {
	kind, hostName, want, have string
}

func (e *collisionError) Error() string {
	return fmt.Sprintf("host %s %s is already the copy of virtual %s; virtual %s has the same host name "+
		"(names are joined with \"-x-\", so names containing \"-x-\" can meet): rename one of them",
		e.kind, e.hostName, e.have, e.want)
}

// blockedError is an error the syncer cannot fix by retrying soon: a host object
// in the way that is someone else's.
type blockedError interface {
	error
	blockedByHost()
}

func (*foreignError) blockedByHost()   {}
func (*collisionError) blockedByHost() {}

var (
	_ blockedError = (*foreignError)(nil)
	_ blockedError = (*collisionError)(nil)
)

// origin is the "namespace/name" of the virtual object a host object is the copy of.
func origin(obj metav1.Object) string {
	a := obj.GetAnnotations()
	return a[AnnotationNamespace] + "/" + a[AnnotationName]
}

// hostObject is a pointer to a Kubernetes object type E.
type hostObject[E any] interface {
	*E
	metav1.Object
	runtime.Object
}

// objectClient is the part of a typed client (CoreV1().Pods(ns), ...) the writer uses.
type objectClient[T any] interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (T, error)
	Create(ctx context.Context, obj T, opts metav1.CreateOptions) (T, error)
	Update(ctx context.Context, obj T, opts metav1.UpdateOptions) (T, error)
	Delete(ctx context.Context, name string, opts metav1.DeleteOptions) error
}

// hostWriter is the only way the syncer writes host objects of one kind, so that it
// never creates over, updates or deletes an object that lacks its labels.
type hostWriter[E any, T hostObject[E]] struct {
	kind     string
	client   objectClient[T]
	vcluster string
}

func newWriter[E any, T hostObject[E]](kind string, client objectClient[T], vcluster string) hostWriter[E, T] {
	return hostWriter[E, T]{kind: kind, client: client, vcluster: vcluster}
}

// apply makes the host object named desired.GetName() match desired. current is the
// syncer's cached copy, nil if its cache has none. merge copies what the syncer
// manages from desired into existing (a private copy of the live object) and reports
// whether anything changed; nothing is written when nothing did.
func (w hostWriter[E, T]) apply(ctx context.Context, current, desired T, merge func(existing, desired T) bool) (T, error) {
	if current == nil {
		created, err := w.client.Create(ctx, desired, metav1.CreateOptions{FieldManager: fieldManager})
		if !apierrors.IsAlreadyExists(err) {
			return created, err
		}
		// Not in the label-filtered cache: a foreign object, or the cache is behind.
		if current, err = w.client.Get(ctx, desired.GetName(), metav1.GetOptions{}); err != nil {
			return nil, err
		}
	}
	if !owned(current, w.vcluster) {
		return nil, w.foreign(current)
	}
	if err := w.checkOrigin(current, origin(desired)); err != nil {
		return nil, err
	}
	existing := current.DeepCopyObject().(T)
	if !merge(existing, desired) {
		return current, nil
	}
	return w.client.Update(ctx, existing, metav1.UpdateOptions{FieldManager: fieldManager})
}

// delete deletes obj if it is the syncer's, and only that very object (by UID).
func (w hostWriter[E, T]) delete(ctx context.Context, obj T, opts metav1.DeleteOptions) error {
	if !owned(obj, w.vcluster) {
		return w.foreign(obj)
	}
	uid := obj.GetUID()
	opts.Preconditions = &metav1.Preconditions{UID: &uid}
	if err := w.client.Delete(ctx, obj.GetName(), opts); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting host %s %s: %w", w.kind, obj.GetName(), err)
	}
	return nil
}

// checkOrigin returns a collisionError when host object h (nil: none) is the
// copy of another virtual object than key ("namespace/name").
func (w hostWriter[E, T]) checkOrigin(h T, key string) error {
	if h == nil {
		return nil
	}
	if have := origin(h); have != key {
		return &collisionError{kind: w.kind, hostName: h.GetName(), want: key, have: have}
	}
	return nil
}

// copyOf returns h if it is the copy of virtual object key, else nil. Every
// reconcile passes the host object it found by name through it before acting.
func (w hostWriter[E, T]) copyOf(h T, key string) T {
	if w.checkOrigin(h, key) != nil {
		return nil
	}
	return h
}

func (w hostWriter[E, T]) foreign(obj T) error {
	return &foreignError{kind: w.kind, namespace: obj.GetNamespace(), name: obj.GetName(), vcluster: w.vcluster}
}

func isNotFound(err error) bool      { return apierrors.IsNotFound(err) }
func isAlreadyExists(err error) bool { return apierrors.IsAlreadyExists(err) }

func ignoreNotFound(err error) error {
	if isNotFound(err) {
		return nil
	}
	return err
}
