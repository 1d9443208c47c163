package generate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"time"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
	"gantry.dev/gantry/internal/gitops/appset/template"
	"gantry.dev/gantry/internal/gitops/source"
	"gantry.dev/gantry/internal/project"
)

// Sources is what the git and gitBranches generators need of Git. A
// repository is read as the ApplicationSet's project: with its credentials
// and global ones only.
type Sources interface {
	// Tree returns the files of repo at revision (a branch, tag, commit or
	// HEAD) and the commit it resolved to.
	Tree(ctx context.Context, repo source.Repo, revision string) (fs.FS, string, error)
	// Branches returns every branch name of repo with its commit SHA.
	Branches(ctx context.Context, repo source.Repo) (map[string]string, error)
}

// Cluster is one registered cluster, as the clusters generator sees it.
type Cluster struct {
	Name    string
	Server  string
	Project string
	// Labels and Annotations are those of the cluster's Secret.
	Labels      map[string]string
	Annotations map[string]string
	// Local is the host cluster when no Secret registers it: it has no
	// labels, so only a generator without selector yields it (as Argo CD's
	// in-cluster).
	Local bool
}

// Clusters lists the registered clusters.
type Clusters interface {
	List(ctx context.Context) ([]Cluster, error)
}

// DefaultRequeueAfter is how often git and gitBranches generators are
// re-evaluated without requeueAfterSeconds: Argo CD's default.
const DefaultRequeueAfter = 3 * time.Minute

// Generator produces an ApplicationSet's parameter sets. Sources is needed
// by git and gitBranches generators, Clusters by clusters generators.
type Generator struct {
	Sources  Sources
	Clusters Clusters

	project string // of the ApplicationSet being generated, set on a copy per Generate
}

// Generate runs every generator of the ApplicationSet and returns their
// parameter sets, concatenated in generator order. Each set is a map with
// Argo CD's parameter names: flat dotted keys ("path.basename") without
// goTemplate, nested maps with it. An error names the generator, e.g.
// "generators[0].matrix.generators[1].git: ...".
func (g *Generator) Generate(ctx context.Context, set *gitopsv1alpha1.ApplicationSet) ([]map[string]any, error) {
	scoped := *g
	if p, ok := project.FromNamespace(set.Namespace); ok {
		scoped.project = p
	}
	g = &scoped
	opts := template.OptionsOf(&set.Spec)
	if len(set.Spec.Generators) == 0 {
		return nil, errors.New("spec.generators is empty: add at least one generator")
	}
	var out []map[string]any
	for i, gen := range set.Spec.Generators {
		where := fmt.Sprintf("generators[%d]", i)
		n, err := fromGenerator(gen)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		params, err := g.params(ctx, where, n, opts)
		if err != nil {
			return nil, err
		}
		out = append(out, params...)
	}
	return out, nil
}

// RequeueAfter is how soon the ApplicationSet should be generated again:
// the shortest requeueAfterSeconds (default DefaultRequeueAfter) of its git
// and gitBranches generators, at any depth; 0 when it has none (list and
// clusters generators change only with the ApplicationSet or the cluster
// Secrets, which the controller watches).
func RequeueAfter(spec *gitopsv1alpha1.ApplicationSetSpec) time.Duration {
	var shortest time.Duration
	consider := func(secs *int64) {
		d := DefaultRequeueAfter
		if secs != nil {
			d = time.Duration(*secs) * time.Second
		}
		if d > 0 && (shortest == 0 || d < shortest) {
			shortest = d
		}
	}
	var walk func(n node)
	walk = func(n node) {
		switch {
		case n.git != nil:
			consider(n.git.RequeueAfterSeconds)
		case n.branches != nil:
			consider(n.branches.RequeueAfterSeconds)
		}
		for _, c := range n.children {
			if cn, err := c(); err == nil {
				walk(cn)
			}
		}
	}
	for _, gen := range spec.Generators {
		if n, err := fromGenerator(gen); err == nil {
			walk(n)
		}
	}
	return shortest
}

// node is one generator of any level, exactly one field set. children
// convert lazily, so that a matrix's second child is interpolated with the
// first's parameters before it is read.
type node struct {
	list      *gitopsv1alpha1.ListGenerator
	clusters  *gitopsv1alpha1.ClusterGenerator
	git       *gitopsv1alpha1.GitGenerator
	branches  *gitopsv1alpha1.GitBranchesGenerator
	matrix    bool
	merge     bool
	mergeKeys []string
	// children convert the combined generators; interpolate returns the
	// child with every string rendered with params (for a matrix).
	children    []func() (node, error)
	interpolate []func(params map[string]any, opts template.Options) (node, error)
}

func (n node) kind() string {
	switch {
	case n.list != nil:
		return "list"
	case n.clusters != nil:
		return "clusters"
	case n.git != nil:
		return "git"
	case n.branches != nil:
		return "gitBranches"
	case n.matrix:
		return "matrix"
	default:
		return "merge"
	}
}

// oneOf requires exactly one of the generator fields to be set.
func oneOf(names []string, set []bool) error {
	var found []string
	for i, s := range set {
		if s {
			found = append(found, names[i])
		}
	}
	switch len(found) {
	case 1:
		return nil
	case 0:
		return fmt.Errorf("no generator gantry supports is set: use one of %s", strings.Join(names, ", "))
	default:
		return fmt.Errorf("%s are set in one entry: put each generator in its own list entry", strings.Join(found, " and "))
	}
}

func fromGenerator(g gitopsv1alpha1.ApplicationSetGenerator) (node, error) {
	names := []string{"list", "clusters", "git", "gitBranches", "matrix", "merge"}
	if err := oneOf(names, []bool{g.List != nil, g.Clusters != nil, g.Git != nil, g.GitBranches != nil, g.Matrix != nil, g.Merge != nil}); err != nil {
		return node{}, err
	}
	n := node{list: g.List, clusters: g.Clusters, git: g.Git, branches: g.GitBranches}
	switch {
	case g.Matrix != nil:
		n.matrix = true
		for _, c := range g.Matrix.Generators {
			addChildOf(&n, c, fromNested)
		}
	case g.Merge != nil:
		n.merge, n.mergeKeys = true, g.Merge.MergeKeys
		for _, c := range g.Merge.Generators {
			addChildOf(&n, c, fromNested)
		}
	}
	return n, nil
}

func fromNested(g gitopsv1alpha1.ApplicationSetNestedGenerator) (node, error) {
	names := []string{"list", "clusters", "git", "gitBranches", "matrix", "merge"}
	if err := oneOf(names, []bool{g.List != nil, g.Clusters != nil, g.Git != nil, g.GitBranches != nil, g.Matrix != nil, g.Merge != nil}); err != nil {
		return node{}, err
	}
	n := node{list: g.List, clusters: g.Clusters, git: g.Git, branches: g.GitBranches}
	switch {
	case g.Matrix != nil:
		n.matrix = true
		for _, c := range g.Matrix.Generators {
			addChildOf(&n, c, fromTerminal)
		}
	case g.Merge != nil:
		n.merge, n.mergeKeys = true, g.Merge.MergeKeys
		for _, c := range g.Merge.Generators {
			addChildOf(&n, c, fromTerminal)
		}
	}
	return n, nil
}

func fromTerminal(g gitopsv1alpha1.ApplicationSetTerminalGenerator) (node, error) {
	names := []string{"list", "clusters", "git", "gitBranches"}
	if err := oneOf(names, []bool{g.List != nil, g.Clusters != nil, g.Git != nil, g.GitBranches != nil}); err != nil {
		return node{}, fmt.Errorf("%w (matrix and merge nest only one level deep, as in Argo CD)", err)
	}
	return node{list: g.List, clusters: g.Clusters, git: g.Git, branches: g.GitBranches}, nil
}

// addChild records a combined generator of type T, converted by conv.
func addChildOf[T any](n *node, c T, conv func(T) (node, error)) {
	n.children = append(n.children, func() (node, error) { return conv(c) })
	n.interpolate = append(n.interpolate, func(params map[string]any, opts template.Options) (node, error) {
		rendered, err := interpolate(c, params, opts)
		if err != nil {
			return node{}, err
		}
		return conv(rendered)
	})
}

// interpolate renders every string of a generator with params, as Argo CD
// does for a matrix's second generator with each set of the first.
func interpolate[T any](g T, params map[string]any, opts template.Options) (T, error) {
	var out T
	data, err := json.Marshal(g)
	if err != nil {
		return out, err
	}
	var raw any
	if err := json.Unmarshal(data, &raw); err != nil {
		return out, err
	}
	rendered, err := template.ReplaceValue("", raw, params, opts)
	if err != nil {
		return out, fmt.Errorf("with the first generator's parameters: %w", err)
	}
	if data, err = json.Marshal(rendered); err != nil {
		return out, err
	}
	if err := json.Unmarshal(data, &out); err != nil {
		return out, fmt.Errorf("with the first generator's parameters: %w", err)
	}
	return out, nil
}

func (g *Generator) params(ctx context.Context, where string, n node, opts template.Options) ([]map[string]any, error) {
	where += "." + n.kind()
	var out []map[string]any
	var err error
	switch {
	case n.list != nil:
		out, err = listParams(n.list, opts)
	case n.clusters != nil:
		out, err = g.clusterParams(ctx, n.clusters, opts)
	case n.git != nil:
		out, err = g.gitParams(ctx, n.git, opts)
	case n.branches != nil:
		out, err = g.branchParams(ctx, n.branches, opts)
	case n.matrix:
		return g.matrixParams(ctx, where, n, opts)
	case n.merge:
		return g.mergeParams(ctx, where, n, opts)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	return out, nil
}

// appendValues is Argo CD's appendTemplatedValues: each value rendered with
// the set's parameters, added as values.<key> (flat) or under values (nested).
func appendValues(values map[string]string, params map[string]any, opts template.Options) error {
	if len(values) == 0 {
		return nil
	}
	rendered := map[string]any{}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v, err := template.Replace(values[k], params, opts)
		if err != nil {
			return fmt.Errorf("values.%s: %w", k, err)
		}
		rendered[k] = v
	}
	if opts.GoTemplate {
		params["values"] = rendered
		return nil
	}
	for k, v := range rendered {
		params["values."+k] = v
	}
	return nil
}

// listParams yields the elements. Without goTemplate every value must be a
// string, and "values" an object of strings (flattened to values.<key>).
func listParams(l *gitopsv1alpha1.ListGenerator, opts template.Options) ([]map[string]any, error) {
	out := make([]map[string]any, 0, len(l.Elements))
	for i, el := range l.Elements {
		var obj map[string]any
		if err := json.Unmarshal(el.Raw, &obj); err != nil || obj == nil {
			return nil, fmt.Errorf("elements[%d] is not a JSON object", i)
		}
		if opts.GoTemplate {
			out = append(out, obj)
			continue
		}
		params := map[string]any{}
		for k, v := range obj {
			if k == "values" {
				vals, ok := v.(map[string]any)
				if !ok {
					return nil, fmt.Errorf("elements[%d].values is not an object", i)
				}
				for vk, vv := range vals {
					s, ok := vv.(string)
					if !ok {
						return nil, fmt.Errorf("elements[%d].values.%s is not a string: without goTemplate, list values must be strings", i, vk)
					}
					params["values."+vk] = s
				}
				continue
			}
			s, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("elements[%d].%s is not a string: without goTemplate, list values must be strings (quote it, or set goTemplate: true)", i, k)
			}
			params[k] = s
		}
		out = append(out, params)
	}
	return out, nil
}
