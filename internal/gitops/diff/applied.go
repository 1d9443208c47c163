package diff

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

const lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

// applied is what the previous apply set, walked alongside desired and live to
// tell a field someone removed from git (applied before, absent now: a
// difference) from one a controller or the API server added (never applied:
// not ours to compare). It comes in one of two forms: the object kubectl
// recorded in its last-applied-configuration annotation, or the fieldsV1 set
// that server-side apply recorded for a field manager. A nil *applied means
// "not applied before"; every method is nil-safe.
type applied struct {
	obj    any            // last-applied form: the value at this point
	fields map[string]any // managed-fields form: the fieldsV1 set at this point
}

// previouslyApplied returns what was applied to live before, or nil when live
// does not say: the managed fields of manager (if given and found) or else the
// last-applied-configuration annotation.
func previouslyApplied(live *unstructured.Unstructured, manager string) *applied {
	if manager != "" {
		for _, mf := range live.GetManagedFields() {
			if mf.Manager != manager || mf.Operation != metav1.ManagedFieldsOperationApply || mf.Subresource != "" || mf.FieldsV1 == nil {
				continue
			}
			var set map[string]any
			if json.Unmarshal(mf.FieldsV1.Raw, &set) == nil {
				return &applied{fields: set}
			}
		}
	}
	raw, ok := live.GetAnnotations()[lastAppliedAnnotation]
	if !ok {
		return nil
	}
	prev := &unstructured.Unstructured{}
	if err := prev.UnmarshalJSON([]byte(raw)); err != nil {
		return nil
	}
	if isSecret(prev.GroupVersionKind().GroupKind()) {
		foldStringData(prev.Object)
	}
	return &applied{obj: prev.Object}
}

// field returns what was applied under the map key name.
func (a *applied) field(name string) *applied {
	switch {
	case a == nil:
		return nil
	case a.fields != nil:
		if sub, ok := a.fields["f:"+name].(map[string]any); ok {
			return &applied{fields: sub}
		}
	default:
		if m, ok := a.obj.(map[string]any); ok {
			if v, ok := m[name]; ok {
				return &applied{obj: v}
			}
		}
	}
	return nil
}

// isLeaf reports whether a whole value was applied rather than some of its
// fields: a scalar or a list in the last-applied form (kubectl replaces or
// deletes such a list whole), an entry without children in the fieldsV1 form.
func (a *applied) isLeaf() bool {
	if a.fields != nil {
		return isLeaf(a.fields)
	}
	_, isMap := a.obj.(map[string]any)
	return !isMap
}

// element returns what was applied for the list element elem, found by its
// merge key when the list has one, by value for a list of scalars, else by
// position.
func (a *applied) element(elem any, mergeKey string, index int) *applied {
	if a == nil {
		return nil
	}
	if a.fields != nil {
		if _, sub := fieldsElement(a.fields, elem, index); sub != nil {
			return &applied{fields: sub}
		}
		return nil
	}
	list, ok := a.obj.([]any)
	if !ok {
		return nil
	}
	em, isMap := elem.(map[string]any)
	for i, pe := range list {
		switch pm, ok := pe.(map[string]any); {
		case mergeKey != "" && isMap && ok:
			if kv, ok := em[mergeKey]; ok && scalarEqual(pm[mergeKey], kv, false) {
				return &applied{obj: pe}
			}
		case mergeKey == "" && !isMap:
			if scalarEqual(pe, elem, false) {
				return &applied{obj: pe}
			}
		case mergeKey == "" && i == index:
			return &applied{obj: pe}
		}
	}
	return nil
}

// fieldsElement finds the fieldsV1 entry of a list element, and its key:
// "k:{...}" for an element of an associative list, "v:<json>" for a set
// member, "i:<n>" for a position.
func fieldsElement(set map[string]any, elem any, index int) (string, map[string]any) {
	em, isMap := elem.(map[string]any)
	for key, sub := range set {
		subset, _ := sub.(map[string]any)
		switch {
		case isMap && strings.HasPrefix(key, "k:"):
			if keyMatches(key, em) {
				return key, subset
			}
		case !isMap && strings.HasPrefix(key, "v:"):
			var v any
			if json.Unmarshal([]byte(key[2:]), &v) == nil && scalarEqual(v, elem, false) {
				return key, subset
			}
		case key == "i:"+strconv.Itoa(index):
			return key, subset
		}
	}
	return "", nil
}

// keyMatches reports whether elem matches the associative-list key "k:{...}".
// A key field elem does not set is not held against it: server-side apply keys
// include defaulted fields (ports by containerPort and protocol) that a
// manifest usually leaves out.
func keyMatches(key string, elem map[string]any) bool {
	var fields map[string]any
	if json.Unmarshal([]byte(key[2:]), &fields) != nil || len(fields) == 0 {
		return false
	}
	matched := false
	for name, want := range fields {
		got, ok := elem[name]
		if !ok {
			continue
		}
		if !scalarEqual(got, want, false) {
			return false
		}
		matched = true
	}
	return matched
}

// removeOwned removes from obj every field the fieldsV1 set owns, and returns
// what is left: Argo CD's ignoreDifferences.managedFieldsManagers, for fields
// another manager (an HPA writing spec.replicas, say) is trusted to change.
func removeOwned(obj any, set map[string]any) any {
	switch o := obj.(type) {
	case map[string]any:
		for key, sub := range set {
			name, ok := strings.CutPrefix(key, "f:")
			if !ok {
				continue
			}
			child, present := o[name]
			if !present {
				continue
			}
			if subset, _ := sub.(map[string]any); isLeaf(subset) {
				delete(o, name)
			} else {
				o[name] = removeOwned(child, subset)
			}
		}
		return o
	case []any:
		// Element keys are looked up in live's numbering ("i:n"), so the list is
		// rebuilt rather than shrunk while walking it.
		kept := make([]any, 0, len(o))
		for i, elem := range o {
			key, sub := fieldsElement(set, elem, i)
			switch {
			case sub == nil:
				kept = append(kept, elem)
			case isLeaf(sub):
				// the whole element is owned: drop it
			default:
				// Keep the fields that identify the element, or it could no
				// longer be matched with its counterpart on the other side.
				kept = append(kept, removeOwned(elem, withoutKeyFields(sub, key)))
			}
		}
		return kept
	}
	return obj
}

// withoutKeyFields returns sub without the fields named in its "k:{...}" key.
func withoutKeyFields(sub map[string]any, key string) map[string]any {
	var fields map[string]any
	if !strings.HasPrefix(key, "k:") || json.Unmarshal([]byte(key[2:]), &fields) != nil {
		return sub
	}
	out := make(map[string]any, len(sub))
	for k, v := range sub {
		if _, isKey := fields[strings.TrimPrefix(k, "f:")]; !isKey {
			out[k] = v
		}
	}
	return out
}

// isLeaf reports whether a fieldsV1 entry owns a whole value: no children, or
// only "." (the element itself).
func isLeaf(set map[string]any) bool {
	for k := range set {
		if k != "." {
			return false
		}
	}
	return true
}

// managedBy returns the fieldsV1 sets of live's managers named in managers.
func managedBy(live *unstructured.Unstructured, managers []string) []map[string]any {
	var sets []map[string]any
	for _, mf := range live.GetManagedFields() {
		if !slices.Contains(managers, mf.Manager) || mf.FieldsV1 == nil {
			continue
		}
		var set map[string]any
		if json.Unmarshal(mf.FieldsV1.Raw, &set) == nil {
			sets = append(sets, set)
		}
	}
	return sets
}
