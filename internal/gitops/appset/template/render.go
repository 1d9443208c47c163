package template

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
	"gantry.dev/gantry/internal/gitops/cluster"
	"gantry.dev/gantry/internal/project"
)

// Element is one parameter set of an ApplicationSet, with its position in
// the generators' output (for messages).
type Element struct {
	Index  int
	Params map[string]any
}

// String names the element in messages: its index and a short summary of its
// parameters, e.g. `element 2 (branch=feature/login, sha=…)`.
func (e Element) String() string {
	flat := map[string]string{}
	flatten("", e.Params, flat)
	keys := make([]string, 0, len(flat))
	for k := range flat {
		keys = append(keys, k)
	}
	first := map[string]int{"name": 0, "branch": 1, "path": 2, "path.path": 3, "server": 4}
	sort.Slice(keys, func(i, j int) bool {
		pi, iok := first[keys[i]]
		pj, jok := first[keys[j]]
		switch {
		case iok && jok:
			return pi < pj
		case iok != jok:
			return iok
		}
		return keys[i] < keys[j]
	})
	var b strings.Builder
	for _, k := range keys {
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k + "=" + flat[k])
		if b.Len() > 120 {
			return fmt.Sprintf("element %d (%s…)", e.Index, b.String()[:120])
		}
	}
	return fmt.Sprintf("element %d (%s)", e.Index, b.String())
}

// flatten writes nested maps as dotted keys, for messages.
func flatten(prefix string, v any, out map[string]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			flatten(joinKey(prefix, k), val, out)
		}
	case map[string]string:
		for k, val := range x {
			out[joinKey(prefix, k)] = val
		}
	default:
		out[prefix] = fmt.Sprint(x)
	}
}

func joinKey(prefix, k string) string {
	if prefix == "" {
		return k
	}
	return prefix + "." + k
}

// Rendered is what one element renders to.
type Rendered struct {
	Element Element
	// Application is the generated Application: named, in its namespace (the
	// template's or the ApplicationSet's), without owner references.
	Application *gitopsv1alpha1.Application
	// VirtualCluster is the rendered virtualCluster template, nil when the
	// ApplicationSet has none. The VirtualCluster goes in the ApplicationSet's
	// namespace.
	VirtualCluster *gitopsv1alpha1.ApplicationSetVirtualClusterTemplate
}

// Parameters gantry adds for the template when spec.virtualCluster is set:
// virtualCluster.name, virtualCluster.namespace and virtualCluster.clusterName
// (the destination name the cluster is registered under).
const (
	ParamVirtualCluster            = "virtualCluster"
	ParamVirtualClusterName        = "virtualCluster.name"
	ParamVirtualClusterNamespace   = "virtualCluster.namespace"
	ParamVirtualClusterClusterName = "virtualCluster.clusterName"
)

// Render renders the ApplicationSet's templates for one element: the
// virtualCluster template first (when set), whose name, namespace and cluster
// name are then parameters of the Application template. Errors name the
// element and the field.
func Render(set *gitopsv1alpha1.ApplicationSet, e Element) (*Rendered, error) {
	r, err := render(set, e)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", e, err)
	}
	return r, nil
}

func render(set *gitopsv1alpha1.ApplicationSet, e Element) (*Rendered, error) {
	opts := OptionsOf(&set.Spec)
	params := e.Params
	out := &Rendered{Element: e}
	if set.Spec.VirtualCluster != nil {
		vc, err := renderVirtualCluster(set.Spec.VirtualCluster, params, opts)
		if err != nil {
			return nil, err
		}
		out.VirtualCluster = vc
		params = maps.Clone(params)
		if params == nil {
			params = map[string]any{}
		}
		name, ns, clusterName := vc.Name, set.Namespace, cluster.ClusterName(set.Namespace, vc.Name)
		if opts.GoTemplate {
			params[ParamVirtualCluster] = map[string]any{"name": name, "namespace": ns, "clusterName": clusterName}
		} else {
			params[ParamVirtualClusterName] = name
			params[ParamVirtualClusterNamespace] = ns
			params[ParamVirtualClusterClusterName] = clusterName
		}
	}
	app, err := renderApplication(set, params, opts)
	if err != nil {
		return nil, err
	}
	out.Application = app
	return out, nil
}

// renderApplication is Argo CD's RenderTemplateParams: every string of the
// template replaced, then the resources finalizer added unless resources are
// to be preserved or the template lists finalizers.
func renderApplication(set *gitopsv1alpha1.ApplicationSet, params map[string]any, opts Options) (*gitopsv1alpha1.Application, error) {
	tmpl := set.Spec.Template
	raw, err := toJSONValue(map[string]any{"metadata": tmpl.ApplicationSetTemplateMeta, "spec": tmpl.Spec})
	if err != nil {
		return nil, err
	}
	if len(params) > 0 { // as Argo CD: no parameters, nothing replaced
		if raw, err = ReplaceValue("", raw, params, opts); err != nil {
			return nil, err
		}
	}
	var rendered struct {
		Metadata gitopsv1alpha1.ApplicationSetTemplateMeta `json:"metadata"`
		Spec     gitopsv1alpha1.ApplicationSpec            `json:"spec"`
	}
	if err := fromJSONValue(raw, &rendered); err != nil {
		return nil, err
	}
	m := rendered.Metadata
	app := &gitopsv1alpha1.Application{Spec: rendered.Spec}
	app.APIVersion = gitopsv1alpha1.GroupVersion.String()
	app.Kind = "Application"
	app.Name, app.Namespace = m.Name, m.Namespace
	if app.Namespace == "" {
		app.Namespace = set.Namespace
	}
	app.Labels, app.Annotations, app.Finalizers = m.Labels, m.Annotations, m.Finalizers
	if app.Spec.Project == "" {
		// The project whose namespace holds the app: the only one it may name.
		app.Spec.Project, _ = project.FromNamespace(app.Namespace)
	}
	if (set.Spec.SyncPolicy == nil || !set.Spec.SyncPolicy.PreserveResourcesOnDeletion) && len(app.Finalizers) == 0 {
		app.Finalizers = []string{gitopsv1alpha1.ApplicationFinalizer}
	}
	if err := validateApplication(app); err != nil {
		return nil, err
	}
	return app, nil
}

func validateApplication(app *gitopsv1alpha1.Application) error {
	var errs []string
	if app.Name == "" {
		errs = append(errs, "metadata.name is empty: give the template a name, e.g. '{{name}}-app'")
	} else if msgs := validation.IsDNS1123Subdomain(app.Name); len(msgs) > 0 {
		errs = append(errs, fmt.Sprintf("metadata.name %q is not a valid Application name: %s (use a *Normalized parameter or the normalize function)", app.Name, strings.Join(msgs, "; ")))
	}
	if app.Namespace != "" {
		if msgs := validation.IsDNS1123Label(app.Namespace); len(msgs) > 0 {
			errs = append(errs, fmt.Sprintf("metadata.namespace %q is not a valid namespace: %s", app.Namespace, strings.Join(msgs, "; ")))
		}
	}
	errs = append(errs, labelErrors("metadata.labels", app.Labels)...)
	for k := range app.Annotations {
		if msgs := validation.IsQualifiedName(k); len(msgs) > 0 {
			errs = append(errs, fmt.Sprintf("metadata.annotations: key %q is not valid: %s", k, strings.Join(msgs, "; ")))
		}
	}
	if len(errs) > 0 {
		sort.Strings(errs)
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

func labelErrors(field string, labels map[string]string) []string {
	var errs []string
	for k, v := range labels {
		if msgs := validation.IsQualifiedName(k); len(msgs) > 0 {
			errs = append(errs, fmt.Sprintf("%s: key %q is not valid: %s", field, k, strings.Join(msgs, "; ")))
		}
		if msgs := validation.IsValidLabelValue(v); len(msgs) > 0 {
			errs = append(errs, fmt.Sprintf("%s[%q]: value %q is not valid: %s", field, k, v, strings.Join(msgs, "; ")))
		}
	}
	return errs
}

// sleepAfterPattern is the VirtualCluster CRD's pattern for spec.sleepAfter.
var sleepAfterPattern = regexp.MustCompile(`^(0|([0-9]+(\.[0-9]+)?(ns|us|µs|μs|ms|s|m|h))+)$`)

// RenderVirtualCluster renders an ApplicationSet's virtualCluster template
// for one element and checks the result: a DNS-label name, valid labels, a
// duration.
func RenderVirtualCluster(set *gitopsv1alpha1.ApplicationSet, e Element) (*gitopsv1alpha1.ApplicationSetVirtualClusterTemplate, error) {
	if set.Spec.VirtualCluster == nil {
		return nil, nil
	}
	vc, err := renderVirtualCluster(set.Spec.VirtualCluster, e.Params, OptionsOf(&set.Spec))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", e, err)
	}
	return vc, nil
}

func renderVirtualCluster(tmpl *gitopsv1alpha1.ApplicationSetVirtualClusterTemplate, params map[string]any, opts Options) (*gitopsv1alpha1.ApplicationSetVirtualClusterTemplate, error) {
	raw, err := toJSONValue(tmpl)
	if err != nil {
		return nil, err
	}
	if raw, err = ReplaceValue("virtualCluster", raw, params, opts); err != nil {
		return nil, err
	}
	vc := &gitopsv1alpha1.ApplicationSetVirtualClusterTemplate{}
	if err := fromJSONValue(raw, vc); err != nil {
		return nil, err
	}
	var errs []string
	if msgs := validation.IsDNS1123Label(vc.Name); len(msgs) > 0 {
		errs = append(errs, fmt.Sprintf("virtualCluster.name %q is not a valid VirtualCluster name: %s (use branchNormalized or nameNormalized)", vc.Name, strings.Join(msgs, "; ")))
	}
	errs = append(errs, labelErrors("virtualCluster.labels", vc.Labels)...)
	if vc.SleepAfter != "" {
		if _, perr := time.ParseDuration(vc.SleepAfter); perr != nil || !sleepAfterPattern.MatchString(vc.SleepAfter) {
			errs = append(errs, fmt.Sprintf("virtualCluster.sleepAfter %q is not a duration such as 30m or 1h30m", vc.SleepAfter))
		}
	}
	if len(errs) > 0 {
		sort.Strings(errs)
		return nil, errors.New(strings.Join(errs, "; "))
	}
	return vc, nil
}

// RenderAll renders every element and checks that no two render the same
// Application (namespace and name), and that elements sharing a
// VirtualCluster render it identically. Rendering goes on past a failing
// element so that the error lists every one.
func RenderAll(set *gitopsv1alpha1.ApplicationSet, params []map[string]any) ([]*Rendered, error) {
	var errs []error
	out := make([]*Rendered, 0, len(params))
	for i, p := range params {
		r, err := Render(set, Element{Index: i, Params: p})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, r)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if err := Duplicates(out); err != nil {
		return nil, err
	}
	return out, nil
}

// Duplicates reports elements that render the same Application, naming both,
// and elements that render the same VirtualCluster name with different
// labels or sleepAfter (the same one is shared: e.g. several apps of one
// branch in one preview cluster).
func Duplicates(rs []*Rendered) error {
	var errs []error
	apps := map[string]*Rendered{}
	vcs := map[string]*Rendered{}
	for _, r := range rs {
		key := r.Application.Namespace + "/" + r.Application.Name
		if prev, ok := apps[key]; ok {
			errs = append(errs, fmt.Errorf("%s and %s both render Application %s: make the template's name unique, e.g. with a parameter that differs between them",
				prev.Element, r.Element, key))
		} else {
			apps[key] = r
		}
		if r.VirtualCluster == nil {
			continue
		}
		if prev, ok := vcs[r.VirtualCluster.Name]; ok {
			a, b := prev.VirtualCluster, r.VirtualCluster
			if a.SleepAfter != b.SleepAfter || !maps.Equal(a.Labels, b.Labels) {
				errs = append(errs, fmt.Errorf("%s and %s render VirtualCluster %s differently (labels %v vs %v, sleepAfter %q vs %q): elements sharing a cluster must agree",
					prev.Element, r.Element, a.Name, a.Labels, b.Labels, a.SleepAfter, b.SleepAfter))
			}
		} else {
			vcs[r.VirtualCluster.Name] = r
		}
	}
	return errors.Join(errs...)
}

func toJSONValue(v any) (any, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode template: %w", err)
	}
	var out any
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("decode template: %w", err)
	}
	return out, nil
}

func fromJSONValue(v any, into any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode rendered template: %w", err)
	}
	if err := json.Unmarshal(data, into); err != nil {
		return fmt.Errorf("decode rendered template: %w", err)
	}
	return nil
}
