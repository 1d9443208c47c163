package rbac

import (
	"errors"
	"strings"
	"testing"
)

// FuzzSetPolicy feeds arbitrary text to SetPolicy. It must never panic; a
// rejected policy must come back as a *PolicyError and leave the enforcer as it
// was; an accepted one must be enforceable and answer as casbin's Enforce does
// on the same policy, for requests built from the policy's own fields.
//
//	go test -run '^$' -fuzz FuzzSetPolicy -fuzztime 1m ./internal/identity/rbac/
func FuzzSetPolicy(f *testing.F) {
	f.Add("p, alice, applications, sync, default/*, allow\ng, bob, role:admin", false)
	f.Add("p, role:x, applications, *, */web, deny\ng, team:a, role:x\ng, role:x, role:readonly", false)
	f.Add(`p, a, virtualclusters, "{sleep,wake}", "web/[a-c]?", allow`, false)
	f.Add("p, a, applications, get, ^default/(web|api)$, allow\np, a, .*, sync, web, deny", true)
	f.Add("# comment\n\n  p, a, b, c, d, allow  \r\ng, a, b\ng, b, a", false)
	f.Add("p, a, b, c, d\nq, x\np, \"unterminated, b, c, d, allow", false)
	f.Add(ProjectPolicy("web", []Member{{MemberUser, "alice", ProjectAdmin}}), false)
	f.Add(BuiltinPolicy(), false)
	f.Fuzz(func(t *testing.T, policy string, regex bool) {
		mode := MatchGlob
		if regex {
			mode = MatchRegex
		}
		e, err := New(Options{})
		if err != nil {
			t.Fatal(err)
		}
		const before = "p, canary, clusters, get, *, allow"
		if err := e.SetPolicy(before, "", ""); err != nil {
			t.Fatal(err)
		}
		if err := e.SetPolicy(policy, "role:readonly", mode); err != nil {
			var pe *PolicyError
			if !errors.As(err, &pe) || pe.Line < 1 {
				t.Fatalf("rejection is not a *PolicyError with a line: %v", err)
			}
			if !e.Enforce(subs("canary"), "clusters", "get", "x") || e.Enforce(subs("x"), "projects", "get", "p") {
				t.Fatal("a rejected policy changed the policy in force")
			}
			return
		}
		lines, err := parsePolicy(sourceUser, policy)
		if err != nil {
			t.Fatalf("accepted policy does not parse again: %v", err)
		}
		if len(lines) > 32 {
			// casbin evaluates every line per call; past this the oracle
			// costs more than it finds. Enforceability is still checked.
			e.Enforce(subs("alice", "team:a"), "applications", "get", "default/web")
			return
		}
		values := [4][]string{{"alice", "role:admin"}, {"applications"}, {"get"}, {"default/web"}}
		for _, l := range lines {
			values[0] = append(values[0], l.fields[0])
			if l.group {
				values[0] = append(values[0], l.fields[1])
				continue
			}
			for i := 1; i < 4; i++ {
				values[i] = append(values[i], l.fields[i])
			}
		}
		oracle := newOracle(t, e.sources(policy, mode, nil), "role:readonly")
		checked := 0
		for i, sub := range values[0] {
			for j, res := range values[1] {
				act := values[2][(i+j)%len(values[2])]
				obj := values[3][(i*7+j)%len(values[3])]
				subjects := []string{sub, values[0][(i+1)%len(values[0])]}
				got := e.Enforce(subjects, res, act, obj)
				if want := oracle.decide(t, subjects, res, act, obj); got != want {
					t.Fatalf("Enforce(%q, %q, %q, %q) = %v, casbin says %v\npolicy (%s):\n%s",
						subjects, res, act, obj, got, want, mode, policy)
				}
				if checked++; checked > 100 {
					return
				}
			}
		}
	})
}

func TestFuzzSeedsAreInteresting(t *testing.T) {
	// The seeds above include accepted and rejected policies in both modes;
	// this keeps one of each honest without running the fuzzer.
	e := newEnforcer(t, "", "", "")
	if err := e.SetPolicy(`p, a, virtualclusters, "{sleep,wake}", "web/[a-c]?", allow`, "", ""); err != nil {
		t.Fatal(err)
	}
	if !e.Enforce(subs("a"), "virtualclusters", "wake", "web/b1") {
		t.Fatal("quoted glob with a comma did not match")
	}
	if err := e.SetPolicy("p, a, b, c, d\nq, x", "", ""); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("err = %v", err)
	}
}
