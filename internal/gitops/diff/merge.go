package diff

import (
	"encoding/json"
	"math"

	"k8s.io/apimachinery/pkg/api/resource"
)

// merger computes the predicted live object, what live becomes once desired is
// applied, and whether it differs from live. Where desired agrees with live
// (semantically: 1 and 1.0, "1" and "1000m" as a quantity) live's value is
// kept, so an unmodified object predicts exactly its live self.
type merger struct {
	// threeWay: live said what was applied before (prev), so removals are known.
	threeWay bool
}

// object merges the map desired into the map live. q says the values are
// resource quantities (the map is under limits or requests).
func (m merger) object(desired, live map[string]any, prev *applied, t typeInfo, q bool) (map[string]any, bool) {
	out := make(map[string]any, len(live))
	for k, v := range live {
		out[k] = v
	}
	changed := false
	set := func(k string, nv, lv any, ch bool) {
		out[k] = nv
		if isEmpty(nv) && !isEmpty(lv) {
			delete(out, k) // emptied by removals: the server stores no empty map
		}
		changed = changed || ch
	}
	for k, dv := range desired {
		if dv == nil {
			continue // null: no opinion (Helm renders empty values this way)
		}
		cq := q || isQuantities(k)
		lv, ok := live[k]
		switch {
		case !ok || lv == nil:
			if !isEmpty(dv) { // an empty map or list is the same as none
				out[k], changed = dv, true
			}
		case isList(dv) && isList(lv):
			nv, ch := m.list(dv.([]any), lv.([]any), prev.field(k), t.list(k), cq)
			set(k, nv, lv, ch)
		default:
			nv, ch := m.value(dv, lv, prev.field(k), t.field(k), cq)
			set(k, nv, lv, ch)
		}
	}
	if !m.threeWay {
		return out, changed
	}
	// Fields applied before and absent from desired now: what was applied goes,
	// what others added under the same field stays.
	for k, lv := range live {
		pk := prev.field(k)
		if _, inDesired := desired[k]; inDesired || pk == nil {
			continue
		}
		switch l := lv.(type) {
		case map[string]any:
			if !pk.isLeaf() {
				nv, ch := m.object(map[string]any{}, l, pk, t.field(k), q)
				set(k, nv, lv, ch)
				continue
			}
		case []any:
			if pk.fields != nil && !pk.isLeaf() {
				nv, ch := m.list([]any{}, l, pk, t.list(k), q)
				set(k, nv, lv, ch)
				continue
			}
		}
		delete(out, k)
		changed = true
	}
	return out, changed
}

// value merges one desired value into the live one. quantity says the values
// are resource quantities (under limits or requests).
func (m merger) value(desired, live any, prev *applied, t typeInfo, quantity bool) (any, bool) {
	switch d := desired.(type) {
	case map[string]any:
		if l, ok := live.(map[string]any); ok {
			return m.object(d, l, prev, t, quantity)
		}
		return desired, true
	case []any: // a list in a list: no type information reaches here
		if l, ok := live.([]any); ok {
			return m.list(d, l, prev, listKind{}, false)
		}
		return desired, true
	}
	if scalarEqual(desired, live, quantity) {
		return live, false
	}
	return desired, true
}

// list merges a desired list into the live one, the way applying it would.
func (m merger) list(desired, live []any, prev *applied, kind listKind, quantity bool) ([]any, bool) {
	switch {
	case kind.mergeKey != "" && allHaveKey(desired, kind.mergeKey):
		return m.keyedList(desired, live, prev, kind)
	case kind.merge && !hasMaps(desired):
		return m.setList(desired, live, prev)
	}
	return m.positionalList(desired, live, prev, kind.elem, quantity)
}

// keyedList matches elements by their merge key (containers by name). A live
// element desired does not name is a removal if it was applied before or, in a
// two-way comparison, always: the list in git is taken as complete.
func (m merger) keyedList(desired, live []any, prev *applied, kind listKind) ([]any, bool) {
	used := make([]bool, len(desired))
	out := make([]any, 0, len(live)+len(desired))
	changed := false
	for i, le := range live {
		j := -1
		if lm, ok := le.(map[string]any); ok {
			j = indexByKey(desired, used, kind.mergeKey, lm[kind.mergeKey])
		}
		if j < 0 {
			if !m.threeWay || prev.element(le, kind.mergeKey, i) != nil {
				changed = true
				continue
			}
			out = append(out, le)
			continue
		}
		used[j] = true
		nv, ch := m.value(desired[j], le, prev.element(desired[j], kind.mergeKey, j), kind.elem, false)
		out = append(out, nv)
		changed = changed || ch
	}
	for j, de := range desired {
		if !used[j] {
			out = append(out, de)
			changed = true
		}
	}
	return out, changed
}

// setList merges a list of scalars with the merge strategy (finalizers): each
// desired value must be there; other values stay unless applied before, since
// such lists are shared with controllers.
func (m merger) setList(desired, live []any, prev *applied) ([]any, bool) {
	out := make([]any, 0, len(live)+len(desired))
	changed := false
	for i, lv := range live {
		if indexOf(desired, lv) < 0 && m.threeWay && prev.element(lv, "", i) != nil {
			changed = true
			continue
		}
		out = append(out, lv)
	}
	for _, dv := range desired {
		if indexOf(live, dv) < 0 {
			out = append(out, dv)
			changed = true
		}
	}
	return out, changed
}

// positionalList compares element by element: an apply replaces such a list
// whole, so a different length is a difference, but within an element only
// the fields desired sets count (the server may default the rest).
func (m merger) positionalList(desired, live []any, prev *applied, elem typeInfo, quantity bool) ([]any, bool) {
	out := make([]any, len(desired))
	changed := len(desired) != len(live)
	for i, de := range desired {
		if i >= len(live) {
			out[i] = de
			continue
		}
		nv, ch := m.value(de, live[i], prev.element(de, "", i), elem, quantity)
		out[i] = nv
		changed = changed || ch
	}
	return out, changed
}

func allHaveKey(list []any, key string) bool {
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok || m[key] == nil {
			return false
		}
	}
	return true
}

func isList(v any) bool {
	_, ok := v.([]any)
	return ok
}

func hasMaps(list []any) bool {
	for _, e := range list {
		if _, ok := e.(map[string]any); ok {
			return true
		}
	}
	return false
}

func indexByKey(list []any, used []bool, key string, want any) int {
	for j, e := range list {
		if !used[j] && scalarEqual(e.(map[string]any)[key], want, false) {
			return j
		}
	}
	return -1
}

func indexOf(list []any, v any) int {
	for i, e := range list {
		if scalarEqual(e, v, false) {
			return i
		}
	}
	return -1
}

// isQuantities reports whether the values under map key k are resource
// quantities. Built-in kinds have their quantities made canonical by
// typedNormalize; this catches pod templates inside custom resources.
func isQuantities(k string) bool {
	return k == "limits" || k == "requests"
}

func isEmpty(v any) bool {
	switch t := v.(type) {
	case nil:
		return true
	case map[string]any:
		return len(t) == 0
	case []any:
		return len(t) == 0
	}
	return false
}

// scalarEqual compares two scalars by meaning: numbers by value whatever their
// Go type (YAML and JSON decoders disagree on int64 and float64), quantities by
// amount when quantity is set.
func scalarEqual(a, b any, quantity bool) bool {
	if !isScalar(a) || !isScalar(b) {
		return false
	}
	if na, ok := number(a); ok {
		nb, ok := number(b)
		return ok && na == nb
	}
	if a == b {
		return true
	}
	sa, okA := a.(string)
	sb, okB := b.(string)
	if !quantity || !okA || !okB {
		return false
	}
	qa, errA := resource.ParseQuantity(sa)
	qb, errB := resource.ParseQuantity(sb)
	return errA == nil && errB == nil && qa.Cmp(qb) == 0
}

func isScalar(v any) bool {
	switch v.(type) {
	case map[string]any, []any:
		return false
	}
	return true
}

// number returns v as a float64 if it is a number. Integers beyond 2^53 lose
// precision, which no Kubernetes field comes near.
func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int64:
		return float64(n), true
	case int:
		return float64(n), true
	case int32:
		return float64(n), true
	case float64:
		return n, !math.IsNaN(n)
	case float32:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}
