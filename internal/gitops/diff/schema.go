package diff

import (
	"reflect"
	"slices"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/client-go/kubernetes/scheme"
)

// typeInfo knows the Go type behind a built-in kind, and from its
// patchStrategy/patchMergeKey struct tags (what strategic merge patch reads)
// which lists merge by key. The zero typeInfo (custom resources, unknown
// fields) knows nothing, and its lists compare by position.
type typeInfo struct {
	meta strategicpatch.LookupPatchMeta
}

// field returns the type of a map field or of a map value.
func (t typeInfo) field(name string) typeInfo {
	if t.meta == nil {
		return typeInfo{}
	}
	// strategicpatch only walks structs; a map's values (labels, resource
	// limits, a map of structs) all have the map's element type.
	if ps, ok := t.meta.(strategicpatch.PatchMetaFromStruct); ok {
		rt := ps.T
		for rt.Kind() == reflect.Pointer {
			rt = rt.Elem()
		}
		if rt.Kind() == reflect.Map {
			return typeInfo{strategicpatch.PatchMetaFromStruct{T: rt.Elem()}}
		}
	}
	sub, _, err := t.meta.LookupPatchMetadataForStruct(name)
	if err != nil {
		return typeInfo{}
	}
	return typeInfo{sub}
}

// listKind describes how a list merges when applied.
type listKind struct {
	elem     typeInfo
	mergeKey string // the field that identifies an element (containers: name)
	merge    bool   // patchStrategy merge: elements are merged, not the list replaced
}

// list returns how the list field name merges.
func (t typeInfo) list(name string) listKind {
	if t.meta == nil {
		return listKind{}
	}
	sub, pm, err := t.meta.LookupPatchMetadataForSlice(name)
	if err != nil {
		return listKind{}
	}
	merge := slices.Contains(pm.GetPatchStrategies(), "merge")
	if !merge {
		return listKind{elem: typeInfo{sub}}
	}
	return listKind{elem: typeInfo{sub}, mergeKey: pm.GetPatchMergeKey(), merge: true}
}

// typedNormalize converts obj through its Go type and back when gvk is a
// built-in kind, and returns what it learnt of the type. The conversion writes
// the object as the API server would store it: quantities in canonical form,
// integers as integers, omitempty zero values gone.
//
// Like Argo CD's remarshal, it keeps only fields the input had (the conversion
// would add zero values of other fields: targetPort: 0, creationTimestamp: null,
// status: {}), and leaves an object with fields its type does not know as it
// was, so a misspelt field still shows as a difference instead of vanishing.
func typedNormalize(obj map[string]any, gvk schema.GroupVersionKind) (map[string]any, typeInfo) {
	typed, info := typeOf(gvk)
	if typed == nil {
		return obj, info
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(obj, typed, true); err != nil {
		return obj, info
	}
	back, err := runtime.DefaultUnstructuredConverter.ToUnstructured(typed)
	if err != nil {
		return obj, info
	}
	return restrict(obj, back).(map[string]any), info
}

// restrict returns converted limited to the fields present in orig.
func restrict(orig, converted any) any {
	switch o := orig.(type) {
	case map[string]any:
		c, ok := converted.(map[string]any)
		if !ok {
			return converted
		}
		out := make(map[string]any, len(o))
		for k, ov := range o {
			if cv, ok := c[k]; ok {
				out[k] = restrict(ov, cv)
			}
		}
		return out
	case []any:
		c, ok := converted.([]any)
		if !ok || len(c) != len(o) {
			return converted
		}
		out := make([]any, len(c))
		for i := range c {
			out[i] = restrict(o[i], c[i])
		}
		return out
	}
	return converted
}

// typeOf returns a new object of gvk's Go type and what its struct tags say,
// or nil and the zero typeInfo for a kind without one (custom resources).
func typeOf(gvk schema.GroupVersionKind) (runtime.Object, typeInfo) {
	typed, err := scheme.Scheme.New(gvk)
	if err != nil {
		return nil, typeInfo{}
	}
	info := typeInfo{}
	if meta, err := strategicpatch.NewPatchMetaFromStruct(typed); err == nil {
		info.meta = meta
	}
	return typed, info
}
