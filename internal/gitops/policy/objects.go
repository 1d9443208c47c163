package policy

import (
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
)

// maxRefusals bounds how many refusals one check reports: enough to fix a
// chart, not a wall of text in the app's status.
const maxRefusals = 10

// Objects decides, for the whole set at once, whether apps may write objs to
// t. Namespaces must be filled in already (an object without one is
// cluster-scoped). Nothing may be written when it answers an error: the engine
// calls it before the first dry run.
func (p *Policy) Objects(t Target, objs []*unstructured.Unstructured) error {
	var errs []error
	for _, o := range objs {
		if err := p.Object(t, o); err != nil {
			errs = append(errs, err)
			if len(errs) == maxRefusals {
				errs = append(errs, fmt.Errorf("and maybe more (only the first %d are listed)", maxRefusals))
				break
			}
		}
	}
	return errors.Join(errs...)
}

// Object decides whether apps may write obj to t.
func (p *Policy) Object(t Target, obj *unstructured.Unstructured) error {
	gvk := obj.GroupVersionKind()
	name := describe(obj)
	ns := obj.GetNamespace()
	if ns == "" {
		return p.clusterScoped(t, obj, name)
	}
	if err := p.Destination(t, ns); err != nil {
		r := err.(*Refusal)
		r.What = name + " in " + r.What
		return r
	}
	for _, k := range p.nsDeny {
		if k.match(gvk.Group, gvk.Kind) {
			return p.refuse("spec.namespaceResourceBlacklist", name, "remove it from the app, or ask an administrator to take %s off the project's spec.namespaceResourceBlacklist", groupKind(gvk.Group, gvk.Kind))
		}
	}
	if p.nsAllow != nil && !matchAny(p.nsAllow, gvk.Group, gvk.Kind) {
		return p.refuse("spec.namespaceResourceWhitelist", name, "remove it from the app, or ask an administrator to add %s to the project's spec.namespaceResourceWhitelist", groupKind(gvk.Group, gvk.Kind))
	}
	return nil
}

func (p *Policy) clusterScoped(t Target, obj *unstructured.Unstructured, name string) error {
	gvk := obj.GroupVersionKind()
	gk := groupKind(gvk.Group, gvk.Kind)
	for _, k := range p.clusterDeny {
		if k.match(gvk.Group, gvk.Kind) {
			return p.refuse("spec.clusterResourceBlacklist", name, "remove it from the app, or ask an administrator to take %s off the project's spec.clusterResourceBlacklist", gk)
		}
	}
	if gvk.Group == "" && gvk.Kind == "Namespace" {
		// A namespace the project may deploy into may be created too, but not
		// with Pod Security labels looser than the project's.
		if err := p.Destination(t, obj.GetName()); err != nil {
			r := err.(*Refusal)
			r.What = name + " (" + r.What + ")"
			return r
		}
		if !p.Own(t) {
			return p.NamespaceLabels(obj.GetName(), obj.GetLabels())
		}
		return nil
	}
	if p.clusterAllow == nil {
		if p.Own(t) {
			return nil // the project's own virtual cluster is its to shape
		}
		return p.refuse("spec.clusterResourceWhitelist", name+" (cluster-scoped) on "+clusterName(t),
			"cluster-scoped objects are refused outside the project's own virtual clusters: deploy it into one of them, or ask an administrator to add %s to the project's spec.clusterResourceWhitelist", gk)
	}
	if !matchAny(p.clusterAllow, gvk.Group, gvk.Kind) {
		return p.refuse("spec.clusterResourceWhitelist", name+" (cluster-scoped)",
			"remove it from the app, or ask an administrator to add %s to the project's spec.clusterResourceWhitelist", gk)
	}
	return nil
}

// podSecurityLabels are the Namespace labels Pod Security admission reads.
var podSecurityLabels = []string{
	"pod-security.kubernetes.io/enforce", "pod-security.kubernetes.io/audit", "pod-security.kubernetes.io/warn",
}

// NamespaceLabels refuses Pod Security labels looser than the project's level
// on a namespace outside the project's own virtual clusters: they would let
// the app's pods run privileged on a shared cluster.
func (p *Policy) NamespaceLabels(namespace string, labels map[string]string) error {
	v, ok := labels[podSecurityLabels[0]]
	if !ok {
		return nil
	}
	if !Looser(platformv1alpha1.PodSecurityLevel(v), p.level) {
		return nil
	}
	return p.refuse("spec.podSecurity", fmt.Sprintf("namespace %s with %s=%s", namespace, podSecurityLabels[0], v),
		"the project's pods must meet Pod Security level %s: drop the label or set it to %s or stricter, or ask an administrator to change the project's spec.podSecurity", p.level, p.level)
}

// Level is the Pod Security level l stands for: baseline when unset.
func Level(l platformv1alpha1.PodSecurityLevel) platformv1alpha1.PodSecurityLevel {
	if l == "" {
		return platformv1alpha1.PodSecurityBaseline
	}
	return l
}

var strictness = map[platformv1alpha1.PodSecurityLevel]int{
	platformv1alpha1.PodSecurityPrivileged: 0,
	platformv1alpha1.PodSecurityBaseline:   1,
	platformv1alpha1.PodSecurityRestricted: 2,
}

// Looser says whether level a allows more than level b. An unknown level
// counts as privileged: it cannot be checked, so it must not pass as strict.
func Looser(a, b platformv1alpha1.PodSecurityLevel) bool {
	sa, ok := strictness[Level(a)]
	if !ok {
		sa = -1
	}
	return sa < strictness[Level(b)]
}

func matchAny(rules []kindRule, group, kind string) bool {
	for _, k := range rules {
		if k.match(group, kind) {
			return true
		}
	}
	return false
}

func groupKind(group, kind string) string {
	if group == "" {
		return "{group: \"\", kind: " + kind + "}"
	}
	return "{group: " + group + ", kind: " + kind + "}"
}

func describe(o *unstructured.Unstructured) string {
	gvk := o.GroupVersionKind()
	n := o.GetName()
	if n == "" {
		n = o.GetGenerateName() + "*"
	}
	k := gvk.Kind
	if gvk.Group != "" {
		k += "." + gvk.Group
	}
	if ns := o.GetNamespace(); ns != "" {
		return k + " " + ns + "/" + n
	}
	return k + " " + n
}

func clusterName(t Target) string {
	if t.Host {
		return "the host cluster"
	}
	return "cluster " + t.Name
}
