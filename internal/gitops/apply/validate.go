package apply

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// validate dry-runs every object the sync would write, on the server, before
// anything changes: schema, unknown fields, immutable fields and admission all
// answer now. It reports each failure on its resource and tells whether all passed.
//
// Two kinds of objects cannot be dry-run and pass unchecked, as in Argo CD: objects
// whose kind comes from a CRD of this same sync (or is missing and marked
// SkipDryRunOnMissingResource), and objects in a namespace this sync creates
// (a Namespace object or CreateNamespace): the server answers those with the
// namespace's NotFound, which is therefore accepted for exactly those namespaces.
// Hooks are dry-run as creations; that an earlier instance still exists is fine
// (BeforeHookCreation deletes it first).
//
// With Options.DryRun the outcome of each dry run is reported as the sync's result.
func (s *syncer) validate(ctx context.Context, p *plan) bool {
	ok := true
	for _, t := range append(p.tasks[:len(p.tasks):len(p.tasks)], p.syncFail...) {
		if t.prune() {
			if s.opts.DryRun {
				s.prune(ctx, t, true)
			}
			continue
		}
		if t.live != nil && s.opts.InSync[t.key] && !t.hook && !t.opts.Replace && !t.opts.Force && !s.opts.DryRun {
			continue // the server accepted this very object: nothing to learn
		}
		if t.skipDryRun {
			if s.opts.DryRun {
				s.report(t, ResultSynced, kubectlName(t.gvk, t.key.Name)+" created (dry run, kind not served yet)")
			}
			continue
		}
		msg, err := s.dryRun(ctx, t, p.newNamespaces[t.key.Namespace])
		if err != nil {
			ok = false
			t.state = OperationFailed
			s.report(t, ResultSyncFailed, fmt.Errorf("%s: %w", t.key, err).Error())
			continue
		}
		if s.opts.DryRun {
			s.report(t, ResultSynced, msg)
		}
	}
	return ok
}

// dryRun validates one object and says what applying it would do.
func (s *syncer) dryRun(ctx context.Context, t *task, newNamespace bool) (string, error) {
	var live *unstructured.Unstructured
	if s.opts.DryRun || s.opts.SyncOptions.FailOnSharedResource || ((t.opts.Replace || t.opts.Force) && !t.hook) {
		var err error
		if live, err = s.kube.get(ctx, t); err != nil && !(newNamespace && isNamespaceNotFound(err, t.key.Namespace)) {
			return "", err
		}
	}
	if s.opts.SyncOptions.FailOnSharedResource && live != nil && !t.autoNamespace {
		if id := live.GetAnnotations()[s.opts.TrackingKey]; id != "" && id != t.target.GetAnnotations()[s.opts.TrackingKey] {
			return "", fmt.Errorf("shared with another application (tracking id %q) and FailOnSharedResource is set", id)
		}
	}
	var out *unstructured.Unstructured
	var err error
	forced := false // validated as a new object, to replace live by deleting it (Force=true)
	switch {
	case t.hook:
		out, err = s.kube.create(ctx, t, t.target, true)
		if apierrors.IsAlreadyExists(err) {
			err = nil
		}
	case t.opts.Force && t.opts.Replace && live != nil:
		out, err = s.kube.createUnnamed(ctx, t)
		forced = true
	case t.opts.Replace && live != nil:
		out, err = s.kube.replace(ctx, t, live, true)
	case t.opts.Replace:
		out, err = s.kube.create(ctx, t, t.target, true)
	default:
		out, err = s.kube.apply(ctx, t, true)
		if t.opts.Force && live != nil && apierrors.IsInvalid(err) {
			out, err = s.kube.createUnnamed(ctx, t)
			forced = true
		}
	}
	if err != nil {
		if newNamespace && isNamespaceNotFound(err, t.key.Namespace) {
			return kubectlName(t.gvk, t.key.Name) + " created (dry run)", nil
		}
		return "", err
	}
	if forced {
		return kubectlName(t.gvk, t.key.Name) + " replaced (forced, dry run)", nil
	}
	if s.opts.DryRun && !t.hook && !t.opts.Replace && live != nil && out != nil && out.GetResourceVersion() != live.GetResourceVersion() {
		// A controller wrote the object between the read and the dry run (a
		// Deployment's status, its revision annotation): compare with what the
		// dry run started from, or the message would say configured for it.
		for range 3 {
			fresh, err := s.kube.get(ctx, t)
			if err != nil || fresh.GetResourceVersion() == live.GetResourceVersion() {
				break
			}
			live = fresh
			if out, err = s.kube.apply(ctx, t, true); err != nil {
				return "", err
			}
			if out.GetResourceVersion() == live.GetResourceVersion() {
				break
			}
		}
	}
	return applyMessage(t, live, out, true), nil
}

// applyMessage says what an apply did, like kubectl: created when there was no
// object, unchanged when the resourceVersion stayed (an apply that changes nothing
// is not written), configured otherwise. A dry run does not change the
// resourceVersion, so it compares the objects instead (managed fields aside).
func applyMessage(t *task, before, after *unstructured.Unstructured, dryRun bool) string {
	name := kubectlName(t.gvk, t.key.Name)
	suffix := ""
	if dryRun {
		suffix = " (dry run)"
	}
	switch {
	case before == nil || after == nil || t.hook: // a hook is always (re)created
		return name + " created" + suffix
	case !dryRun && (before.GetResourceVersion() == after.GetResourceVersion() || sameButStatus(before, after)):
		// before may be a watch cache's copy, older than a controller's
		// status write: that is not the apply's doing.
		return name + " unchanged"
	case dryRun && sameObject(before, after):
		return name + " unchanged" + suffix
	}
	return name + " configured" + suffix
}

// sameButStatus compares two versions of an object but for their status
// and resourceVersion (managed fields aside).
func sameButStatus(a, b *unstructured.Unstructured) bool {
	a, b = a.DeepCopy(), b.DeepCopy()
	for _, o := range []*unstructured.Unstructured{a, b} {
		o.SetManagedFields(nil)
		o.SetResourceVersion("")
		delete(o.Object, "status")
	}
	return equality.Semantic.DeepEqual(a.Object, b.Object)
}

func sameObject(a, b *unstructured.Unstructured) bool {
	a, b = a.DeepCopy(), b.DeepCopy()
	a.SetManagedFields(nil)
	b.SetManagedFields(nil)
	return equality.Semantic.DeepEqual(a.Object, b.Object)
}
