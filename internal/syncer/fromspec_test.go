package syncer

import (
	"slices"
	"testing"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
)

func TestFromSpec(t *testing.T) {
	yes, no := true, false
	for _, c := range []struct {
		name                string
		spec                *platformv1alpha1.SyncSpec
		run                 bool
		toHost              []string
		syncNodes, syncEvts bool
	}{
		{"no spec: every kind, events, placeholder nodes", nil, true, nil, false, true},
		{"empty spec", &platformv1alpha1.SyncSpec{}, true, nil, false, true},
		{"an empty list syncs nothing", &platformv1alpha1.SyncSpec{ToHost: []platformv1alpha1.SyncKind{}}, false, nil, false, true},
		{"some kinds", &platformv1alpha1.SyncSpec{ToHost: []platformv1alpha1.SyncKind{"pods", "services"}}, true, []string{"pods", "services"}, false, true},
		{"host nodes, no events", &platformv1alpha1.SyncSpec{FromHost: &platformv1alpha1.FromHostSync{Nodes: &yes, Events: &no}}, true, nil, true, false},
		{"fromHost without values keeps the defaults", &platformv1alpha1.SyncSpec{FromHost: &platformv1alpha1.FromHostSync{}}, true, nil, false, true},
	} {
		// Set as a previous start of the same cluster would have: nothing carries over.
		o := Options{ToHost: []string{"secrets"}, SyncNodes: true, SyncEvents: false}
		run := o.FromSpec(c.spec)
		if run != c.run || (run && (!slices.Equal(o.ToHost, c.toHost) || o.SyncNodes != c.syncNodes || o.SyncEvents != c.syncEvts)) {
			t.Errorf("%s: run %v, ToHost %v, nodes %v, events %v; want %v, %v, %v, %v",
				c.name, run, o.ToHost, o.SyncNodes, o.SyncEvents, c.run, c.toHost, c.syncNodes, c.syncEvts)
		}
	}
}
