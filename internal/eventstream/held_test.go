package eventstream

import "testing"

// What a client hears of one object through its life: added when it may see
// it, modified while it may, deleted once it may not (or the object goes), and
// nothing about objects it never held.
func TestHeldTellsEachChangeAsTheClientSeesIt(t *testing.T) {
	h := Held{}
	steps := []struct {
		show bool
		want Type
		ok   bool
	}{
		{false, "", false},     // exists, not visible: silence
		{true, Added, true},    // becomes visible
		{true, Modified, true}, // changes
		{false, Deleted, true}, // right revoked (or deleted)
		{false, "", false},     // still invisible: silence
		{true, Added, true},    // visible again: new to the client
	}
	for i, s := range steps {
		got, ok := h.Tell("p/a", s.show)
		if got != s.want || ok != s.ok {
			t.Fatalf("step %d (show=%v): got %q %v, want %q %v", i, s.show, got, ok, s.want, s.ok)
		}
	}
	if _, ok := h.Tell("p/other", false); ok {
		t.Fatal("an object never held was told about")
	}
}
