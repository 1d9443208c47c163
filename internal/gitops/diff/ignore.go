package diff

import (
	"path"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// IgnoreRule is one entry of an Application's spec.ignoreDifferences: the
// fields to leave out of the comparison for the objects it matches.
type IgnoreRule struct {
	// Group and Kind select objects by shell-style glob ("*", "apps"); an empty
	// Group means the core group, as in Argo CD.
	Group string `json:"group,omitempty"`
	Kind  string `json:"kind"`
	// Name and Namespace narrow the match when set.
	Name      string `json:"name,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	// JSONPointers are RFC 6901 pointers, e.g. "/spec/replicas".
	JSONPointers []string `json:"jsonPointers,omitempty"`
	// JQPathExpressions are jq path expressions, e.g.
	// ".spec.template.spec.initContainers[] | select(.name == \"istio\")".
	JQPathExpressions []string `json:"jqPathExpressions,omitempty"`
	// ManagedFieldsManagers: fields these managers own in the live object are
	// ignored, e.g. "kube-controller-manager" for replicas an HPA sets.
	ManagedFieldsManagers []string `json:"managedFieldsManagers,omitempty"`
}

// Matches reports whether the rule applies to obj, with Argo CD's semantics:
// group and kind by glob, name and namespace by equality when set. (Argo CD's
// globs also allow {a,b} alternatives; path.Match does not.)
func (r IgnoreRule) Matches(obj *unstructured.Unstructured) bool {
	gk := obj.GroupVersionKind().GroupKind()
	return glob(r.Group, gk.Group) && glob(r.Kind, gk.Kind) &&
		(r.Name == "" || r.Name == obj.GetName()) &&
		(r.Namespace == "" || r.Namespace == obj.GetNamespace())
}

func glob(pattern, s string) bool {
	ok, err := path.Match(pattern, s)
	return err == nil && ok
}

// OptionsFor gathers the pointers and managers of the rules that match obj
// (desired or live: they share group, kind, name and namespace) into base.
func OptionsFor(base Options, rules []IgnoreRule, obj *unstructured.Unstructured) Options {
	out := base
	out.IgnoreDifferences = append([]string(nil), base.IgnoreDifferences...)
	out.ManagedFieldsManagers = append([]string(nil), base.ManagedFieldsManagers...)
	out.JQPathExpressions = append([]string(nil), base.JQPathExpressions...)
	for _, r := range rules {
		if r.Matches(obj) {
			out.IgnoreDifferences = append(out.IgnoreDifferences, r.JSONPointers...)
			out.ManagedFieldsManagers = append(out.ManagedFieldsManagers, r.ManagedFieldsManagers...)
			out.JQPathExpressions = append(out.JQPathExpressions, r.JQPathExpressions...)
		}
	}
	return out
}

// removePointer removes the value a JSON pointer (RFC 6901) designates from
// obj and returns what is left. A pointer to nothing changes nothing, as a
// JSON-patch remove that fails is skipped in Argo CD.
func removePointer(obj any, pointer string) any {
	tokens, ok := pointerTokens(pointer)
	if !ok {
		return obj
	}
	return removeTokens(obj, tokens)
}

// pointerTokens splits an RFC 6901 pointer into its unescaped tokens; a
// pointer to the whole document ("") or without a leading "/" is refused.
func pointerTokens(pointer string) ([]string, bool) {
	if pointer == "" || pointer[0] != '/' {
		return nil, false
	}
	tokens := strings.Split(pointer[1:], "/")
	for i, t := range tokens {
		tokens[i] = strings.NewReplacer("~1", "/", "~0", "~").Replace(t)
	}
	return tokens, true
}

func removeTokens(obj any, tokens []string) any {
	head, rest := tokens[0], tokens[1:]
	switch o := obj.(type) {
	case map[string]any:
		child, ok := o[head]
		switch {
		case !ok:
		case len(rest) == 0:
			delete(o, head)
		default:
			o[head] = removeTokens(child, rest)
		}
		return o
	case []any:
		i, err := strconv.Atoi(head)
		if err != nil || i < 0 || i >= len(o) {
			return o
		}
		if len(rest) > 0 {
			o[i] = removeTokens(o[i], rest)
			return o
		}
		return append(o[:i:i], o[i+1:]...)
	}
	return obj
}
