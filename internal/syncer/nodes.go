package syncer

import (
	"context"
	"fmt"
	"maps"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
)

// Virtual Nodes: one for each host node that runs (or is about to run) a pod of the
// virtual cluster, named like it, so that virtual pods can be bound and
// `kubectl get nodes` inside shows where things run. A Node no pod needs any more is
// deleted. They are the syncer's: marked with its labels, and only those are touched.

func (s *syncer) setupNodes() *controller {
	c := newController(s.log, "nodes", 1, s.reconcileNode)
	podNode := func(obj any) []string {
		if pod, ok := obj.(*corev1.Pod); ok && pod.Spec.NodeName != "" {
			return []string{pod.Spec.NodeName}
		}
		return nil
	}
	s.handle(s.vPods, c.on(podNode))
	s.handle(s.hPods, c.on(podNode))
	s.handle(s.hnf.Core().V1().Nodes().Informer(), c.on(objectKey))
	s.handle(s.vf.Core().V1().Nodes().Informer(), c.on(objectKey))
	return c
}

func (s *syncer) hostNodes() corelisters.NodeLister    { return s.hnf.Core().V1().Nodes().Lister() }
func (s *syncer) virtualNodes() corelisters.NodeLister { return s.vf.Core().V1().Nodes().Lister() }

// nodeInUse reports whether a pod of the virtual cluster is bound to node on either side.
func (s *syncer) nodeInUse(node string) bool {
	v, _ := s.vPods.GetIndexer().ByIndex(indexNode, node)
	h, _ := s.hPods.GetIndexer().ByIndex(indexNode, node)
	return len(v) > 0 || len(h) > 0
}

func (s *syncer) reconcileNode(ctx context.Context, name string) (time.Duration, error) {
	hNode, err := getOrNil(s.hostNodes().Get(name))
	if err != nil {
		return 0, err
	}
	vNode, err := getOrNil(s.virtualNodes().Get(name))
	if err != nil {
		return 0, err
	}
	nodes := s.virtual.CoreV1().Nodes()
	if hNode == nil || !s.nodeInUse(name) {
		if vNode == nil || !owned(vNode, s.opts.VCluster) {
			return 0, nil
		}
		uid := vNode.UID
		err := nodes.Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
		if err != nil && !isNotFound(err) {
			return 0, fmt.Errorf("deleting virtual node %s: %w", name, err)
		}
		return 0, nil
	}
	want := s.virtualNode(hNode)
	switch {
	case vNode == nil:
		return 0, s.createVirtualNode(ctx, want)
	case !owned(vNode, s.opts.VCluster):
		// Someone made a Node of that name inside; pods bind to it all the same.
	case !equality.Semantic.DeepEqual(vNode.Labels, want.Labels) || !equality.Semantic.DeepEqual(vNode.Annotations, want.Annotations) ||
		!equality.Semantic.DeepEqual(vNode.Spec, want.Spec):
		// This also removes the not-ready taint that admission (TaintNodesByCondition)
		// puts on every new Node: inside, no node lifecycle controller would.
		updated := vNode.DeepCopy()
		updated.Labels, updated.Annotations, updated.Spec = want.Labels, want.Annotations, want.Spec
		if _, err := nodes.Update(ctx, updated, metav1.UpdateOptions{FieldManager: fieldManager}); err != nil {
			return 0, fmt.Errorf("updating virtual node %s: %w", name, err)
		}
		// The status follows when the update event comes back.
	case !equality.Semantic.DeepEqual(vNode.Status, want.Status):
		updated := vNode.DeepCopy()
		updated.Status = want.Status
		if _, err := nodes.UpdateStatus(ctx, updated, metav1.UpdateOptions{FieldManager: fieldManager}); err != nil {
			return 0, fmt.Errorf("updating status of virtual node %s: %w", name, err)
		}
	}
	return 0, nil
}

// ensureVirtualNode makes sure the virtual Node a pod is about to be bound to exists;
// keeping it up to date is reconcileNode's job.
func (s *syncer) ensureVirtualNode(ctx context.Context, name string) error {
	if vNode, err := getOrNil(s.virtualNodes().Get(name)); err != nil || vNode != nil {
		return err
	}
	hNode, err := getOrNil(s.hostNodes().Get(name))
	if err != nil {
		return err
	}
	if hNode == nil {
		return fmt.Errorf("host node %s is not in the cache yet", name)
	}
	return s.createVirtualNode(ctx, s.virtualNode(hNode))
}

// createVirtualNode creates a virtual Node, status included (kubelets register that
// way). Someone else having just made it (the pods and nodes controllers both do) is
// fine: its informer event brings it to reconcileNode.
func (s *syncer) createVirtualNode(ctx context.Context, n *corev1.Node) error {
	_, err := s.virtual.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{FieldManager: fieldManager})
	switch {
	case isAlreadyExists(err):
		return nil
	case err != nil:
		return fmt.Errorf("creating virtual node %s: %w", n.Name, err)
	}
	s.log.V(1).Info("created virtual node", "node", n.Name)
	return nil
}

// virtualNode is the virtual Node mirroring host node h. By default it is a minimal
// placeholder: the host's labels, Ready condition, addresses, capacity and node
// info. With SyncNodes it is the real node: annotations, taints, unschedulable and
// the status too, except what describes other tenants' workloads on the node: the
// images it holds (their names say what others run, from which registries) and
// the volumes attached and in use (other tenants' disks).
func (s *syncer) virtualNode(h *corev1.Node) *corev1.Node {
	labels := maps.Clone(h.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelManagedBy] = ManagedBySyncer
	labels[LabelVCluster] = s.opts.VCluster
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: h.Name, Labels: labels}}
	if s.opts.SyncNodes {
		n.Annotations = maps.Clone(h.Annotations)
		n.Spec.Taints = h.Spec.Taints
		n.Spec.Unschedulable = h.Spec.Unschedulable
		n.Status = *h.Status.DeepCopy()
		n.Status.Images, n.Status.VolumesInUse, n.Status.VolumesAttached = nil, nil, nil
		s.kubeletAt(n)
		return n
	}
	for _, c := range h.Status.Conditions {
		if c.Type == corev1.NodeReady {
			n.Status.Conditions = []corev1.NodeCondition{c}
		}
	}
	n.Status.Addresses = h.Status.Addresses
	n.Status.Capacity = h.Status.Capacity
	n.Status.Allocatable = h.Status.Allocatable
	n.Status.NodeInfo = h.Status.NodeInfo
	s.kubeletAt(n)
	return n
}

// kubeletAt points virtual Node n's kubelet at Options.Kubelet: its only
// InternalIP (the address type the virtual API server is told to use) and its
// kubelet port, so that logs and exec inside reach gantry's kubelet API, never
// the host node's kubelet. The host's addresses are not shown inside, as
// vCluster's fake nodes do not show them.
func (s *syncer) kubeletAt(n *corev1.Node) {
	k := s.opts.Kubelet
	if k == nil {
		return
	}
	n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: k.Address}, {Type: corev1.NodeHostName, Address: n.Name}}
	n.Status.DaemonEndpoints = corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: k.Port}}
}
