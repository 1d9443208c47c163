package crds

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
)

// CreateIfMissing creates obj, a custom resource of a CRD that Install may just
// have installed, unless an object of its name exists; it reports whether it
// created it. An object that exists is left as it is.
//
// It creates by server-side apply rather than by POST: apiextensions-apiserver
// holds every POST of a custom resource for 2 s after its CRD became Established
// (a safeguard for API servers in HA that have not seen the CRD yet), which cost
// a first `gantry up` 2 s of its start. An apply is not held; the same safeguard
// is kept here by retrying, for up to 10 s, a host that does not serve the kind yet.
func CreateIfMissing(ctx context.Context, c client.Client, obj client.Object) (bool, error) {
	gvk, err := apiutil.GVKForObject(obj, c.Scheme())
	if err != nil {
		return false, err
	}
	fields, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return false, err
	}
	u := &unstructured.Unstructured{Object: fields}
	u.SetGroupVersionKind(gvk)
	unstructured.RemoveNestedField(u.Object, "status")
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")

	deadline := time.Now().Add(10 * time.Second)
	for {
		existing := &unstructured.Unstructured{}
		existing.SetGroupVersionKind(gvk)
		err := c.Get(ctx, client.ObjectKeyFromObject(obj), existing)
		switch {
		case err == nil:
			return false, nil
		case apierrors.IsNotFound(err):
			err = c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(FieldManager))
			if err == nil {
				return true, nil
			}
		}
		notServedYet := meta.IsNoMatchError(err) || apierrors.IsNotFound(err)
		if !notServedYet || time.Now().After(deadline) {
			return false, fmt.Errorf("creating %s %s: %w", gvk.Kind, client.ObjectKeyFromObject(obj), err)
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
