package rbac

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/gobwas/glob"
)

// Match modes: the values of policy.matchMode.
const (
	// MatchGlob compares with github.com/gobwas/glob and no separators, as
	// Argo CD's globMatch does: "*" also matches "/", so "*" matches
	// "default/web" and "action/*" matches "action/apps/Deployment/restart".
	MatchGlob = "glob"
	// MatchRegex compares with regexp.MatchString, as casbin's RegexMatch
	// and so Argo CD do. The match is NOT anchored: "web" matches
	// "myweb-prod"; write "^web$" to mean web.
	MatchRegex = "regex"
)

// normalizeMatchMode maps policy.matchMode to a mode; empty means glob.
func normalizeMatchMode(mode string) (string, error) {
	switch mode {
	case "", MatchGlob:
		return MatchGlob, nil
	case MatchRegex:
		return MatchRegex, nil
	}
	return "", fmt.Errorf("policy.matchMode must be %q or %q, got %q", MatchGlob, MatchRegex, mode)
}

// pattern is one compiled resource, action or object field of a p line.
type pattern interface {
	match(value string) bool
}

type anyValue struct{}

func (anyValue) match(string) bool { return true }

type literal string

func (l literal) match(v string) bool { return string(l) == v }

type contains string

func (c contains) match(v string) bool { return strings.Contains(v, string(c)) }

type globPattern struct{ g glob.Glob }

func (p globPattern) match(v string) bool { return p.g.Match(v) }

type regexPattern struct{ re *regexp.Regexp }

func (p regexPattern) match(v string) bool { return p.re.MatchString(v) }

// compilePattern compiles a policy field once at load time, so a decision
// never parses a pattern. Patterns without metacharacters become plain
// comparisons, which is what most policy fields are. An invalid pattern is an
// error here; Argo CD would load it and then never match (glob) or fail every
// decision that reaches it (regex).
func compilePattern(p, mode string) (pat pattern, err error) {
	if mode == MatchRegex {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, fmt.Errorf("invalid regular expression %q: %v", p, err)
		}
		if regexp.QuoteMeta(p) == p {
			return contains(p), nil // unanchored, like regexp.MatchString
		}
		return regexPattern{re}, nil
	}
	if p == "*" {
		return anyValue{}, nil
	}
	if !strings.ContainsAny(p, `*?[]{}\`) {
		return literal(p), nil
	}
	// gobwas/glob has panicked on odd input in the past; a policy line must
	// never take the process down.
	defer func() {
		if r := recover(); r != nil {
			pat, err = nil, fmt.Errorf("invalid glob %q: %v", p, r)
		}
	}()
	g, err := glob.Compile(p)
	if err != nil {
		return nil, fmt.Errorf("invalid glob %q: %v", p, err)
	}
	return globPattern{g}, nil
}

// patternCache compiles each distinct (mode, pattern) once per build: policies
// repeat the same few patterns ("*", "*/*", "get") hundreds of times.
type patternCache map[[2]string]pattern

func (c patternCache) compile(p, mode string) (pattern, error) {
	key := [2]string{mode, p}
	if pat, ok := c[key]; ok {
		return pat, nil
	}
	pat, err := compilePattern(p, mode)
	if err != nil {
		return nil, err
	}
	c[key] = pat
	return pat, nil
}
