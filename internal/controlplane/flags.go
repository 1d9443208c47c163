package controlplane

import (
	"maps"
	"slices"
)

// Flags holds a component's command-line flags without their leading dashes.
// A value of "" is passed as "--name=" (an explicit empty value); use Remove to drop one.
type Flags map[string]string

// With returns a copy of f with over applied on top.
func (f Flags) With(over Flags) Flags {
	out := maps.Clone(f)
	if out == nil {
		out = Flags{}
	}
	maps.Copy(out, over)
	return out
}

// Args renders the flags sorted by name, so the same settings always give the same
// command line (and golden tests stay stable).
func (f Flags) Args() []string {
	names := slices.Sorted(maps.Keys(f))
	args := make([]string, 0, len(names))
	for _, n := range names {
		args = append(args, "--"+n+"="+f[n])
	}
	return args
}
