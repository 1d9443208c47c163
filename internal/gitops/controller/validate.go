package controller

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
)

// unsupportedFields lists the paths in raw (an Application's spec as stored, as a
// JSON map) that the Go type t does not know. The CRD keeps unknown fields
// (PreserveUnknownFields) so an Argo CD manifest is accepted whole; this is how
// gantry then says which of its fields it does not honour instead of ignoring them.
func unsupportedFields(prefix string, raw any, t reflect.Type) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == reflect.TypeOf(runtime.RawExtension{}) {
		return nil // free-form (helm valuesObject)
	}
	var out []string
	switch t.Kind() {
	case reflect.Struct:
		m, ok := raw.(map[string]any)
		if !ok {
			return nil
		}
		fields := jsonFields(t)
		for k, v := range m {
			ft, known := fields[k]
			if !known {
				out = append(out, prefix+"."+k)
				continue
			}
			out = append(out, unsupportedFields(prefix+"."+k, v, ft)...)
		}
	case reflect.Slice:
		items, ok := raw.([]any)
		if !ok {
			return nil
		}
		for i, v := range items {
			out = append(out, unsupportedFields(fmt.Sprintf("%s[%d]", prefix, i), v, t.Elem())...)
		}
	}
	sort.Strings(out)
	return out
}

// jsonFields maps the JSON names of a struct's fields (inline ones flattened) to
// their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" && strings.Contains(opts, "inline") || f.Anonymous && name == "" {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range jsonFields(ft) {
					out[k] = v
				}
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

// validateSpec checks what the CRD schema cannot: one of source and sources,
// a repoURL on each, and names that make a valid source set.
func validateSpec(spec *gitopsv1alpha1.ApplicationSpec) error {
	switch {
	case spec.Source == nil && len(spec.Sources) == 0:
		return fmt.Errorf("spec has neither source nor sources: set spec.source.repoURL (and path) to the Git repository to deploy")
	case spec.Source != nil && len(spec.Sources) > 0:
		return fmt.Errorf("spec sets both source and sources: use one of them")
	}
	refs := map[string]bool{}
	deployable := 0
	for i, s := range sources(spec) {
		if strings.TrimSpace(s.RepoURL) == "" {
			return fmt.Errorf("source %d has no repoURL", i)
		}
		if s.Ref != "" {
			if refs[s.Ref] {
				return fmt.Errorf("two sources have ref %q: refs must be unique", s.Ref)
			}
			refs[s.Ref] = true
		}
		if s.Ref == "" || s.Path != "" || s.Chart != "" {
			deployable++
		}
		if s.Chart != "" && s.Path != "" {
			return fmt.Errorf("source %d sets both chart and path: a chart comes from a Helm repository, a path from Git", i)
		}
		n := 0
		if s.Helm != nil {
			n++
		}
		if s.Kustomize != nil {
			n++
		}
		if s.Directory != nil {
			n++
		}
		if n > 1 {
			return fmt.Errorf("source %d sets more than one of helm, kustomize and directory: keep the one matching the source's type", i)
		}
	}
	if deployable == 0 {
		return fmt.Errorf("every source only has a ref: at least one source must have a path or chart to deploy")
	}
	return nil
}

// sources returns the app's sources as a list whichever field holds them.
func sources(spec *gitopsv1alpha1.ApplicationSpec) []gitopsv1alpha1.ApplicationSource {
	if spec.Source != nil {
		return []gitopsv1alpha1.ApplicationSource{*spec.Source}
	}
	return spec.Sources
}
