package statuswrite

import (
	"encoding/json"
	"reflect"
	"testing"
)

func list(t *testing.T, s string) []any {
	t.Helper()
	var out []any
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// The change is made type by type; made on the list it was computed from it
// gives the computed list exactly, order included, or the reconciler would
// see a difference and write again at every reconcile.
func TestConditionChangeApply(t *testing.T) {
	for _, c := range []struct {
		name                         string
		base, desired, current, want string
	}{
		{"on its own base: the desired list, reordered",
			`[{"type":"A","m":"1"},{"type":"B","m":"1"}]`, `[{"type":"B","m":"2"},{"type":"A","m":"1"},{"type":"C"}]`,
			`[{"type":"A","m":"1"},{"type":"B","m":"1"}]`, `[{"type":"B","m":"2"},{"type":"A","m":"1"},{"type":"C"}]`},
		{"another writer's new type and its change to an untouched type are kept",
			`[{"type":"A","m":"1"},{"type":"B","m":"1"}]`, `[{"type":"A","m":"1"},{"type":"B","m":"2"}]`,
			`[{"type":"X"},{"type":"A","m":"9"},{"type":"B","m":"1"}]`, `[{"type":"A","m":"9"},{"type":"B","m":"2"},{"type":"X"}]`},
		{"a removed type stays removed, an untouched one removed by another is gone",
			`[{"type":"A"},{"type":"B"},{"type":"C"}]`, `[{"type":"A"},{"type":"C","m":"2"}]`,
			`[{"type":"B"},{"type":"C"}]`, `[{"type":"C","m":"2"}]`},
		{"a type listed twice is one group",
			`[{"type":"E","m":"1"}]`, `[{"type":"E","m":"1"},{"type":"E","m":"2"}]`,
			`[{"type":"E","m":"1"},{"type":"W"}]`, `[{"type":"E","m":"1"},{"type":"E","m":"2"},{"type":"W"}]`},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, _ := byType(list(t, c.base))
			d, _ := byType(list(t, c.desired))
			got := (&conditionChange{base: b, desired: d}).apply(list(t, c.current))
			if want := list(t, c.want); !reflect.DeepEqual(got, want) {
				g, _ := json.Marshal(got)
				t.Errorf("got %s, want %s", g, c.want)
			}
		})
	}
}
