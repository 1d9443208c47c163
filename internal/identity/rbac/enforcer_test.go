package rbac

import (
	"errors"
	"strings"
	"sync"
	"testing"
)

// check is one decision and its expected answer.
type check struct {
	subjects         []string
	res, act, object string
	want             bool
}

func newEnforcer(t *testing.T, policyCSV, defaultRole, mode string) *Enforcer {
	t.Helper()
	e, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.SetPolicy(policyCSV, defaultRole, mode); err != nil {
		t.Fatal(err)
	}
	return e
}

func runChecks(t *testing.T, e *Enforcer, checks []check) {
	t.Helper()
	for _, c := range checks {
		if got := e.Enforce(c.subjects, c.res, c.act, c.object); got != c.want {
			t.Errorf("Enforce(%q, %s, %s, %s) = %v, want %v", c.subjects, c.res, c.act, c.object, got, c.want)
		}
	}
}

func subs(s ...string) []string { return s }

func TestEnforce(t *testing.T) {
	tests := []struct {
		name        string
		policy      string
		defaultRole string
		mode        string
		checks      []check
	}{
		{
			name:   "built-in admin",
			policy: "g, alice, role:admin",
			checks: []check{
				{subs("alice"), "clusters", "delete", "prod", true},
				{subs("alice"), "applications", "sync", "default/web", true},
				{subs("alice"), "applications", "action/apps/Deployment/restart", "default/web", true},
				{subs("alice"), "applications", "delete/apps/Deployment/ns/web", "default/web", true},
				{subs("alice"), "virtualclusters", "connect", "default/vc1", true},
				{subs("alice"), "accesskeys", "get", "k1", true},
				{subs("alice"), "applications", "get", "default/web", true}, // inherited from role:readonly
				{subs("alice"), "certificates", "create", "x", false},       // not a gantry resource
				{subs("bob"), "clusters", "delete", "prod", false},
			},
		},
		{
			name:   "built-in readonly",
			policy: "g, bob, role:readonly",
			checks: []check{
				{subs("bob"), "applications", "get", "default/web", true},
				{subs("bob"), "virtualclusters", "get", "default/vc1", true},
				{subs("bob"), "logs", "get", "default/web", true},
				{subs("bob"), "projects", "get", "default", true},
				{subs("bob"), "applications", "sync", "default/web", false},
				{subs("bob"), "virtualclusters", "connect", "default/vc1", false},
				{subs("bob"), "exec", "create", "default/web", false},
				{subs("bob"), "accesskeys", "get", "k1", false},
				{subs("bob"), "oidcclients", "get", "ui", false},
			},
		},
		{
			name: "custom role in policy.csv",
			policy: `
# deployers sync what is in default
p, role:deployer, applications, sync, default/*, allow
p, role:deployer, applications, get, default/*, allow
g, carol, role:deployer`,
			checks: []check{
				{subs("carol"), "applications", "sync", "default/web", true},
				{subs("carol"), "applications", "sync", "other/web", false},
				{subs("carol"), "applications", "delete", "default/web", false},
				{subs("role:deployer"), "applications", "sync", "default/web", true},
			},
		},
		{
			name:   "g from a group to a role",
			policy: "g, team:platform, role:admin\ng, okta:sre, team:platform",
			checks: []check{
				{subs("dave", "team:platform"), "clusters", "delete", "prod", true},
				{subs("dave", "okta:sre"), "clusters", "delete", "prod", true}, // two levels of g
				{subs("dave"), "clusters", "delete", "prod", false},
			},
		},
		{
			name: "deny overrides allow",
			policy: `p, role:deployer, applications, sync, */*, allow
p, role:deployer, applications, sync, prod/*, deny
g, erin, role:deployer
p, erin, applications, delete, */*, allow
p, team:frozen, applications, delete, */*, deny`,
			checks: []check{
				{subs("erin"), "applications", "sync", "dev/web", true},
				{subs("erin"), "applications", "sync", "prod/web", false},
				{subs("erin"), "applications", "delete", "dev/web", true},
				{subs("erin", "team:frozen"), "applications", "delete", "dev/web", false}, // a group's deny wins
			},
		},
		{
			name: "glob objects",
			policy: `p, frank, applications, get, default/*, allow
p, frank, applications, sync, */web, allow
p, frank, clusters, get, *, allow
p, frank, applications, action/apps/*, default/*, allow
p, frank, virtualclusters, "{sleep,wake}", team-?/*, allow`,
			checks: []check{
				{subs("frank"), "applications", "get", "default/web", true},
				{subs("frank"), "applications", "get", "other/web", false},
				{subs("frank"), "applications", "sync", "other/web", true},
				{subs("frank"), "applications", "sync", "default/api", false},
				{subs("frank"), "applications", "sync", "default/web2", false},
				{subs("frank"), "clusters", "get", "a/b", true}, // "*" crosses "/"
				{subs("frank"), "applications", "action/apps/Deployment/restart", "default/web", true},
				{subs("frank"), "applications", "action//Pod/restart", "default/web", false},
				{subs("frank"), "virtualclusters", "wake", "team-a/vc", true},
				{subs("frank"), "virtualclusters", "delete", "team-a/vc", false},
				{subs("frank"), "virtualclusters", "sleep", "team-ab/vc", false},
			},
		},
		{
			name: "regex mode",
			mode: MatchRegex,
			policy: `p, grace, applications, get, ^default/(web|api)$, allow
p, heidi, applications, get, .*, allow
g, ivan, role:readonly`,
			checks: []check{
				{subs("grace"), "applications", "get", "default/web", true},
				{subs("grace"), "applications", "get", "default/db", false},
				{subs("grace"), "applications", "get", "xdefault/web", false},
				// unanchored, as in Argo CD: "applications" also matches applicationsets
				{subs("heidi"), "applicationsets", "get", "default/x", true},
				// the built-in policy stays glob
				{subs("ivan"), "applications", "get", "default/web", true},
			},
		},
		{
			name:        "default role",
			defaultRole: "role:readonly",
			policy:      "p, judy, applications, get, */*, deny",
			checks: []check{
				{subs("nobody"), "applications", "get", "default/web", true},
				{subs("nobody"), "applications", "sync", "default/web", false},
				{nil, "applications", "get", "default/web", false}, // anonymous
				{subs(""), "applications", "get", "default/web", false},
				{subs("judy"), "applications", "get", "default/web", true}, // a deny cannot take it back
			},
		},
		{
			name:        "custom default role",
			defaultRole: "role:authenticated",
			policy:      "p, role:authenticated, projects, get, *, allow",
			checks: []check{
				{subs("kim"), "projects", "get", "web", true},
				{subs("kim"), "applications", "get", "web/app", false},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runChecks(t, newEnforcer(t, tt.policy, tt.defaultRole, tt.mode), tt.checks)
		})
	}
}

func TestNewWithOptions(t *testing.T) {
	e, err := New(Options{DefaultRole: "role:readonly", MatchMode: MatchRegex})
	if err != nil {
		t.Fatal(err)
	}
	runChecks(t, e, []check{{subs("x"), "applications", "get", "a/b", true}})
	if _, err := New(Options{MatchMode: "fnmatch"}); err == nil || !strings.Contains(err.Error(), "policy.matchMode") {
		t.Fatalf("New with a bad match mode: err = %v", err)
	}
}

func TestSetPolicyRejectsBrokenCSV(t *testing.T) {
	good := "p, role:deployer, applications, sync, default/*, allow\ng, carol, role:deployer"
	tests := []struct {
		name, policy, mode string
		line               int
		reason             string
	}{
		{"missing field", "g, carol, role:deployer\n\np, role:x, applications, get, */*", "", 3, "a p line needs 6 fields"},
		{"g with a p's fields", "g, carol, role:x, extra", "", 1, "a g line needs 3 fields"},
		{"unknown type", "# comment\nq, a, b", "", 2, `unknown line type "q"`},
		{"bad effect", "p, a, applications, get, */*, Allow", "", 1, "effect must be allow or deny"},
		{"empty field", "p, , applications, get, */*, allow", "", 1, "field 2 is empty"},
		{"trailing space", "p, alice , applications, get, */*, allow", "", 1, "trailing space"},
		{"bare quote", `p, al"ice, applications, get, */*, allow`, "", 1, "malformed CSV"},
		{"carriage return inside", "p, a, applications, get, */*, allow\rg, a, role:admin", "", 1, "got 8"},
		{"bad glob", "\n\n\n\np, a, applications, get, [web, allow", "", 5, "invalid glob"},
		{"bad regex", "p, a, applications, get, (web, allow", MatchRegex, 1, "invalid regular expression"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnforcer(t, good, "", "")
			err := e.SetPolicy(tt.policy, "role:admin", tt.mode)
			var pe *PolicyError
			if !errors.As(err, &pe) {
				t.Fatalf("SetPolicy = %v, want a *PolicyError", err)
			}
			if pe.Source != "policy.csv" || pe.Line != tt.line || !strings.Contains(pe.Reason, tt.reason) {
				t.Fatalf("got %q (line %d), want line %d and %q", err, pe.Line, tt.line, tt.reason)
			}
			if !strings.Contains(err.Error(), "policy.csv line ") {
				t.Fatalf("message %q does not name the line", err)
			}
			// the previous policy, default role included, stays in force
			runChecks(t, e, []check{
				{subs("carol"), "applications", "sync", "default/web", true},
				{subs("carol"), "clusters", "delete", "prod", false},
			})
			if csv, def, _, _ := e.Policy(); csv != good || def != "" {
				t.Fatalf("Policy() = %q, %q after a rejected SetPolicy", csv, def)
			}
		})
	}
}

func TestPolicyErrorMessage(t *testing.T) {
	e := newEnforcer(t, "", "", "")
	err := e.SetPolicy("g, a, role:admin\np, alice, applications, sync, default/web", "", "")
	want := `policy.csv line 2: a p line needs 6 fields (p, subject, resource, action, object, effect), got 5: "p, alice, applications, sync, default/web"`
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v\nwant    %s", err, want)
	}
}

func TestDenied(t *testing.T) {
	err := Denied("alice", "applications", "sync", "default/web")
	if got, want := err.Error(), "permission denied: alice cannot sync applications default/web"; got != want {
		t.Fatalf("Denied = %q, want %q", got, want)
	}
	var pd *PermissionDeniedError
	if !errors.As(err, &pd) || pd.Object != "default/web" {
		t.Fatalf("errors.As(*PermissionDeniedError) failed on %v", err)
	}
	if got := Denied("", "projects", "create", "").Error(); got != "permission denied: anonymous cannot create projects" {
		t.Fatalf("Denied without user or object = %q", got)
	}

	e := newEnforcer(t, "g, alice, role:readonly", "", "")
	if err := e.Authorize(subs("alice", "team:x"), "applications", "get", "default/web"); err != nil {
		t.Fatalf("Authorize allowed = %v", err)
	}
	err = e.Authorize(subs("alice", "team:x"), "applications", "sync", "default/web")
	if err == nil || err.Error() != "permission denied: alice cannot sync applications default/web" {
		t.Fatalf("Authorize refused = %v", err)
	}
}

// TestReloadIsAtomic flips between two policies while readers decide; every
// answer must come from one policy or the other, never from a mix, and never
// a race (go test -race).
func TestReloadIsAtomic(t *testing.T) {
	a := "p, u, applications, get, */*, allow\np, u, clusters, get, *, allow"
	b := "p, u, applications, get, */*, deny\np, u, clusters, get, *, deny"
	e := newEnforcer(t, a, "", "")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				e.Enforce(subs("u"), "applications", "get", "p/a") // races, if any, show here
				s := e.current.Load()
				if s.decide(subs("u"), "applications", "get", "p/a") != s.decide(subs("u"), "clusters", "get", "c") {
					t.Error("a snapshot answers from two policies")
					return
				}
			}
		}()
	}
	for i := range 200 {
		policy := a
		if i%2 == 1 {
			policy = b
		}
		if err := e.SetPolicy(policy, "", ""); err != nil {
			t.Fatal(err)
		}
		if got, want := e.Enforce(subs("u"), "clusters", "get", "c"), policy == a; got != want {
			t.Fatalf("after reload %d: Enforce = %v, want %v", i, got, want)
		}
	}
	close(stop)
	wg.Wait()
}
