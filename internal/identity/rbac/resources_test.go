package rbac

import (
	"strings"
	"testing"
)

// sampleAction turns a table action into one a request would carry.
func sampleAction(a string) string {
	if verb, ok := strings.CutSuffix(a, "/*"); ok {
		return verb + "/apps/Deployment/ns/web"
	}
	return a
}

func sampleObject(r ResourceSpec) string {
	if r.ProjectScoped {
		return "team-a/thing"
	}
	return "thing"
}

// TestBuiltinPolicyMatchesTable keeps builtin-policy.csv and Resources() in
// step: role:admin has every action of the table, role:readonly has get
// exactly where the table says Readable and nothing else.
func TestBuiltinPolicyMatchesTable(t *testing.T) {
	e := newEnforcer(t, "g, ada, role:admin\ng, rob, role:readonly", "", "")
	for _, r := range Resources() {
		if ProjectScoped(r.Name) != r.ProjectScoped {
			t.Errorf("ProjectScoped(%q) = %v, table says %v", r.Name, !r.ProjectScoped, r.ProjectScoped)
		}
		obj := sampleObject(r)
		for _, a := range r.Actions {
			act := sampleAction(a)
			if !e.Enforce(subs("ada"), r.Name, act, obj) {
				t.Errorf("role:admin cannot %s %s %s", act, r.Name, obj)
			}
			wantRead := act == ActionGet && r.Readable
			if got := e.Enforce(subs("rob"), r.Name, act, obj); got != wantRead {
				t.Errorf("role:readonly %s %s %s = %v, want %v", act, r.Name, obj, got, wantRead)
			}
		}
	}
}

// TestBuiltinPolicyOnlyNamesTableEntries catches a typo in
// builtin-policy.csv: every resource and plain action it names is in the
// table.
func TestBuiltinPolicyOnlyNamesTableEntries(t *testing.T) {
	actions := map[string]map[string]bool{}
	for _, r := range Resources() {
		actions[r.Name] = map[string]bool{}
		for _, a := range r.Actions {
			actions[r.Name][a] = true
		}
	}
	lines, err := parsePolicy(sourceBuiltin, BuiltinPolicy())
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lines {
		if l.group {
			continue
		}
		res, act := l.fields[1], l.fields[2]
		if !actions[res][act] {
			t.Errorf("built-in policy line %d: %s %s is not in the table", l.line, res, act)
		}
	}
}

func TestModelParses(t *testing.T) {
	// build parses model.conf with casbin on every reload; an empty build
	// must succeed.
	if _, err := build(nil, ""); err != nil {
		t.Fatal(err)
	}
}
