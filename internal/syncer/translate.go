package syncer

import (
	"maps"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// translator maps virtual objects to their host copies. It is a value with no
// clients, so everything it does is pure and table-tested.
type translator struct {
	vcluster          string
	vclusterNamespace string
	hostNamespace     string
	// tolerable are taint keys tenants' pods may tolerate on the host besides
	// node conditions (Options.TolerableTaints).
	tolerable []string
	// dns is cluster DNS for pods (Options.DNS); nil leaves their DNS alone.
	dns *DNS
	// placement is where the host runs the pods (Options.Placement).
	placement *Placement
	// apiServer is where pods reach their API server (Options.APIServer).
	apiServer *APIServer
}

// name is the host name of the virtual object namespace/name.
func (t translator) name(name, namespace string) string { return HostName(name, namespace, t.vcluster) }

// markers are the labels on every host object copied from virtual namespace ns.
func (t translator) markers(namespace string) map[string]string {
	return map[string]string{
		LabelManagedBy:         ManagedBySyncer,
		LabelVCluster:          t.vcluster,
		LabelVClusterNamespace: t.vclusterNamespace,
		LabelNamespace:         namespace,
	}
}

// skippedAnnotations are not copied to the host: the last applied configuration
// describes the virtual object, and it can be large enough to push the host copy
// over the annotation size limit once the syncer adds its own.
var skippedAnnotations = []string{"kubectl.kubernetes.io/last-applied-configuration"}

// hostMeta is the metadata of the host copy of virtual object v: its translated name
// in the host namespace, the user's labels and annotations that may reach the host
// (hostkeys.go), the syncer's marker labels and the annotations that point back at
// v. No owner references or finalizers: those name virtual objects.
func (t translator) hostMeta(v metav1.Object) metav1.ObjectMeta {
	labels, _ := hostKeys(v.GetLabels())
	userLabels := slices.Sorted(maps.Keys(labels))
	maps.Copy(labels, t.markers(v.GetNamespace()))

	annotations, _ := hostKeys(v.GetAnnotations())
	userAnnotations := slices.Sorted(maps.Keys(annotations))
	annotations[AnnotationName] = v.GetName()
	annotations[AnnotationNamespace] = v.GetNamespace()
	annotations[AnnotationUID] = string(v.GetUID())
	annotations[annotationManagedLabels] = strings.Join(userLabels, ",")
	annotations[annotationManagedAnnotations] = strings.Join(userAnnotations, ",")
	return metav1.ObjectMeta{
		Name:        t.name(v.GetName(), v.GetNamespace()),
		Namespace:   t.hostNamespace,
		Labels:      labels,
		Annotations: annotations,
	}
}

// mergeMeta brings the labels and annotations of an existing host object to desired
// and reports whether anything changed. Keys the syncer copied from the virtual
// object last time and no longer wants are removed; keys that host components added
// are kept (a two-way merge would fight them forever).
func mergeMeta(existing *metav1.ObjectMeta, desired metav1.ObjectMeta) bool {
	labels := mergeOwned(existing.Labels, desired.Labels, splitKeys(existing.Annotations[annotationManagedLabels]))
	annotations := mergeOwned(existing.Annotations, desired.Annotations, splitKeys(existing.Annotations[annotationManagedAnnotations]))
	changed := !equality.Semantic.DeepEqual(labels, existing.Labels) || !equality.Semantic.DeepEqual(annotations, existing.Annotations)
	existing.Labels, existing.Annotations = labels, annotations
	return changed
}

func mergeOwned(current, desired map[string]string, previouslyOwned []string) map[string]string {
	out := make(map[string]string, len(current)+len(desired))
	maps.Copy(out, current)
	for _, k := range previouslyOwned {
		delete(out, k)
	}
	maps.Copy(out, desired)
	return out
}

func splitKeys(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// hostSelector is a virtual Service's selector on the host: the same labels (host
// pods keep the user's labels) narrowed to pods of this virtual cluster and
// namespace. An empty selector stays empty: the Service's endpoints are managed by
// hand (see endpoints.go).
func (t translator) hostSelector(selector map[string]string, namespace string) map[string]string {
	if len(selector) == 0 {
		return nil
	}
	out := maps.Clone(selector)
	out[LabelManagedBy] = ManagedBySyncer
	out[LabelVCluster] = t.vcluster
	out[LabelNamespace] = namespace
	return out
}

// narrowSelector restricts a pod label selector to this virtual cluster's pods in
// the given virtual namespaces (none: every namespace of the virtual cluster). A nil
// selector matches nothing and stays nil.
func (t translator) narrowSelector(sel *metav1.LabelSelector, namespaces ...string) *metav1.LabelSelector {
	if sel == nil {
		return nil
	}
	out := sel.DeepCopy()
	if out.MatchLabels == nil {
		out.MatchLabels = map[string]string{}
	}
	out.MatchLabels[LabelManagedBy] = ManagedBySyncer
	out.MatchLabels[LabelVCluster] = t.vcluster
	switch len(namespaces) {
	case 0:
	case 1:
		out.MatchLabels[LabelNamespace] = namespaces[0]
	default:
		out.MatchExpressions = append(out.MatchExpressions, metav1.LabelSelectorRequirement{
			Key: LabelNamespace, Operator: metav1.LabelSelectorOpIn, Values: slices.Clone(namespaces)})
	}
	return out
}

// virtualKey is the "namespace/name" of the virtual object a host object was copied
// from, read from the annotations the syncer wrote.
func virtualKey(obj metav1.Object) (string, bool) {
	a := obj.GetAnnotations()
	name, ns := a[AnnotationName], a[AnnotationNamespace]
	if name == "" || ns == "" {
		return "", false
	}
	return ns + "/" + name, true
}
