package simnodes

import (
	"context"
	"sort"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func names(t *testing.T, c *fake.Clientset) []string {
	list, err := c.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range list.Items {
		out = append(out, n.Name)
	}
	sort.Strings(out)
	return out
}

func TestEnsureNodesGrowsAndShrinksOnlyItsOwn(t *testing.T) {
	foreign := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "real-node"}}
	c := fake.NewClientset(foreign)
	ctx := context.Background()
	if err := EnsureNodes(ctx, c, Options{Count: 3}); err != nil {
		t.Fatal(err)
	}
	if got := names(t, c); len(got) != 4 || got[0] != "real-node" || got[3] != "sim-node-3" {
		t.Fatalf("after 3: %v", got)
	}
	n, _ := c.CoreV1().Nodes().Get(ctx, "sim-node-1", metav1.GetOptions{})
	if n.Labels[SimulatedLabel] != "true" || n.Annotations[kwokAnnotation] != "fake" {
		t.Fatalf("node not marked simulated: %v %v", n.Labels, n.Annotations)
	}
	if err := EnsureNodes(ctx, c, Options{Count: 3}); err != nil {
		t.Fatalf("second ensure is not idempotent: %v", err)
	}
	if err := EnsureNodes(ctx, c, Options{Count: 1}); err != nil {
		t.Fatal(err)
	}
	if got := names(t, c); len(got) != 2 || got[0] != "real-node" || got[1] != "sim-node-1" {
		t.Fatalf("after shrinking to 1: %v (the foreign node must stay)", got)
	}
}

func TestStockStagesParse(t *testing.T) {
	stages, err := defaultStages()
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for ref, s := range stages {
		kinds = append(kinds, ref.Kind)
		if len(s) == 0 {
			t.Errorf("no stage for %v", ref)
		}
	}
	if len(stages) != 2 {
		t.Fatalf("want node and pod stages, got %v", kinds)
	}
}
