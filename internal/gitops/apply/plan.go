package apply

import (
	"context"
	"fmt"
	"maps"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// task is one step of a sync: apply (a hook: create) one desired object, or prune
// one live object.
type task struct {
	key    ResourceKey
	gvk    schema.GroupVersionKind
	target *unstructured.Unstructured // prepared desired object; nil for a prune
	live   *unstructured.Unstructured // as the caller gave it; nil if not live
	phase  SyncPhase
	wave   int
	hook   bool
	// policies are the hook's delete policies.
	policies map[hookDeletePolicy]bool
	opts     SyncOptions
	// autoNamespace: the destination namespace made for CreateNamespace; not tracked.
	autoNamespace bool
	// skipDryRun: the kind is unknown until a CRD of this sync (or someone else)
	// creates it, so the server cannot validate the object yet.
	skipDryRun bool

	result  int                        // index in the results, -1 until reported
	mapping *meta.RESTMapping          // set once the kind is known
	current *unstructured.Unstructured // the object as last written or read
	created bool                       // a hook this sync created (it carries the finalizer)
	state   OperationPhase             // Running while waited for, then Succeeded or Failed
}

func (t *task) prune() bool { return t.target == nil }

// obj is the object the task is about.
func (t *task) obj() *unstructured.Unstructured {
	if t.target != nil {
		return t.target
	}
	return t.live
}

// plan is every task of one sync, sorted.
type plan struct {
	tasks    []*task // PreSync, Sync (with prunes), PostSync
	syncFail []*task
	// invalid are desired objects that cannot be synced at all (reported, nothing applied).
	invalid []*task
	// crdKinds: the kinds defined by CRDs of this sync, and their CRD's task.
	crdKinds map[schema.GroupKind]*task
	// newNamespaces: namespaces this sync creates (Namespace objects, CreateNamespace),
	// in which objects cannot be validated before they exist.
	newNamespaces map[string]bool
}

// plan prepares the desired objects and turns them and the live ones into tasks.
// An error means the API server could not answer (the sync ends with Error).
func (s *syncer) plan(ctx context.Context, desired, live []*unstructured.Unstructured) (*plan, error) {
	p := &plan{crdKinds: map[schema.GroupKind]*task{}, newNamespaces: map[string]bool{}}
	liveByKey := map[ResourceKey]*unstructured.Unstructured{}
	for _, obj := range live {
		liveByKey[KeyOf(obj)] = obj
	}
	wanted := map[ResourceKey]bool{} // every desired key, also Skip objects: never pruned
	all, err := s.desiredTasks(ctx, p, desired, liveByKey, wanted)
	if err != nil {
		return nil, err
	}
	all = s.filter(all)
	if len(s.opts.Resources) > 0 {
		p.syncFail = nil // hooks do not run on a selective sync
	}
	ns, err := s.namespaceTask(ctx, p)
	if err != nil {
		return nil, err
	}
	if ns != nil {
		all = append(all, ns)
	}
	all = append(all, s.pruneTasks(live, wanted)...)
	orderPrunes(all)
	pullDependencies(all, p.crdKinds)
	sortTasks(all)
	sortTasks(p.syncFail)
	p.tasks = all
	return p, nil
}

// desiredTasks turns each desired object into its apply task, or its hook tasks
// (one per phase; SyncFail hooks go to p.syncFail), and records each key in wanted.
func (s *syncer) desiredTasks(ctx context.Context, p *plan, desired []*unstructured.Unstructured,
	liveByKey map[ResourceKey]*unstructured.Unstructured, wanted map[ResourceKey]bool) ([]*task, error) {
	crdScopes := map[schema.GroupKind]string{}
	for _, obj := range desired {
		if gk, scope, ok := crdDefines(obj); ok {
			crdScopes[gk] = scope
		}
	}
	var all []*task
	for _, in := range desired {
		obj := in.DeepCopy()
		t := &task{key: KeyOf(obj), gvk: obj.GroupVersionKind(), target: obj, phase: PhaseSync, result: -1,
			opts: ResourceSyncOptions(obj, s.opts.SyncOptions)}
		if err := s.prepare(ctx, obj, crdScopes, t); err != nil {
			if !isInvalid(err) {
				return nil, err
			}
			s.reject(p, t, err)
			continue
		}
		isHook, phases := hookPhases(obj)
		if isHook {
			for _, phase := range phases {
				h := s.hookTask(t, phase)
				if phase == PhaseSyncFail {
					p.syncFail = append(p.syncFail, h)
				} else {
					all = append(all, h)
				}
			}
			continue
		}
		if wanted[t.key] {
			s.reject(p, t, invalidf("%s: appears twice in the desired objects", t.key))
			continue
		}
		wanted[t.key] = true
		if len(phases) == 0 { // Skip
			continue
		}
		s.stamp(obj)
		t.live, t.wave = liveByKey[t.key], waveOf(obj)
		if gk, _, ok := crdDefines(obj); ok {
			p.crdKinds[gk] = t
		}
		if t.key.Group == "" && t.key.Kind == "Namespace" {
			p.newNamespaces[t.key.Name] = true
		}
		all = append(all, t)
	}
	return all, nil
}

// hookTask is the run of hook t in one phase, under the name it gets for this operation.
func (s *syncer) hookTask(t *task, phase SyncPhase) *task {
	h := t.target.DeepCopy()
	h.SetName(hookName(h, phase, s.opts.Revision, s.started))
	h.SetGenerateName("")
	s.stamp(h)
	return &task{key: KeyOf(h), gvk: t.gvk, target: h, phase: phase, wave: waveOf(h), hook: true,
		policies: deletePolicies(h), opts: t.opts, skipDryRun: t.skipDryRun, result: -1}
}

// pruneTasks are the live objects no longer desired (and selected). Live hooks
// are left to their delete policies.
func (s *syncer) pruneTasks(live []*unstructured.Unstructured, wanted map[ResourceKey]bool) []*task {
	var out []*task
	for _, obj := range live {
		key := KeyOf(obj)
		if wanted[key] || !s.selected(key) {
			continue
		}
		if isHook, _ := hookPhases(obj); isHook {
			continue
		}
		out = append(out, &task{key: key, gvk: obj.GroupVersionKind(), live: obj, phase: PhaseSync,
			wave: waveOf(obj), opts: ResourceSyncOptions(obj, s.opts.SyncOptions), result: -1})
	}
	return out
}

// prepare sets obj's namespace from its kind's scope and checks it can be synced.
// crdScopes tell the scope of kinds whose CRD is part of the sync.
func (s *syncer) prepare(ctx context.Context, obj *unstructured.Unstructured, crdScopes map[schema.GroupKind]string, t *task) error {
	if obj.GetAPIVersion() == "" || obj.GetKind() == "" {
		return invalidf("%s: no apiVersion or kind", t.key)
	}
	if obj.GetName() == "" {
		if isHook, _ := hookPhases(obj); !isHook || obj.GetGenerateName() == "" {
			return invalidf("%s: no name (only hooks may use generateName)", t.key)
		}
	}
	namespaced, err := s.kube.namespaced(ctx, t.gvk)
	if err != nil {
		if !meta.IsNoMatchError(err) {
			return fmt.Errorf("%s: %w", t.key, err)
		}
		scope, inSync := crdScopes[t.gvk.GroupKind()]
		switch {
		case inSync:
			namespaced = scope != "Cluster"
		case t.opts.SkipDryRunOnMissingResource:
			// Assume namespaced, as Argo CD does; a later mapping corrects it.
			namespaced = true
		default:
			return invalidf("%s: %w", t.key, err)
		}
		t.skipDryRun = true
	}
	switch {
	case !namespaced:
		obj.SetNamespace("")
	case obj.GetNamespace() == "" && s.opts.Namespace == "":
		return invalidf("%s: namespaced, but neither the object nor the destination names a namespace", t.key)
	case obj.GetNamespace() == "":
		obj.SetNamespace(s.opts.Namespace)
	}
	t.key = KeyOf(obj)
	return nil
}

// stamp marks obj as the application's: tracking annotation and labels.
func (s *syncer) stamp(obj *unstructured.Unstructured) {
	ann := obj.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[s.opts.TrackingKey] = s.opts.TrackingID(obj)
	obj.SetAnnotations(ann)
	if len(s.opts.Labels) > 0 {
		labels := obj.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		maps.Copy(labels, s.opts.Labels)
		obj.SetLabels(labels)
	}
}

// filter applies selective sync and ApplyOutOfSyncOnly to the apply tasks.
func (s *syncer) filter(tasks []*task) []*task {
	var out []*task
	for _, t := range tasks {
		switch {
		case len(s.opts.Resources) > 0 && (t.hook || !s.selected(t.key)):
		case s.opts.SyncOptions.ApplyOutOfSyncOnly && !t.hook && t.live != nil && !s.opts.OutOfSync[t.key]:
		default:
			out = append(out, t)
		}
	}
	return out
}

func (s *syncer) selected(key ResourceKey) bool {
	if len(s.opts.Resources) == 0 {
		return true
	}
	for _, r := range s.opts.Resources {
		if r == key {
			return true
		}
	}
	return false
}

// namespaceTask returns the task that creates the destination namespace for
// CreateNamespace, or nil when it exists or the sync declares it itself. Like
// Argo CD, it runs in PreSync and is not tracked (so it is never pruned).
func (s *syncer) namespaceTask(ctx context.Context, p *plan) (*task, error) {
	ns := s.opts.Namespace
	if !s.opts.SyncOptions.CreateNamespace || ns == "" || p.newNamespaces[ns] {
		return nil, nil
	}
	obj := &unstructured.Unstructured{}
	obj.SetAPIVersion("v1")
	obj.SetKind("Namespace")
	obj.SetName(ns)
	t := &task{key: KeyOf(obj), gvk: obj.GroupVersionKind(), target: obj, phase: PhasePreSync,
		autoNamespace: true, opts: s.opts.SyncOptions, result: -1}
	live, err := s.kube.get(ctx, t)
	if err != nil {
		return nil, err
	}
	if live != nil {
		return nil, nil
	}
	p.newNamespaces[ns] = true
	s.emptyNamespaces[ns] = true
	return t, nil
}

// crdDefines tells which kind obj defines, and its scope, if obj is a CRD.
func crdDefines(obj *unstructured.Unstructured) (schema.GroupKind, string, bool) {
	gvk := obj.GroupVersionKind()
	if gvk.Group != "apiextensions.k8s.io" || gvk.Kind != "CustomResourceDefinition" {
		return schema.GroupKind{}, "", false
	}
	group, _, _ := unstructured.NestedString(obj.Object, "spec", "group")
	kind, _, _ := unstructured.NestedString(obj.Object, "spec", "names", "kind")
	scope, _, _ := unstructured.NestedString(obj.Object, "spec", "scope")
	if group == "" || kind == "" {
		return schema.GroupKind{}, "", false
	}
	return schema.GroupKind{Group: group, Kind: kind}, scope, true
}

// invalidError marks a problem with a desired object, as opposed to the cluster.
type invalidError struct{ err error }

func (e invalidError) Error() string { return e.err.Error() }
func (e invalidError) Unwrap() error { return e.err }

func invalidf(format string, args ...any) error {
	return invalidError{fmt.Errorf(format, args...)}
}

func isInvalid(err error) bool {
	_, ok := err.(invalidError)
	return ok
}

// reject reports a desired object that cannot be synced at all.
func (s *syncer) reject(p *plan, t *task, err error) {
	t.state = OperationFailed
	p.invalid = append(p.invalid, t)
	s.report(t, ResultSyncFailed, err.Error())
}
