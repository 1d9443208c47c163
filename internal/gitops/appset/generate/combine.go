package generate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"

	"gantry.dev/gantry/internal/gitops/appset/template"
)

// matrixParams is Argo CD's matrix generator: for each set a of the first
// generator, the second generator is interpolated with a (so it may use a's
// parameters, e.g. in a cluster selector or a file path) and each of its sets
// b is combined with a. Flat: a key in both with different values is an
// error. goTemplate: a deep merge where a's values win.
func (g *Generator) matrixParams(ctx context.Context, where string, n node, opts template.Options) ([]map[string]any, error) {
	if len(n.children) != 2 {
		return nil, fmt.Errorf("%s: has %d generators: a matrix combines exactly two", where, len(n.children))
	}
	first, err := n.children[0]()
	if err != nil {
		return nil, fmt.Errorf("%s.generators[0]: %w", where, err)
	}
	as, err := g.params(ctx, where+".generators[0]", first, opts)
	if err != nil {
		return nil, err
	}
	var out []map[string]any
	for i, a := range as {
		second, err := n.interpolate[1](a, opts)
		if err != nil {
			return nil, fmt.Errorf("%s.generators[1] for the first generator's set %d: %w", where, i, err)
		}
		bs, err := g.params(ctx, where+".generators[1]", second, opts)
		if err != nil {
			return nil, err
		}
		for _, b := range bs {
			if opts.GoTemplate {
				tmp := map[string]any{}
				deepMerge(tmp, b)
				deepMerge(tmp, a)
				out = append(out, tmp)
				continue
			}
			combined, err := combineFlat(a, b)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
			out = append(out, combined)
		}
	}
	return out, nil
}

// combineFlat is Argo CD's CombineStringMaps.
func combineFlat(a, b map[string]any) (map[string]any, error) {
	out := make(map[string]any, len(a)+len(b))
	for k, v := range a {
		out[k] = fmt.Sprintf("%v", v)
	}
	for k, v := range b {
		s := fmt.Sprintf("%v", v)
		if cur, ok := out[k]; ok && cur != s {
			return nil, fmt.Errorf("both generators set parameter %s, to %q and %q: rename one (e.g. git's pathParamPrefix)", k, cur, s)
		}
		out[k] = s
	}
	return out, nil
}

// deepMerge copies src into dst, merging nested maps key by key; src wins
// on other conflicts (mergo.WithOverride). Values are copied, never shared.
func deepMerge(dst, src map[string]any) {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				deepMerge(dm, sm)
				continue
			}
		}
		dst[k] = deepCopy(v)
	}
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			out[k] = deepCopy(val)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, val := range x {
			out[i] = deepCopy(val)
		}
		return out
	default:
		return v
	}
}

// mergeParams is Argo CD's merge generator: the first generator's sets, each
// overridden by the set of every following generator with the same values of
// the merge keys; sets of later generators matching no base set are dropped.
// Within one generator, the merge keys' values must be unique. The base
// order is kept.
func (g *Generator) mergeParams(ctx context.Context, where string, n node, opts template.Options) ([]map[string]any, error) {
	if len(n.children) < 2 {
		return nil, fmt.Errorf("%s: has %d generators: a merge needs at least two", where, len(n.children))
	}
	if len(n.mergeKeys) == 0 {
		return nil, fmt.Errorf("%s: mergeKeys is empty: name the parameters that identify a set", where)
	}
	var base []map[string]any
	index := map[string]int{}
	for i, c := range n.children {
		cw := fmt.Sprintf("%s.generators[%d]", where, i)
		child, err := c()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", cw, err)
		}
		sets, err := g.params(ctx, cw, child, opts)
		if err != nil {
			return nil, err
		}
		keys, err := mergeKeyValues(n.mergeKeys, sets)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", cw, err)
		}
		if i == 0 {
			for j, s := range sets {
				base = append(base, deepCopy(s).(map[string]any))
				index[keys[j]] = j
			}
			continue
		}
		for j, s := range sets {
			bi, ok := index[keys[j]]
			if !ok {
				continue
			}
			if opts.GoTemplate {
				deepMerge(base[bi], s)
			} else {
				maps.Copy(base[bi], s)
			}
		}
	}
	return base, nil
}

// mergeKeyValues returns, for each set, the JSON of its merge keys' values;
// two sets with the same is an error, as in Argo CD.
func mergeKeyValues(mergeKeys []string, sets []map[string]any) ([]string, error) {
	out := make([]string, len(sets))
	seen := map[string]bool{}
	for i, s := range sets {
		key := map[string]any{}
		for _, k := range mergeKeys {
			key[k] = s[k]
		}
		data, err := json.Marshal(key)
		if err != nil {
			return nil, err
		}
		if seen[string(data)] {
			return nil, errors.New("the parameter sets are not unique by mergeKeys: two have " + string(data))
		}
		seen[string(data)] = true
		out[i] = string(data)
	}
	return out, nil
}
