package syncer

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestRealNodesOption runs the syncer with SyncNodes: the virtual Node then carries
// the host node's whole status; run again without, it shrinks back to the minimal
// placeholder.
func TestRealNodesOption(t *testing.T) {
	e := env(t)
	ctx := context.Background()
	ns := newNamespace(t, e, "nodes")
	if err := e.stopSyncerNow(); err != nil {
		t.Fatal(err)
	}
	if err := e.startSyncer(func(o *Options) { o.SyncNodes = true }); err != nil {
		t.Fatal(err)
	}
	defer func() {
		// Leave the default syncer running for the other tests.
		if err := e.stopSyncerNow(); err != nil {
			t.Error(err)
		}
		if err := e.startSyncer(); err != nil {
			t.Error(err)
		}
	}()
	if _, err := e.vKube.AppsV1().Deployments(ns).Create(ctx, deployment("one", 1, ""), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "one to be Available", func(ctx context.Context) (bool, error) { return available(ctx, e, ns, "one", 1) })
	pods, err := virtualPods(ctx, e, ns, "one")
	if err != nil || len(pods) != 1 {
		t.Fatalf("%d pods (%v)", len(pods), err)
	}
	node := pods[0].Spec.NodeName
	hostNode, err := e.hostKube.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(hostNode.Status.Conditions) < 2 {
		t.Fatalf("host node %s has %d conditions; the test needs more than Ready", node, len(hostNode.Status.Conditions))
	}
	conditions := func(want int) func(ctx context.Context) (bool, error) {
		return func(ctx context.Context) (bool, error) {
			n, err := e.vKube.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			return len(n.Status.Conditions) == want && n.Status.NodeInfo.KubeletVersion == hostNode.Status.NodeInfo.KubeletVersion, nil
		}
	}
	eventually(t, 30*time.Second, "the virtual node to carry all host conditions", conditions(len(hostNode.Status.Conditions)))

	if err := e.stopSyncerNow(); err != nil {
		t.Fatal(err)
	}
	if err := e.startSyncer(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the virtual node to be minimal again", conditions(1))
	n, err := e.vKube.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n.Status.Conditions[0].Type != corev1.NodeReady {
		t.Errorf("minimal node keeps %s, want Ready", n.Status.Conditions[0].Type)
	}
}
