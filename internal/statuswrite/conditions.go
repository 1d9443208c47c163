package statuswrite

import (
	"bytes"
	"encoding/json"
	"reflect"
)

// conditionChange is what a reconcile did to status.conditions, type by
// type: conditions are a list keyed by type (listType=map), and a merge
// patch replaces a list whole, so a change computed from a copy that lacks
// another writer's condition would delete it.
type conditionChange struct {
	base, desired typed
}

// typed is a condition list grouped by type, in the order types first appear
// (a kind may list a type more than once: Argo CD's application conditions).
type typed struct {
	order  []string
	groups map[string][]any
}

// conditionChangeOf compares the conditions of base and desired; nil when
// either has a list whose entries are not keyed by a string type, whose
// change is then sent as computed.
func conditionChangeOf(base, desired any) (*conditionChange, error) {
	b, err := conditionsOf(base)
	if err != nil {
		return nil, err
	}
	d, err := conditionsOf(desired)
	if err != nil {
		return nil, err
	}
	bt, ok1 := byType(b)
	dt, ok2 := byType(d)
	if !ok1 || !ok2 {
		return nil, nil
	}
	return &conditionChange{base: bt, desired: dt}, nil
}

// apply makes the change on the list current (the server's): the desired
// conditions in the desired order, except that a type the reconcile left as
// it found it is taken from current (another writer may have changed it);
// then the types another writer added since. A type the reconcile removed
// stays removed. Applied to the base list it gives the desired list exactly.
func (c *conditionChange) apply(current []any) []any {
	now, ok := byType(current)
	if !ok {
		return flatten(c.desired, c.desired.order)
	}
	var out []any
	for _, t := range c.desired.order {
		if reflect.DeepEqual(c.desired.groups[t], c.base.groups[t]) {
			out = append(out, now.groups[t]...)
		} else {
			out = append(out, c.desired.groups[t]...)
		}
	}
	for _, t := range now.order {
		_, inDesired := c.desired.groups[t]
		_, inBase := c.base.groups[t]
		if !inDesired && !inBase {
			out = append(out, now.groups[t]...)
		}
	}
	return out
}

func flatten(t typed, order []string) []any {
	var out []any
	for _, k := range order {
		out = append(out, t.groups[k]...)
	}
	return out
}

// byType groups a condition list by its entries' "type"; false when an entry
// has none.
func byType(list []any) (typed, bool) {
	t := typed{groups: map[string][]any{}}
	for _, e := range list {
		m, _ := e.(map[string]any)
		k, ok := m["type"].(string)
		if !ok {
			return typed{}, false
		}
		if _, seen := t.groups[k]; !seen {
			t.order = append(t.order, k)
		}
		t.groups[k] = append(t.groups[k], e)
	}
	return t, true
}

// conditionsOf returns obj's status.conditions as JSON values.
func conditionsOf(obj any) ([]any, error) {
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	m, err := decode(data)
	if err != nil {
		return nil, err
	}
	status, _ := m["status"].(map[string]any)
	list, _ := status["conditions"].([]any)
	return list, nil
}

// decode reads a JSON object keeping numbers as written.
func decode(data []byte) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, err
	}
	return m, nil
}
