package policy

import (
	"errors"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	psapi "k8s.io/pod-security-admission/api"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/podsecurity"
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

// Object decides whether apps may write obj to t: where it goes, its kind,
// and what it would run (pod security, namespace labels).
func (p *Policy) Object(t Target, obj *unstructured.Unstructured) error {
	return p.object(t, obj, true)
}

// Reaches decides whether apps may touch the live object obj on t (compare,
// prune, delete it, show it): where it is and its kind. What it runs is not
// asked: a workload the project deployed before an administrator tightened
// its level is still the app's to show and to delete.
func (p *Policy) Reaches(t Target, obj *unstructured.Unstructured) error {
	return p.object(t, obj, false)
}

func (p *Policy) object(t Target, obj *unstructured.Unstructured, content bool) error {
	gvk := obj.GroupVersionKind()
	name := describe(obj)
	ns := obj.GetNamespace()
	if ns == "" {
		return p.clusterScoped(t, obj, name, content)
	}
	if err := p.Destination(t, ns); err != nil {
		r := err.(*Refusal)
		r.What = name + " in " + r.What
		return r
	}
	if !p.Own(t) {
		// On clusters the project shares, its workloads meet its Pod
		// Security level, and gantry's own kinds (a VirtualCluster with a
		// looser level, say) go through gantry's API, which checks them.
		if gvk.Group == platformv1alpha1.GroupVersion.Group && !matchAny(p.nsAllow, gvk.Group, gvk.Kind) {
			return p.refuse("spec.namespaceResourceWhitelist", name,
				"create it through gantry (gantry vcluster create), which checks its settings, or ask an administrator to add %s to the project's spec.namespaceResourceWhitelist", groupKind(gvk.Group, gvk.Kind))
		}
		if content {
			if err := p.podSecurity(obj, name); err != nil {
				return err
			}
		}
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

func (p *Policy) clusterScoped(t Target, obj *unstructured.Unstructured, name string, content bool) error {
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
		if content && !p.Own(t) {
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

// NamespaceLabels refuses Pod Security labels looser than the project's level
// (or not a level at all) on a namespace outside the project's own virtual
// clusters: they would let the app's pods run privileged on a shared cluster.
func (p *Policy) NamespaceLabels(namespace string, labels map[string]string) error {
	for _, key := range []string{psapi.EnforceLevelLabel, psapi.AuditLevelLabel, psapi.WarnLevelLabel} {
		v, ok := labels[key]
		if !ok || podsecurity.Valid(podsecurity.Level(v)) && !podsecurity.Looser(podsecurity.Level(v), p.level) {
			continue
		}
		return p.refuse("spec.podSecurity", fmt.Sprintf("namespace %s with %s=%s", namespace, key, v),
			"the project's pods must meet Pod Security level %s: drop the label or set it to %s or stricter, or ask an administrator to change the project's spec.podSecurity", p.level, p.level)
	}
	return nil
}

// checker is Kubernetes' own Pod Security checks; built once, never changed.
var checker = sync.OnceValues(podsecurity.NewChecker)

// podTemplate returns the pod a workload object makes (a Pod itself, or the
// template of a Deployment, Job, CronJob...), or nil for other kinds.
func podTemplate(o *unstructured.Unstructured) (*corev1.Pod, error) {
	gvk := o.GroupVersionKind()
	var path []string
	switch {
	case gvk.Group == "" && gvk.Kind == "Pod":
		path = nil
	case gvk.Group == "" && gvk.Kind == "ReplicationController",
		gvk.Group == "apps" && (gvk.Kind == "Deployment" || gvk.Kind == "ReplicaSet" || gvk.Kind == "StatefulSet" || gvk.Kind == "DaemonSet"),
		gvk.Group == "batch" && gvk.Kind == "Job":
		path = []string{"spec", "template"}
	case gvk.Group == "batch" && gvk.Kind == "CronJob":
		path = []string{"spec", "jobTemplate", "spec", "template"}
	default:
		return nil, nil
	}
	raw := o.Object
	if path != nil {
		m, found, err := unstructured.NestedMap(o.Object, path...)
		if err != nil || !found {
			return nil, err
		}
		raw = m
	}
	pod := &corev1.Pod{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, pod); err != nil {
		return nil, fmt.Errorf("%s: its pod template: %w", describe(o), err)
	}
	return pod, nil
}

// podSecurity refuses a workload whose pods would not meet the project's
// level. On a shared cluster this is the engine's own check, beside the
// namespace's Pod Security admission (which a granted namespace may lack).
func (p *Policy) podSecurity(o *unstructured.Unstructured, name string) error {
	pod, err := podTemplate(o)
	if err != nil || pod == nil {
		return err
	}
	c, err := checker()
	if err != nil {
		return err
	}
	if v := c.Check(p.level, pod); v != nil {
		return p.refuse("spec.podSecurity", name+", whose pods "+v.Error(),
			"change the pod template to meet level %s, or ask an administrator to change the project's spec.podSecurity", p.level)
	}
	return nil
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
