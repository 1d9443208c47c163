package rbac

import (
	_ "embed"
	"fmt"
	"sort"

	"github.com/casbin/casbin/v2/model"
	"github.com/casbin/casbin/v2/rbac"
	defaultrolemanager "github.com/casbin/casbin/v2/rbac/default-role-manager"
)

//go:embed model.conf
var modelConf string

//go:embed builtin-policy.csv
var builtinPolicy string

// BuiltinPolicy returns the built-in policy CSV (role:readonly, role:admin).
func BuiltinPolicy() string { return builtinPolicy }

// maxHierarchyLevel is how deep g lines may nest: casbin's enforcer builds its
// default role manager with 10, and so Argo CD resolves roles that deep.
const maxHierarchyLevel = 10

// source is one policy text and how to read it.
type source struct {
	name string
	text string
	mode string // match mode of its patterns
	// project, when set, confines the policy to that project (see
	// checkProjectLine).
	project string
}

// rule is a compiled p line.
type rule struct {
	res, act, obj pattern
	deny          bool
}

// snapshot is one immutable, fully built policy. Decisions read it without
// locks; a reload builds a new one and swaps the pointer.
//
// Decisions do not run casbin's Enforce: it evaluates its matcher for every p
// line, hundreds of microseconds per call at 1,000 lines, and a request with a
// user, a few groups and the default role makes several calls (see
// BenchmarkCasbinEnforce1000 against BenchmarkEnforce1000). The
// snapshot holds the same model precomputed instead: p lines indexed by their
// subject, and for every subject of a g line the roles it inherits, resolved
// by casbin's own role manager. g(r.sub, p.sub) is exact in Argo CD's model
// (no matching function), so "p lines of the subject and its roles" is
// precisely the set casbin's matcher would let through. Tests hold the two to
// the same answers (oracle_test.go, the fuzz test).
type snapshot struct {
	bySubject map[string][]rule
	// inherits maps a subject named on the left of a g line to itself and
	// every role it inherits, keeping only those with p lines.
	inherits    map[string][]string
	defaultRole string
	lines       int
}

// projectSources turns project policies into sources, in a stable order.
func projectSources(policies map[string]string) []source {
	names := make([]string, 0, len(policies))
	for name := range policies {
		names = append(names, name)
	}
	sort.Strings(names)
	out := make([]source, 0, len(names))
	for _, name := range names {
		out = append(out, source{name: "project " + name, text: policies[name], mode: MatchGlob, project: name})
	}
	return out
}

// build compiles the sources into a snapshot. An error in any source fails the
// build, so callers validate project policies one by one beforehand.
func build(sources []source, defaultRole string) (*snapshot, error) {
	s := &snapshot{
		bySubject:   map[string][]rule{},
		inherits:    map[string][]string{},
		defaultRole: defaultRole,
	}
	cache := patternCache{}
	var groups [][]string
	for _, src := range sources {
		lines, err := compileSource(src, cache)
		if err != nil {
			return nil, err
		}
		for _, l := range lines {
			s.lines++
			if l.group {
				groups = append(groups, l.fields)
				continue
			}
			s.bySubject[l.fields[0]] = append(s.bySubject[l.fields[0]], l.rule)
		}
	}
	if err := s.resolveRoles(groups); err != nil {
		return nil, err
	}
	return s, nil
}

// compiledLine is a parsed line with its patterns compiled.
type compiledLine struct {
	policyLine
	rule rule
}

// compileSource parses and compiles one source, checking project confinement.
func compileSource(src source, cache patternCache) ([]compiledLine, error) {
	lines, err := parsePolicy(src.name, src.text)
	if err != nil {
		return nil, err
	}
	out := make([]compiledLine, 0, len(lines))
	for _, l := range lines {
		if src.project != "" {
			if err := checkProjectLine(src.project, l); err != nil {
				return nil, err
			}
		}
		c := compiledLine{policyLine: l}
		if !l.group {
			var pats [3]pattern
			for i, f := range l.fields[1:4] {
				if pats[i], err = cache.compile(f, src.mode); err != nil {
					return nil, l.errorf("%s", err)
				}
			}
			c.rule = rule{res: pats[0], act: pats[1], obj: pats[2], deny: l.fields[4] == "deny"}
		}
		out = append(out, c)
	}
	return out, nil
}

// resolveRoles loads the g lines into casbin's model and default role manager,
// exactly as casbin's enforcer does on LoadPolicy, and records what each
// subject inherits.
func (s *snapshot) resolveRoles(groups [][]string) error {
	// A fresh model per build: casbin appends policies to the model, so one
	// cannot be shared between builds.
	m, err := model.NewModelFromString(modelConf)
	if err != nil {
		return fmt.Errorf("load casbin model: %w", err)
	}
	if err := m.AddPolicies("g", "g", groups); err != nil {
		return fmt.Errorf("load g lines into casbin model: %w", err)
	}
	rm := defaultrolemanager.NewRoleManagerImpl(maxHierarchyLevel)
	if err := m.BuildRoleLinks(map[string]rbac.RoleManager{"g": rm}); err != nil {
		return fmt.Errorf("build casbin role links: %w", err)
	}
	for _, g := range groups {
		subject := g[0]
		if _, done := s.inherits[subject]; done {
			continue
		}
		roles, err := rm.GetImplicitRoles(subject)
		if err != nil {
			return fmt.Errorf("resolve roles of %q: %w", subject, err)
		}
		withRules := make([]string, 0, len(roles)+1)
		for _, name := range append([]string{subject}, roles...) {
			if len(s.bySubject[name]) > 0 {
				withRules = append(withRules, name)
			}
		}
		s.inherits[subject] = withRules
	}
	return nil
}

// verdict is what the p lines of one subject (and its roles) say.
type verdict uint8

const (
	undecided verdict = iota
	allowed
	denied
)

// judge evaluates the model's effect, some(allow) && !some(deny), over the p
// lines of subject and the roles it inherits. A deny ends the search.
func (s *snapshot) judge(subject, res, act, obj string) verdict {
	names, ok := s.inherits[subject]
	if !ok {
		return judgeRules(s.bySubject[subject], res, act, obj, undecided)
	}
	v := undecided
	for _, name := range names {
		if v = judgeRules(s.bySubject[name], res, act, obj, v); v == denied {
			return denied
		}
	}
	return v
}

func judgeRules(rules []rule, res, act, obj string, v verdict) verdict {
	for i := range rules {
		r := &rules[i]
		if !r.res.match(res) || !r.act.match(act) || !r.obj.match(obj) {
			continue
		}
		if r.deny {
			return denied
		}
		v = allowed
	}
	return v
}

// decide combines subjects the documented way: the default role first, whose
// allow cannot be taken back (as in Argo CD); then the subjects together,
// where any allow grants unless any of them is denied.
func (s *snapshot) decide(subjects []string, res, act, obj string) bool {
	authenticated := false
	for _, sub := range subjects {
		if sub != "" {
			authenticated = true
			break
		}
	}
	if !authenticated {
		return false
	}
	if s.defaultRole != "" && s.judge(s.defaultRole, res, act, obj) == allowed {
		return true
	}
	ok := false
	for _, sub := range subjects {
		if sub == "" {
			continue
		}
		switch s.judge(sub, res, act, obj) {
		case denied:
			return false
		case allowed:
			ok = true
		}
	}
	return ok
}
