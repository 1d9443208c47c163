package generate

import (
	"context"
	"errors"
	"fmt"
	"maps"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
	"gantry.dev/gantry/internal/gitops/appset/template"
)

// clusterParams is Argo CD's cluster generator: name, nameNormalized,
// server, project, and the Secret's labels and annotations as
// metadata.labels.<key> / metadata.annotations.<key> (flat) or
// metadata.labels / metadata.annotations maps (goTemplate); then values.
// The host cluster without a Secret is yielded only without selector, with
// nameNormalized equal to its name and no metadata.
func (g *Generator) clusterParams(ctx context.Context, c *gitopsv1alpha1.ClusterGenerator, opts template.Options) ([]map[string]any, error) {
	if g.Clusters == nil {
		return nil, errors.New("no cluster registry is configured")
	}
	sel, err := metav1.LabelSelectorAsSelector(&c.Selector)
	if err != nil {
		return nil, fmt.Errorf("selector: %w", err)
	}
	hasSelector := len(c.Selector.MatchLabels) > 0 || len(c.Selector.MatchExpressions) > 0
	clusters, err := g.Clusters.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing clusters: %w", err)
	}
	var out []map[string]any
	for _, cl := range clusters {
		params := map[string]any{"name": cl.Name, "server": cl.Server, "project": cl.Project}
		if cl.Local {
			if hasSelector {
				continue
			}
			params["nameNormalized"] = cl.Name
		} else {
			if !sel.Matches(labels.Set(cl.Labels)) {
				continue
			}
			params["nameNormalized"] = template.Normalize(cl.Name)
			if opts.GoTemplate {
				meta := map[string]any{}
				if len(cl.Annotations) > 0 {
					meta["annotations"] = stringMap(cl.Annotations)
				}
				if len(cl.Labels) > 0 {
					meta["labels"] = stringMap(cl.Labels)
				}
				params["metadata"] = meta
			} else {
				for k, v := range cl.Annotations {
					params["metadata.annotations."+k] = v
				}
				for k, v := range cl.Labels {
					params["metadata.labels."+k] = v
				}
			}
		}
		if err := appendValues(c.Values, params, opts); err != nil {
			return nil, fmt.Errorf("cluster %s: %w", cl.Name, err)
		}
		out = append(out, params)
	}
	return out, nil
}

// stringMap copies a map[string]string into a map[string]any, the type every
// nested parameter has (so merges treat all maps alike).
func stringMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range maps.All(m) {
		out[k] = v
	}
	return out
}
