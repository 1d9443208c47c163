package rbac

import (
	"errors"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
)

// Keys of the ConfigMap gantry-rbac-cm, as in Argo CD's argocd-rbac-cm.
const (
	ConfigMapName      = "gantry-rbac-cm"
	ConfigMapPolicyCSV = "policy.csv"
	ConfigMapDefault   = "policy.default"
	ConfigMapMatchMode = "policy.matchMode"
)

// Options configure a new Enforcer before any policy.csv is set.
type Options struct {
	// DefaultRole is granted to every authenticated subject (policy.default),
	// e.g. "role:readonly". Empty grants nothing.
	DefaultRole string
	// MatchMode is "glob" (the default when empty) or "regex".
	MatchMode string
}

// Enforcer decides whether subjects may act on objects. Its policy has three
// parts: the built-in policy, the user policy (policy.csv of gantry-rbac-cm)
// and the generated project policies. Each setter builds a complete new
// snapshot aside and swaps it in atomically, so Enforce never waits for a
// reload and never sees half of one. Safe for concurrent use; make one with
// New (the zero value holds no policy and panics).
type Enforcer struct {
	current atomic.Pointer[snapshot]

	// mu serialises writers; readers never take it.
	mu          sync.Mutex
	userCSV     string
	defaultRole string
	matchMode   string
	projects    map[string]string
}

// New returns an Enforcer holding the built-in policy and no user or project
// policy.
func New(opts Options) (*Enforcer, error) {
	e := &Enforcer{projects: map[string]string{}}
	if err := e.SetPolicy("", opts.DefaultRole, opts.MatchMode); err != nil {
		return nil, err
	}
	return e, nil
}

// SetPolicy replaces the user part of the policy: the policy.csv,
// policy.default and policy.matchMode keys of gantry-rbac-cm. matchMode
// applies to policy.csv only; the built-in and project policies are written by
// gantry in glob syntax and always read as globs. On error (a *PolicyError
// naming the line for a broken CSV) nothing changes and the previous policy
// stays in force.
func (e *Enforcer) SetPolicy(policyCSV, defaultRole, matchMode string) error {
	mode, err := normalizeMatchMode(matchMode)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s, err := build(e.sources(policyCSV, mode, e.projects), defaultRole)
	if err != nil {
		return err
	}
	e.userCSV, e.defaultRole, e.matchMode = policyCSV, defaultRole, mode
	e.current.Store(s)
	return nil
}

// SetProjectPolicies replaces the generated project part of the policy, keyed
// by project name (see ProjectPolicy). Each project's policy may only grant
// within that project: subjects and roles "proj:<project>:...", objects
// "<project>/..." of project-scoped resources and the project itself. A
// project whose policy breaks that, or does not parse, is left out, so its
// roles grant nothing, and is named in the returned error; the other projects
// take effect.
func (e *Enforcer) SetProjectPolicies(policies map[string]string) error {
	accepted := make(map[string]string, len(policies))
	var errs []error
	for _, src := range projectSources(policies) {
		if err := validProjectName(src.project); err != nil {
			errs = append(errs, fmt.Errorf("project %q: %w", src.project, err))
			continue
		}
		if _, err := compileSource(src, patternCache{}); err != nil {
			errs = append(errs, err)
			continue
		}
		accepted[src.project] = src.text
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s, err := build(e.sources(e.userCSV, e.matchMode, accepted), e.defaultRole)
	if err != nil {
		// Only reachable if the accepted user policy stopped building,
		// which it cannot: keep the old snapshot and say so.
		return errors.Join(append(errs, fmt.Errorf("rebuild policy: %w", err))...)
	}
	e.projects = accepted
	e.current.Store(s)
	return errors.Join(errs...)
}

// sources lists the parts of the policy in load order.
func (e *Enforcer) sources(userCSV, mode string, projects map[string]string) []source {
	out := []source{
		{name: sourceBuiltin, text: builtinPolicy, mode: MatchGlob},
		{name: sourceUser, text: userCSV, mode: mode},
	}
	return append(out, projectSources(projects)...)
}

// Enforce reports whether subjects may perform action on object of resource.
// subjects are the user followed by their groups and teams ("team:<name>",
// SSO groups such as "gantry:project:<p>:<role>"). The decision:
//
//   - no non-empty subject (anonymous): denied;
//   - the default role allows: allowed, whatever else says (as in Argo CD,
//     a deny cannot take away the default role's grants);
//   - otherwise allowed if a p line of some subject or an inherited role
//     allows and no p line of any of them denies.
//
// object is "<project>/<name>" for project-scoped resources, else "<name>".
// Subjects are trusted: authentication must not let a user name or group
// claim a "role:" or "proj:" subject it is not meant to hold.
func (e *Enforcer) Enforce(subjects []string, resource, action, object string) bool {
	return e.current.Load().decide(subjects, resource, action, object)
}

// Authorize is Enforce returning Denied(subjects[0], ...) when not allowed.
func (e *Enforcer) Authorize(subjects []string, resource, action, object string) error {
	if e.Enforce(subjects, resource, action, object) {
		return nil
	}
	user := ""
	if len(subjects) > 0 {
		user = subjects[0]
	}
	return Denied(user, resource, action, object)
}

// Policy returns what SetPolicy last accepted, and the project policies in
// force, for "can I" tools and debugging.
func (e *Enforcer) Policy() (policyCSV, defaultRole, matchMode string, projects map[string]string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.userCSV, e.defaultRole, e.matchMode, maps.Clone(e.projects)
}
