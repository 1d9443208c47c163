package syncer

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestVirtualNodeKubelet: with a kubelet endpoint, a virtual Node sends its
// API server there (InternalIP and port), whether nodes are mirrored or not,
// and never to the host node's own kubelet.
func TestVirtualNodeKubelet(t *testing.T) {
	h := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "real-0"}, Status: corev1.NodeStatus{
		Addresses:       []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.0.0.5"}, {Type: corev1.NodeHostName, Address: "real-0"}},
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: 10250}},
	}}
	for _, mirror := range []bool{false, true} {
		s := &syncer{opts: Options{VCluster: "dev", SyncNodes: mirror, Kubelet: &KubeletEndpoint{Address: "127.0.0.1", Port: 4321}}}
		n := s.virtualNode(h)
		if got := n.Status.DaemonEndpoints.KubeletEndpoint.Port; got != 4321 {
			t.Errorf("mirror=%v: kubelet port %d, want 4321", mirror, got)
		}
		for _, a := range n.Status.Addresses {
			if a.Type == corev1.NodeInternalIP && a.Address != "127.0.0.1" {
				t.Errorf("mirror=%v: InternalIP %s, want gantry's kubelet API 127.0.0.1", mirror, a.Address)
			}
		}
		if h.Status.Addresses[0].Address != "10.0.0.5" {
			t.Fatal("the host node's status was changed")
		}
	}
	s := &syncer{opts: Options{VCluster: "dev"}}
	if n := s.virtualNode(h); n.Status.DaemonEndpoints.KubeletEndpoint.Port != 0 || n.Status.Addresses[0].Address != "10.0.0.5" {
		t.Errorf("without a kubelet endpoint the node changed: %+v", n.Status)
	}
}
