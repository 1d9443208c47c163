package apply

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// hookDeletePolicy says when a hook object is deleted.
type hookDeletePolicy string

const (
	// deleteBeforeCreation deletes the previous instance before creating the hook.
	deleteBeforeCreation hookDeletePolicy = "BeforeHookCreation"
	// deleteOnSuccess deletes the hook once the operation succeeded.
	deleteOnSuccess hookDeletePolicy = "HookSucceeded"
	// deleteOnFailure deletes the hook once the operation failed.
	deleteOnFailure hookDeletePolicy = "HookFailed"
)

// helmHookType maps the Helm hooks Argo CD honours to its own; other Helm hooks
// (test, pre-delete, pre-rollback...) are hooks that never run during a sync.
func helmHookType(t string) (HookType, bool) {
	switch t {
	case "pre-install", "pre-upgrade":
		return HookPreSync, true
	case "post-install", "post-upgrade":
		return HookPostSync, true
	}
	return "", false
}

func helmDeletePolicy(p string) (hookDeletePolicy, bool) {
	switch p {
	case "before-hook-creation":
		return deleteBeforeCreation, true
	case "hook-succeeded":
		return deleteOnSuccess, true
	case "hook-failed":
		return deleteOnFailure, true
	}
	return "", false
}

// hookPhases tells whether obj is a hook and in which phases it runs. A plain
// resource runs in the Sync phase; one annotated only "Skip" is no hook and never
// applied (nil phases); a hook may have no sync phase at all (PreDelete, helm test).
// Argo CD's annotation wins over Helm's when both are present.
func hookPhases(obj *unstructured.Unstructured) (isHook bool, phases []SyncPhase) {
	ann := obj.GetAnnotations()
	var types []HookType
	if value, ok := ann[AnnotationHook]; ok {
		for _, t := range csv(value) {
			types = append(types, HookType(t))
		}
		if len(types) == 1 && types[0] == HookSkip {
			return false, nil
		}
		isHook = true
	} else if value, ok := ann[AnnotationHelmHook]; ok && value != "crd-install" {
		// Helm marks CRDs with crd-install, but they are resources, not hooks.
		for _, t := range csv(value) {
			if ht, ok := helmHookType(t); ok {
				types = append(types, ht)
			}
		}
		isHook = true
	}
	if !isHook {
		return false, []SyncPhase{PhaseSync}
	}
	seen := map[SyncPhase]bool{}
	for _, t := range types {
		switch t {
		case HookPreSync, HookSync, HookPostSync, HookSyncFail:
			if p := SyncPhase(t); !seen[p] {
				seen[p] = true
				phases = append(phases, p)
			}
		}
	}
	return true, phases
}

// deletePolicies returns the hook's delete policies: Argo CD's and Helm's
// annotations together, BeforeHookCreation when neither names any.
func deletePolicies(obj *unstructured.Unstructured) map[hookDeletePolicy]bool {
	ann := obj.GetAnnotations()
	out := map[hookDeletePolicy]bool{}
	for _, p := range csv(ann[AnnotationHookDeletePolicy]) {
		switch hookDeletePolicy(p) {
		case deleteBeforeCreation, deleteOnSuccess, deleteOnFailure:
			out[hookDeletePolicy(p)] = true
		}
	}
	for _, p := range csv(ann[AnnotationHelmDeletePolicy]) {
		if policy, ok := helmDeletePolicy(p); ok {
			out[policy] = true
		}
	}
	if len(out) == 0 {
		out[deleteBeforeCreation] = true
	}
	return out
}

// waveOf reads the sync-wave annotation, falling back to Helm's hook weight; 0 by
// default or when the value is not an integer (as Argo CD does).
func waveOf(obj *unstructured.Unstructured) int {
	ann := obj.GetAnnotations()
	for _, key := range []string{AnnotationSyncWave, AnnotationHelmHookWeight} {
		if text, ok := ann[key]; ok {
			if n, err := strconv.Atoi(strings.TrimSpace(text)); err == nil {
				return n
			}
			if key == AnnotationSyncWave {
				return 0
			}
		}
	}
	return 0
}

// hookName gives a hook that has only generateName the name Argo CD would give it:
// the same within one operation (so a retry finds it), new for the next one.
func hookName(obj *unstructured.Unstructured, phase SyncPhase, revision string, started time.Time) string {
	if obj.GetName() != "" {
		return obj.GetName()
	}
	if len(revision) > 7 {
		revision = revision[:7]
	}
	suffix := fmt.Sprintf("%s-%d", phase, started.UTC().Unix())
	if revision != "" {
		suffix = revision + "-" + suffix
	}
	return obj.GetGenerateName() + strings.ToLower(suffix)
}
