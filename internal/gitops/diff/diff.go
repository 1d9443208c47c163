package diff

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// Options tune one comparison. The zero value compares everything desired sets.
type Options struct {
	// IgnoreDifferences are RFC 6901 JSON pointers ("/spec/replicas") removed
	// from both sides before comparing: Argo CD's ignoreDifferences.jsonPointers.
	IgnoreDifferences []string
	// JQPathExpressions are jq path expressions (".spec.template.spec.
	// containers[] | select(.name == \"sidecar\")") whose fields are removed
	// from both sides: Argo CD's ignoreDifferences.jqPathExpressions.
	JQPathExpressions []string
	// ManagedFieldsManagers: fields that these managers own in the live object
	// are removed from both sides: Argo CD's ignoreDifferences.managedFieldsManagers.
	ManagedFieldsManagers []string
	// FieldManager is the manager gantry applies with (server-side apply). Its
	// managed fields in live tell what was applied before, so that a field
	// removed from git shows as a removal. Without it, or when live has no such
	// entry, kubectl's last-applied-configuration annotation serves, and
	// without either the comparison is two-way (see the package doc).
	FieldManager string
}

// Result is the outcome of Diff.
type Result struct {
	// Modified: applying desired would change live, or one side is missing.
	Modified bool
	// NormalizedLive is live as compared, in YAML (nil when live is missing).
	NormalizedLive []byte
	// PredictedLive is live as it would be after applying desired, in YAML
	// (nil when desired is missing, i.e. the object would be pruned).
	PredictedLive []byte
	// Unified is a unified diff from NormalizedLive ("--- live") to
	// PredictedLive ("+++ desired"); empty when not Modified.
	Unified string
}

// Diff compares the desired state of one object with its live state. A nil
// live means the object is missing from the cluster (everything is added); a
// nil desired means it is in the cluster but no longer in git (to be pruned:
// everything is removed).
func Diff(desired, live *unstructured.Unstructured, opts Options) (*Result, error) {
	l, predicted, modified, err := compare(desired, live, opts)
	if err != nil {
		return nil, err
	}
	either := desired
	if either == nil {
		either = live
	}
	if isSecret(either.GroupVersionKind().GroupKind()) {
		// predicted shares unchanged maps with l and masking writes in place:
		// copy it first so each value is masked once.
		if predicted != nil {
			predicted = deepCopy(predicted).(map[string]any)
		}
		maskSecretData(nonNil(l, predicted)...)
	}

	res := &Result{Modified: modified}
	if res.NormalizedLive, err = toYAML(l); err != nil {
		return nil, err
	}
	if res.PredictedLive, err = toYAML(predicted); err != nil {
		return nil, err
	}
	if modified {
		res.Unified, err = difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
			A:        lines(res.NormalizedLive),
			B:        lines(res.PredictedLive),
			FromFile: "live",
			ToFile:   "desired",
			Context:  3,
		})
		if err != nil {
			return nil, fmt.Errorf("unified diff: %w", err)
		}
	}
	return res, nil
}

// normalizeDesired returns a copy of desired in the form it is compared in,
// and the type information of its kind.
func normalizeDesired(desired *unstructured.Unstructured) (map[string]any, typeInfo) {
	obj := desired.DeepCopy().Object
	// status is written by controllers, and by the API server only through the
	// status subresource: what a manifest says there is never applied.
	delete(obj, "status")
	removeMetadata(obj, "annotations", lastAppliedAnnotation)
	if isSecret(desired.GroupVersionKind().GroupKind()) {
		foldStringData(obj)
	}
	return typedNormalize(obj, desired.GroupVersionKind())
}

// normalizeLive returns a copy of live without what is never compared.
func normalizeLive(live *unstructured.Unstructured) map[string]any {
	obj := live.DeepCopy().Object
	delete(obj, "status")
	removeMetadata(obj, "managedFields", "")
	removeMetadata(obj, "annotations", lastAppliedAnnotation)
	return obj
}

// ignore removes from obj the fields at the options' pointers and jq paths
// and those owned by the fieldsV1 sets: the same fields leave both sides, so
// they cannot differ.
func ignore(obj map[string]any, opts Options, owned []map[string]any) (map[string]any, error) {
	var out any = obj
	for _, p := range opts.IgnoreDifferences {
		out = removePointer(out, p)
	}
	for _, set := range owned {
		out = removeOwned(out, set)
	}
	m := out.(map[string]any)
	for _, expr := range opts.JQPathExpressions {
		var err error
		if m, err = removeJQ(m, expr); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// removeMetadata deletes metadata[field], or metadata[field][key] when key is
// set (dropping the map once empty).
func removeMetadata(obj map[string]any, field, key string) {
	md, ok := obj["metadata"].(map[string]any)
	if !ok {
		return
	}
	if key == "" {
		delete(md, field)
		return
	}
	m, ok := md[field].(map[string]any)
	if !ok {
		return
	}
	delete(m, key)
	if len(m) == 0 {
		delete(md, field)
	}
}

// prune drops nulls and empty maps and lists, which a missing object's
// manifest may carry but which would never be stored.
func prune(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, cv := range t {
			if pv := prune(cv); !isEmpty(pv) {
				out[k] = pv
			}
		}
		return out
	case []any:
		out := make([]any, 0, len(t))
		for _, cv := range t {
			out = append(out, prune(cv))
		}
		return out
	}
	return v
}

// deepCopy copies maps and lists; scalars are immutable and shared.
func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, cv := range t {
			out[k] = deepCopy(cv)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, cv := range t {
			out[i] = deepCopy(cv)
		}
		return out
	}
	return v
}

func nonNil(objs ...map[string]any) []map[string]any {
	var out []map[string]any
	for _, o := range objs {
		if o != nil {
			out = append(out, o)
		}
	}
	return out
}

// Modified says whether applying desired would change live (or one side is
// missing): Diff without its texts. The controller compares every resource of
// every app at each refresh and needs no more; rendering both sides as YAML
// and diffing them was most of the comparison's cost.
func Modified(desired, live *unstructured.Unstructured, opts Options) (bool, error) {
	_, _, modified, err := compare(desired, live, opts)
	return modified, err
}

// compare normalizes both sides and predicts live after applying desired: the
// normalized live object, the prediction, and whether they differ.
func compare(desired, live *unstructured.Unstructured, opts Options) (l, predicted map[string]any, modified bool, err error) {
	if desired == nil && live == nil {
		return nil, nil, false, errors.New("diff: desired and live are both nil")
	}
	var d map[string]any
	var info typeInfo
	var owned []map[string]any // fieldsV1 sets of the ignored managers, from live
	if live != nil {
		owned = managedBy(live, opts.ManagedFieldsManagers)
		if l, err = ignore(normalizeLive(live), opts, owned); err != nil {
			return nil, nil, false, err
		}
	}
	if desired != nil {
		d, info = normalizeDesired(desired)
		if d, err = ignore(d, opts, owned); err != nil {
			return nil, nil, false, err
		}
	}
	modified = true
	switch {
	case live == nil:
		predicted = prune(d).(map[string]any)
	case desired == nil:
		// nothing to predict: the object goes
	default:
		prev := previouslyApplied(live, opts.FieldManager)
		predicted, modified = merger{threeWay: prev != nil}.object(d, l, prev, info, false)
	}
	return l, predicted, modified, nil
}

func toYAML(obj map[string]any) ([]byte, error) {
	if obj == nil {
		return nil, nil
	}
	out, err := yaml.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("marshal to YAML: %w", err)
	}
	return out, nil
}

// lines splits YAML into lines that keep their "\n" (what difflib expects);
// unlike difflib.SplitLines it adds no empty line after the final newline.
func lines(b []byte) []string {
	if len(b) == 0 {
		return nil
	}
	out := strings.SplitAfter(string(b), "\n")
	if out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return out
}
