package policy

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gobwas/glob"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/podsecurity"
	"gantry.dev/gantry/internal/project"
)

// reservedNamespaces hold the platform itself and Kubernetes' own state: a
// glob in allowedDestinations never matches them, only their exact name does,
// so that an administrator who grants "*" does not hand out gantry's RBAC
// policy or kube-system by accident.
var reservedNamespaces = map[string]bool{
	"gantry-system": true, "kube-system": true, "kube-public": true, "kube-node-lease": true,
}

// Target is the cluster an app deploys to, as the policy sees it.
type Target struct {
	// Host is the cluster gantry runs on (server https://kubernetes.default.svc).
	Host bool
	// Server and Name are the cluster's URL and name (destination.server and
	// destination.name match either).
	Server, Name string
	// Project owns the cluster: a virtual cluster's project, or the project
	// key of an Argo CD cluster Secret. Empty for clusters an administrator
	// registered for everyone's use and for the host.
	Project string
}

// Policy is one project's rules, compiled.
type Policy struct {
	project string
	spec    *platformv1alpha1.ProjectSpec

	destinations []destination
	sourceRepos  []globRule
	clusterAllow []kindRule // nil: none on shared clusters, any on own ones
	clusterDeny  []kindRule
	nsAllow      []kindRule // nil: any
	nsDeny       []kindRule
	level        podsecurity.Level
}

type globRule struct {
	deny    bool
	pattern string
	g       glob.Glob
}

func (r globRule) match(s string) bool { return r.g.Match(s) }

type destination struct {
	server, name, namespace globRule
	hasServer, hasName      bool
	deny                    bool
}

type kindRule struct{ group, kind glob.Glob }

func (k kindRule) match(group, kind string) bool { return k.group.Match(group) && k.kind.Match(kind) }

// New compiles p's rules. An invalid glob is an error naming the field.
func New(p *platformv1alpha1.Project) (*Policy, error) {
	pol := &Policy{project: p.Name, spec: &p.Spec, level: podsecurity.ProjectLevel(p)}
	var errs []error
	for i, d := range p.Spec.AllowedDestinations {
		field := fmt.Sprintf("spec.allowedDestinations[%d]", i)
		dst, err := compileDestination(field, d)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		pol.destinations = append(pol.destinations, dst)
	}
	for i, s := range p.Spec.SourceRepos {
		r, err := compileRule(fmt.Sprintf("spec.sourceRepos[%d]", i), s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		pol.sourceRepos = append(pol.sourceRepos, r)
	}
	kinds := func(field string, list []metav1.GroupKind) []kindRule {
		if len(list) == 0 {
			return nil // unset: an empty list is not stored apart from none
		}
		out := []kindRule{}
		for i, gk := range list {
			g, err := compileGlob(gk.Group)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s[%d].group: %w", field, i, err))
				continue
			}
			k, err := compileGlob(gk.Kind)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s[%d].kind: %w", field, i, err))
				continue
			}
			out = append(out, kindRule{group: g, kind: k})
		}
		return out
	}
	pol.clusterAllow = kinds("spec.clusterResourceWhitelist", p.Spec.ClusterResourceWhitelist)
	pol.clusterDeny = kinds("spec.clusterResourceBlacklist", p.Spec.ClusterResourceBlacklist)
	pol.nsAllow = kinds("spec.namespaceResourceWhitelist", p.Spec.NamespaceResourceWhitelist)
	pol.nsDeny = kinds("spec.namespaceResourceBlacklist", p.Spec.NamespaceResourceBlacklist)
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("project %s: %w", p.Name, err)
	}
	return pol, nil
}

// Project is the name of the project whose rules these are.
func (p *Policy) Project() string { return p.project }

// PodSecurity is the level the project's pods meet outside its own virtual
// clusters.
func (p *Policy) PodSecurity() podsecurity.Level { return p.level }

// Own says whether t belongs to the project (one of its virtual clusters, or
// a cluster Secret scoped to it).
func (p *Policy) Own(t Target) bool { return !t.Host && t.Project == p.project }

// Refusal is a decision against an app: which rule refused what, and how an
// administrator changes it.
type Refusal struct {
	Project string
	// Rule is the Project field that decides, e.g. "spec.allowedDestinations".
	Rule string
	// What was refused, e.g. "namespace gantry-system on https://kubernetes.default.svc".
	What string
	// Fix says how to change the decision.
	Fix string
}

func (r *Refusal) Error() string {
	return fmt.Sprintf("project %s does not allow %s (%s): %s", r.Project, r.What, r.Rule, r.Fix)
}

// IsRefusal reports whether err (or one it wraps or joins) is a Refusal.
func IsRefusal(err error) bool {
	var r *Refusal
	return errors.As(err, &r)
}

func (p *Policy) refuse(rule, what, fix string, args ...any) *Refusal {
	return &Refusal{Project: p.project, Rule: rule, What: what, Fix: fmt.Sprintf(fix, args...)}
}

// Destination decides whether apps may deploy into namespace of t ("" for an
// app whose objects name their own namespaces: each is checked by Objects).
// The project's own virtual clusters are always allowed, with any namespace;
// on the host, its namespace p-<project>; anything else only through
// spec.allowedDestinations.
func (p *Policy) Destination(t Target, namespace string) error {
	if p.Own(t) {
		return nil
	}
	if t.Project != "" && !t.Host {
		// Another project's cluster: only an explicit grant opens it.
		if p.granted(t, namespace) {
			return nil
		}
		return p.refuse("spec.allowedDestinations", "cluster "+t.Name+", which belongs to project "+t.Project,
			"deploy to one of project %s's own virtual clusters, or ask an administrator to add {name: %q, namespace: %q} to spec.allowedDestinations",
			p.project, t.Name, orStar(namespace))
	}
	if t.Host && namespace != "" && namespace == project.Namespace(p.project) {
		return nil
	}
	if namespace == "" {
		if t.Host || p.grantedCluster(t) {
			return nil // each object's namespace is checked on its own
		}
	} else if p.granted(t, namespace) {
		return nil
	}
	where := "cluster " + t.Name
	if t.Host {
		where = t.Server + " (the host cluster)"
	}
	what := where
	if namespace != "" {
		what = "namespace " + namespace + " on " + where
	}
	hint := ""
	if t.Host {
		hint = fmt.Sprintf(" or deploy into the project's namespace %s or one of its virtual clusters,", project.Namespace(p.project))
	}
	return p.refuse("spec.allowedDestinations", what,
		"ask an administrator to add {server: %q, namespace: %q} to the project's spec.allowedDestinations,%s then sync again",
		t.Server, orStar(namespace), hint)
}

func orStar(s string) string {
	if s == "" {
		return "*"
	}
	return s
}

// granted says whether an allowedDestinations entry opens namespace on t.
func (p *Policy) granted(t Target, namespace string) bool {
	allowed := false
	for _, d := range p.destinations {
		if !d.matchesCluster(t) || !d.matchesNamespace(namespace) {
			continue
		}
		if d.deny {
			return false
		}
		allowed = true
	}
	return allowed
}

// grantedCluster says whether any entry opens some namespace of t.
func (p *Policy) grantedCluster(t Target) bool {
	for _, d := range p.destinations {
		if !d.deny && d.matchesCluster(t) {
			return true
		}
	}
	return false
}

func (d destination) matchesCluster(t Target) bool {
	switch {
	case d.hasServer && d.hasName:
		return d.server.match(t.Server) && d.name.match(t.Name)
	case d.hasServer:
		return d.server.match(t.Server)
	case d.hasName:
		return d.name.match(t.Name)
	}
	return false
}

func (d destination) matchesNamespace(ns string) bool {
	if d.namespace.pattern == "" {
		return false
	}
	if reservedNamespaces[ns] || ns == "" {
		// Only named, never matched by a glob; "" (cluster-scoped) is not a namespace.
		return d.namespace.pattern == ns
	}
	return d.namespace.match(ns)
}

func compileDestination(field string, d platformv1alpha1.ProjectDestination) (destination, error) {
	var out destination
	deny := strings.HasPrefix(d.Server, "!") || strings.HasPrefix(d.Name, "!") || strings.HasPrefix(d.Namespace, "!")
	var err error
	if d.Server != "" {
		out.hasServer = true
		if out.server, err = compileRule(field+".server", strings.TrimSuffix(strings.TrimPrefix(d.Server, "!"), "/")); err != nil {
			return out, err
		}
	}
	if d.Name != "" {
		out.hasName = true
		if out.name, err = compileRule(field+".name", strings.TrimPrefix(d.Name, "!")); err != nil {
			return out, err
		}
	}
	if !out.hasServer && !out.hasName {
		return out, fmt.Errorf("%s has neither server nor name", field)
	}
	ns := strings.TrimPrefix(d.Namespace, "!")
	if ns == "" {
		return out, fmt.Errorf("%s has no namespace: give one, \"*\" for any", field)
	}
	if out.namespace, err = compileRule(field+".namespace", ns); err != nil {
		return out, err
	}
	out.deny = deny
	return out, nil
}

// compileRule compiles one glob; a leading "!" makes it a deny rule.
func compileRule(field, s string) (globRule, error) {
	r := globRule{pattern: s}
	if rest, ok := strings.CutPrefix(s, "!"); ok {
		r.deny, r.pattern = true, rest
	}
	g, err := compileGlob(r.pattern)
	if err != nil {
		return r, fmt.Errorf("%s: %w", field, err)
	}
	r.g = g
	return r, nil
}

// compileGlob compiles a pattern as Argo CD does (gobwas/glob, no
// separators: "*" also matches "/").
func compileGlob(pattern string) (g glob.Glob, err error) {
	// gobwas/glob has panicked on odd input; a project must not take the
	// engine down.
	defer func() {
		if r := recover(); r != nil {
			g, err = nil, fmt.Errorf("invalid pattern %q: %v", pattern, r)
		}
	}()
	g, err = glob.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("invalid pattern %q: %w", pattern, err)
	}
	return g, nil
}
