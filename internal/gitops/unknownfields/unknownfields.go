// Package unknownfields finds the fields of a stored object that its Go type
// does not have: what gantry reports as unsupported rather than ignore.
package unknownfields

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// List returns the paths under prefix in raw (an object as stored, decoded
// into maps and slices) that the Go type t does not know. The CRDs keep unknown
// fields (PreserveUnknownFields) so that an Argo CD manifest is accepted whole;
// this is how gantry then says which fields it does not honour instead of
// ignoring them. RawExtension and apiextensions JSON fields are free-form.
func List(prefix string, raw any, t reflect.Type) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == reflect.TypeOf(runtime.RawExtension{}) || t == reflect.TypeOf(apiextensionsv1.JSON{}) {
		return nil // free-form: helm valuesObject, list elements
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
			out = append(out, List(prefix+"."+k, v, ft)...)
		}
	case reflect.Slice:
		items, ok := raw.([]any)
		if !ok {
			return nil
		}
		for i, v := range items {
			out = append(out, List(fmt.Sprintf("%s[%d]", prefix, i), v, t.Elem())...)
		}
	}
	sort.Strings(out)
	return out
}

// jsonFields maps the JSON names of a struct's fields (inline ones
// flattened) to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" && (strings.Contains(opts, "inline") || f.Anonymous) {
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
