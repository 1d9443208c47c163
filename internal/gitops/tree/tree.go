package tree

import (
	"cmp"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"gantry.dev/gantry/internal/gitops/health"
)

// ResourceRef identifies an object, as Argo CD's ResourceRef.
type ResourceRef struct {
	Group     string `json:"group,omitempty"`
	Version   string `json:"version,omitempty"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	UID       string `json:"uid,omitempty"`
}

// InfoItem is one fact shown on a node ("Containers": "1/1").
type InfoItem struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// LoadBalancerIngress is an address a load balancer publishes.
type LoadBalancerIngress struct {
	IP       string `json:"ip,omitempty"`
	Hostname string `json:"hostname,omitempty"`
}

// NetworkingInfo is what Argo CD's network view draws: which labels a Service
// selects, which Services an Ingress sends to, a Pod's labels, public addresses.
type NetworkingInfo struct {
	TargetLabels map[string]string     `json:"targetLabels,omitempty"`
	TargetRefs   []ResourceRef         `json:"targetRefs,omitempty"`
	Labels       map[string]string     `json:"labels,omitempty"`
	Ingress      []LoadBalancerIngress `json:"ingress,omitempty"`
}

// Node is one object of the tree, as Argo CD's ResourceNode.
type Node struct {
	ResourceRef
	ParentRefs      []ResourceRef   `json:"parentRefs,omitempty"`
	Info            []InfoItem      `json:"info,omitempty"`
	NetworkingInfo  *NetworkingInfo `json:"networkingInfo,omitempty"`
	ResourceVersion string          `json:"resourceVersion,omitempty"`
	Images          []string        `json:"images,omitempty"`
	Health          *health.Status  `json:"health,omitempty"`
	CreatedAt       *metav1.Time    `json:"createdAt,omitempty"`
}

// Tree is the body of a resource-tree response.
type Tree struct {
	Nodes []Node `json:"nodes"`
}

// HealthFunc judges one object; nil means the object has no health.
type HealthFunc func(*unstructured.Unstructured) *health.Status

// Build returns the nodes of the tree rooted at the live managed resources:
// those resources, and the candidates in children that descend from them.
// healthFn may be nil (no health on any node). Nodes are sorted by group,
// kind, namespace and name, as Argo CD sorts its tree.
func Build(managed, children []*unstructured.Unstructured, healthFn HealthFunc) []Node {
	g := newGraph(managed, children)
	included := make(map[objKey]bool, len(managed))
	var queue []objKey
	for _, obj := range managed {
		if k := keyOf(obj); !included[k] {
			included[k] = true
			queue = append(queue, k)
		}
	}
	// Breadth-first from the managed resources; included doubles as the
	// visited set, so an ownership cycle cannot loop.
	for len(queue) > 0 {
		k := queue[0]
		queue = queue[1:]
		for _, c := range g.children[k] {
			if !included[c] {
				included[c] = true
				queue = append(queue, c)
			}
		}
	}

	nodes := make([]Node, 0, len(included))
	for k := range included {
		obj := g.objects[k]
		n := newNode(obj)
		for _, p := range g.parents[k] {
			if included[p] && p != k {
				n.ParentRefs = append(n.ParentRefs, parentRef(g.objects[p]))
			}
		}
		if healthFn != nil {
			n.Health = healthFn(obj)
		}
		describe(obj, &n)
		nodes = append(nodes, n)
	}
	slices.SortFunc(nodes, func(a, b Node) int {
		return cmp.Or(cmp.Compare(a.Group, b.Group), cmp.Compare(a.Kind, b.Kind),
			cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	return nodes
}

func newNode(obj *unstructured.Unstructured) Node {
	gvk := obj.GroupVersionKind()
	n := Node{
		ResourceRef: ResourceRef{
			Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind,
			Namespace: obj.GetNamespace(), Name: obj.GetName(), UID: string(obj.GetUID()),
		},
		ResourceVersion: obj.GetResourceVersion(),
	}
	if ts := obj.GetCreationTimestamp(); !ts.IsZero() {
		n.CreatedAt = &ts
	}
	return n
}

// parentRef is how Argo CD writes a parent: without its version.
func parentRef(obj *unstructured.Unstructured) ResourceRef {
	return ResourceRef{
		Group: obj.GroupVersionKind().Group, Kind: obj.GetKind(),
		Namespace: obj.GetNamespace(), Name: obj.GetName(), UID: string(obj.GetUID()),
	}
}

// objKey identifies an object within one Build: its UID when it has one (live
// objects do), else its group, kind, namespace and name.
type objKey struct {
	uid                   string
	group, kind, ns, name string
}

func keyOf(obj *unstructured.Unstructured) objKey {
	if uid := obj.GetUID(); uid != "" {
		return objKey{uid: string(uid)}
	}
	return objKey{group: obj.GroupVersionKind().Group, kind: obj.GetKind(), ns: obj.GetNamespace(), name: obj.GetName()}
}

// graph holds every object given to Build and the parent links between them.
type graph struct {
	objects  map[objKey]*unstructured.Unstructured
	byName   map[objKey]objKey // group/kind/namespace/name -> key, for name-based links
	parents  map[objKey][]objKey
	children map[objKey][]objKey
}

func newGraph(managed, children []*unstructured.Unstructured) *graph {
	g := &graph{
		objects:  map[objKey]*unstructured.Unstructured{},
		byName:   map[objKey]objKey{},
		parents:  map[objKey][]objKey{},
		children: map[objKey][]objKey{},
	}
	for _, obj := range slices.Concat(managed, children) {
		k := keyOf(obj)
		if _, dup := g.objects[k]; dup {
			continue // a managed resource listed again among the children
		}
		g.objects[k] = obj
		g.byName[nameKey(obj.GroupVersionKind().Group, obj.GetKind(), obj.GetNamespace(), obj.GetName())] = k
	}
	for k, obj := range g.objects {
		for _, p := range g.parentsOf(obj) {
			if !slices.Contains(g.parents[k], p) {
				g.parents[k] = append(g.parents[k], p)
				g.children[p] = append(g.children[p], k)
			}
		}
	}
	return g
}

func nameKey(group, kind, ns, name string) objKey {
	return objKey{group: group, kind: kind, ns: ns, name: name}
}

// parentsOf returns the keys of obj's parents among the known objects.
func (g *graph) parentsOf(obj *unstructured.Unstructured) []objKey {
	var out []objKey
	add := func(k objKey, ok bool) {
		if ok {
			out = append(out, k)
		}
	}
	for _, ref := range obj.GetOwnerReferences() {
		if ref.UID != "" {
			k := objKey{uid: string(ref.UID)}
			_, ok := g.objects[k]
			add(k, ok)
			continue
		}
		// An owner reference without UID (hand-written): match by name in the
		// owned object's namespace, where an owner must live.
		gv, _ := schema.ParseGroupVersion(ref.APIVersion)
		k, ok := g.byName[nameKey(gv.Group, ref.Kind, obj.GetNamespace(), ref.Name)]
		add(k, ok)
	}
	gk := obj.GroupVersionKind().GroupKind()
	switch {
	case gk == schema.GroupKind{Group: "discovery.k8s.io", Kind: "EndpointSlice"}:
		// The EndpointSlice controller also sets an owner reference; slices
		// written by others (mirrored, hand-made) only carry the label.
		if svc := obj.GetLabels()["kubernetes.io/service-name"]; svc != "" {
			k, ok := g.byName[nameKey("", "Service", obj.GetNamespace(), svc)]
			add(k, ok && !slices.Contains(out, k))
		}
	case gk == schema.GroupKind{Kind: "Endpoints"}:
		k, ok := g.byName[nameKey("", "Service", obj.GetNamespace(), obj.GetName())]
		add(k, ok && !slices.Contains(out, k))
	}
	return out
}
