package rbac

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/casbin/casbin/v2"
	"github.com/casbin/casbin/v2/model"
	"github.com/casbin/casbin/v2/util"
	"github.com/gobwas/glob"
)

// casbinOracle answers with casbin's own Enforce over the same policy, the
// way Argo CD runs it: the model in model.conf and a globOrRegexMatch that
// compiles the pattern on every call. Patterns are tagged with their source's
// match mode, so one casbin enforcer can hold glob and regex parts.
type casbinOracle struct {
	e           *casbin.Enforcer
	defaultRole string
}

type oracleAdapter struct{ p, g [][]string }

func (a oracleAdapter) LoadPolicy(m model.Model) error {
	if err := m.AddPolicies("p", "p", a.p); err != nil {
		return err
	}
	return m.AddPolicies("g", "g", a.g)
}
func (oracleAdapter) SavePolicy(model.Model) error                              { return nil }
func (oracleAdapter) AddPolicy(string, string, []string) error                  { return nil }
func (oracleAdapter) RemovePolicy(string, string, []string) error               { return nil }
func (oracleAdapter) RemoveFilteredPolicy(string, string, int, ...string) error { return nil }

func newOracle(t testing.TB, sources []source, defaultRole string) *casbinOracle {
	t.Helper()
	var a oracleAdapter
	for _, src := range sources {
		lines, err := parsePolicy(src.name, src.text)
		if err != nil {
			t.Fatalf("oracle: %v", err)
		}
		for _, l := range lines {
			if l.group {
				a.g = append(a.g, l.fields)
				continue
			}
			f := l.fields
			tag := src.mode + "\x00"
			a.p = append(a.p, []string{f[0], tag + f[1], tag + f[2], tag + f[3], f[4]})
		}
	}
	m, err := model.NewModelFromString(modelConf)
	if err != nil {
		t.Fatal(err)
	}
	e, err := casbin.NewEnforcer(m, a)
	if err != nil {
		t.Fatal(err)
	}
	e.AddFunction("globOrRegexMatch", func(args ...any) (any, error) {
		value := args[0].(string)
		mode, pat, _ := strings.Cut(args[1].(string), "\x00")
		if mode == MatchRegex {
			return util.RegexMatch(value, pat), nil
		}
		g, err := glob.Compile(pat)
		if err != nil {
			return false, nil
		}
		return g.Match(value), nil
	})
	return &casbinOracle{e: e, defaultRole: defaultRole}
}

func (o *casbinOracle) judge(t testing.TB, sub, res, act, obj string) verdict {
	ok, explain, err := o.e.EnforceEx(sub, res, act, obj)
	if err != nil {
		t.Fatalf("casbin: %v", err)
	}
	switch {
	case ok:
		return allowed
	case len(explain) > 0: // false with a matched line: a deny
		return denied
	}
	return undecided
}

// decide combines subjects as snapshot.decide documents, over casbin verdicts.
func (o *casbinOracle) decide(t testing.TB, subjects []string, res, act, obj string) bool {
	authenticated := false
	for _, s := range subjects {
		authenticated = authenticated || s != ""
	}
	if !authenticated {
		return false
	}
	if o.defaultRole != "" && o.judge(t, o.defaultRole, res, act, obj) == allowed {
		return true
	}
	ok := false
	for _, s := range subjects {
		if s == "" {
			continue
		}
		switch o.judge(t, s, res, act, obj) {
		case denied:
			return false
		case allowed:
			ok = true
		}
	}
	return ok
}

// vocabulary for random policies and requests: few enough values that
// random lines and requests meet often.
var (
	vocabSubjects = []string{"alice", "bob", "team:a", "team:b", "role:x", "role:y", "role:admin", "role:readonly", "proj:web:project-admin"}
	vocabRes      = []string{"applications", "applicationsets", "clusters", "virtualclusters", "logs"}
	vocabAct      = []string{"get", "sync", "delete", "action/apps/Deployment/restart", "update/apps/Deployment/ns/web"}
	vocabObj      = []string{"web/app", "api/app", "web/db", "cluster-a", "web"}
	globPats      = []string{"*", "*/*", "web/*", "*/app", "get", "sync", "action/*", "update/*", "applications", "app*", "{web,api}/app", "?eb/*", "[a-w]*"}
	regexPats     = []string{".*", "^web/.*$", "app", "^get$", "sync", "(web|api)/app", "^applications$", "action/.*"}
)

func randomPolicy(r *rand.Rand, n int, mode string) string {
	pick := func(s []string) string { return s[r.IntN(len(s))] }
	pats := globPats
	if mode == MatchRegex {
		pats = regexPats
	}
	field := func(concrete []string) string {
		if r.IntN(2) == 0 {
			return pick(pats)
		}
		return pick(concrete)
	}
	var b strings.Builder
	for range n {
		if r.IntN(4) == 0 {
			writeCSV(&b, "g", pick(vocabSubjects), pick(vocabSubjects))
			continue
		}
		eft := "allow"
		if r.IntN(5) == 0 {
			eft = "deny"
		}
		writeCSV(&b, "p", pick(vocabSubjects), field(vocabRes), field(vocabAct), field(vocabObj), eft)
	}
	return b.String()
}

// TestIndexMatchesCasbin holds the snapshot's index to casbin's Enforce on
// random policies (built-in, user and project parts) and random requests.
func TestIndexMatchesCasbin(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	projects := map[string]string{
		"web": ProjectPolicy("web", []Member{{MemberUser, "alice", ProjectAdmin}, {MemberTeam, "a", ProjectViewer}}),
	}
	var decisions, allows int
	for round := range 60 {
		mode := MatchGlob
		if round%3 == 0 {
			mode = MatchRegex
		}
		defaultRole := []string{"", "role:readonly", "role:x"}[round%3]
		e, err := New(Options{})
		if err != nil {
			t.Fatal(err)
		}
		policy := randomPolicy(r, 5+r.IntN(40), mode)
		if err := e.SetPolicy(policy, defaultRole, mode); err != nil {
			t.Fatalf("round %d: %v\n%s", round, err, policy)
		}
		if err := e.SetProjectPolicies(projects); err != nil {
			t.Fatal(err)
		}
		oracle := newOracle(t, e.sources(policy, mode, projects), defaultRole)
		for range 150 {
			subjects := []string{vocabSubjects[r.IntN(len(vocabSubjects))]}
			if r.IntN(2) == 0 {
				subjects = append(subjects, vocabSubjects[r.IntN(len(vocabSubjects))])
			}
			res := vocabRes[r.IntN(len(vocabRes))]
			act := vocabAct[r.IntN(len(vocabAct))]
			obj := vocabObj[r.IntN(len(vocabObj))]
			got := e.Enforce(subjects, res, act, obj)
			decisions++
			if got {
				allows++
			}
			if want := oracle.decide(t, subjects, res, act, obj); got != want {
				t.Fatalf("round %d (%s, default %q): Enforce(%q, %s, %s, %s) = %v, casbin says %v\npolicy:\n%s",
					round, mode, defaultRole, subjects, res, act, obj, got, want, policy)
			}
		}
	}
	// Guard against a vocabulary that only ever says no.
	if allows < decisions/10 || allows > decisions*9/10 {
		t.Fatalf("%d of %d decisions allowed: the random policies do not exercise both answers", allows, decisions)
	}
	t.Logf("%d decisions agree with casbin, %d allowed", decisions, allows)
}
