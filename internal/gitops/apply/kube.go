package apply

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/util/retry"
)

// kube is the API server as a sync sees it: every call takes a task and knows
// how to reach its object. Errors are returned bare; callers name the resource.
type kube struct {
	dyn     dynamic.Interface
	mapper  meta.RESTMapper
	manager string
	// unknown remembers kinds the mapper did not know even after a reset, so that
	// a sync with many resources of a new kind resets discovery once, not per object.
	unknown map[schema.GroupKind]bool
}

// mapping finds gvk's resource, resetting the mapper once when the kind is unknown
// (it may have been created since discovery was cached).
func (k *kube) mapping(gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	m, err := k.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if !meta.IsNoMatchError(err) || k.unknown[gvk.GroupKind()] {
		return m, err
	}
	if r, ok := k.mapper.(meta.ResettableRESTMapper); ok {
		r.Reset()
		m, err = k.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	if meta.IsNoMatchError(err) {
		k.unknown[gvk.GroupKind()] = true
	}
	return m, err
}

// forget is called once a CRD was applied: kinds unknown so far may now exist.
func (k *kube) forget() {
	clear(k.unknown)
}

func (k *kube) namespaced(_ context.Context, gvk schema.GroupVersionKind) (bool, error) {
	m, err := k.mapping(gvk)
	if err != nil {
		return false, err
	}
	return m.Scope.Name() == meta.RESTScopeNameNamespace, nil
}

// resolve sets t.mapping. A kind not served yet is waited for up to timeout:
// discovery lags a moment behind a CRD becoming Established.
func (k *kube) resolve(ctx context.Context, t *task, timeout time.Duration) error {
	if t.mapping != nil {
		return nil
	}
	m, err := k.mapping(t.gvk)
	if meta.IsNoMatchError(err) && timeout > 0 {
		_ = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, timeout, false, func(context.Context) (bool, error) {
			k.forget()
			m, err = k.mapping(t.gvk)
			return !meta.IsNoMatchError(err), nil
		})
	}
	if err != nil {
		return err
	}
	t.mapping = m
	if t.target != nil && m.Scope.Name() != meta.RESTScopeNameNamespace {
		t.target.SetNamespace("") // it was assumed namespaced (SkipDryRunOnMissingResource)
		t.key.Namespace = ""
	}
	return nil
}

func (k *kube) client(ctx context.Context, t *task) (dynamic.ResourceInterface, error) {
	if err := k.resolve(ctx, t, 0); err != nil {
		return nil, err
	}
	if t.mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		return k.dyn.Resource(t.mapping.Resource).Namespace(t.key.Namespace), nil
	}
	return k.dyn.Resource(t.mapping.Resource), nil
}

// get reads t's object; nil when it does not exist.
func (k *kube) get(ctx context.Context, t *task) (*unstructured.Unstructured, error) {
	c, err := k.client(ctx, t)
	if err != nil {
		return nil, err
	}
	obj, err := c.Get(ctx, t.key.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	return obj, err
}

func fieldValidation(t *task) string {
	if t.opts.NoValidate {
		return metav1.FieldValidationIgnore
	}
	return metav1.FieldValidationStrict
}

func dryRunOpt(dryRun bool) []string {
	if dryRun {
		return []string{metav1.DryRunAll}
	}
	return nil
}

// apply server-side applies t's object, forcing conflicts: the application owns
// what it declares, as with Argo CD's --force-conflicts.
func (k *kube) apply(ctx context.Context, t *task, dryRun bool) (*unstructured.Unstructured, error) {
	c, err := k.client(ctx, t)
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(t.target.Object)
	if err != nil {
		return nil, err
	}
	force := true
	return c.Patch(ctx, t.key.Name, types.ApplyPatchType, data, metav1.PatchOptions{
		FieldManager: k.manager, Force: &force, DryRun: dryRunOpt(dryRun), FieldValidation: fieldValidation(t)})
}

// create creates t's object (hooks, and Replace=true for new objects).
func (k *kube) create(ctx context.Context, t *task, obj *unstructured.Unstructured, dryRun bool) (*unstructured.Unstructured, error) {
	c, err := k.client(ctx, t)
	if err != nil {
		return nil, err
	}
	return c.Create(ctx, obj, metav1.CreateOptions{
		FieldManager: k.manager, DryRun: dryRunOpt(dryRun), FieldValidation: fieldValidation(t)})
}

// createUnnamed dry-runs the creation of t's object under a generated name:
// what Force=true will create after deleting the live object is validated
// while that object still holds the name.
func (k *kube) createUnnamed(ctx context.Context, t *task) (*unstructured.Unstructured, error) {
	obj := t.target.DeepCopy()
	obj.SetGenerateName(t.key.Name + "-")
	obj.SetName("")
	return k.create(ctx, t, obj, true)
}

// recreate deletes the live object (exactly it: UID precondition), waits
// until it is gone and creates t's (Force=true, as kubectl replace --force).
func (k *kube) recreate(ctx context.Context, t *task, live *unstructured.Unstructured, timeout time.Duration) (*unstructured.Unstructured, error) {
	if err := k.delete(ctx, t, live, metav1.DeletePropagationBackground); err != nil {
		return nil, fmt.Errorf("deleting it to re-create it (Force=true): %w", err)
	}
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		cur, err := k.get(ctx, t)
		return cur == nil || cur.GetUID() != live.GetUID(), err
	})
	if err != nil {
		return nil, fmt.Errorf("deleted to re-create it (Force=true), but still there after %s (a finalizer?): %w", timeout, err)
	}
	return k.create(ctx, t, t.target, false)
}

// replace overwrites the live object with t's (Replace=true).
func (k *kube) replace(ctx context.Context, t *task, live *unstructured.Unstructured, dryRun bool) (*unstructured.Unstructured, error) {
	c, err := k.client(ctx, t)
	if err != nil {
		return nil, err
	}
	obj := t.target.DeepCopy()
	obj.SetResourceVersion(live.GetResourceVersion())
	return c.Update(ctx, obj, metav1.UpdateOptions{FieldManager: k.manager, DryRun: dryRunOpt(dryRun), FieldValidation: fieldValidation(t)})
}

// delete deletes exactly the object read as live (UID precondition), so that an
// object recreated meanwhile by someone else survives.
func (k *kube) delete(ctx context.Context, t *task, live *unstructured.Unstructured, policy metav1.DeletionPropagation) error {
	c, err := k.client(ctx, t)
	if err != nil {
		return err
	}
	uid := live.GetUID()
	err = c.Delete(ctx, t.key.Name, metav1.DeleteOptions{PropagationPolicy: &policy,
		Preconditions: &metav1.Preconditions{UID: &uid}})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil // gone, or replaced by another object (UID precondition): not ours to delete
	}
	return err
}

// removeFinalizer takes the hook finalizer off t's object, if it is still there.
func (k *kube) removeFinalizer(ctx context.Context, t *task) error {
	c, err := k.client(ctx, t)
	if err != nil {
		return err
	}
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		obj, err := c.Get(ctx, t.key.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		fins := obj.GetFinalizers()
		kept := slices.DeleteFunc(slices.Clone(fins), func(f string) bool { return f == HookFinalizer })
		if len(kept) == len(fins) {
			return nil
		}
		obj.SetFinalizers(kept)
		_, err = c.Update(ctx, obj, metav1.UpdateOptions{FieldManager: k.manager})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	})
}

// waitEstablished waits until the CRD t applied serves its kind. Like Argo CD it
// does not fail the sync when this takes long: the resources of that kind will.
func (k *kube) waitEstablished(ctx context.Context, t *task, timeout time.Duration) {
	c, err := k.client(ctx, t)
	if err != nil {
		return
	}
	_ = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		obj, err := c.Get(ctx, t.key.Name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
		for _, c := range conds {
			m, _ := c.(map[string]any)
			if m["type"] == "Established" && m["status"] == "True" {
				return true, nil
			}
		}
		return false, nil
	})
	k.forget()
}

// isNamespaceNotFound tells whether err says that namespace ns does not exist.
func isNamespaceNotFound(err error, ns string) bool {
	var status apierrors.APIStatus
	if !apierrors.IsNotFound(err) || !errors.As(err, &status) {
		return false
	}
	d := status.Status().Details
	return d != nil && d.Kind == "namespaces" && d.Name == ns
}

// kubectlName names an object as kubectl prints it: "deployment.apps/web".
func kubectlName(gvk schema.GroupVersionKind, name string) string {
	kind := gvk.Kind
	if gvk.Group != "" {
		kind += "." + gvk.Group
	}
	return fmt.Sprintf("%s/%s", strings.ToLower(kind), name)
}
