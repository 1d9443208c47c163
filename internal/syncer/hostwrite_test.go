package syncer

import (
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func mergeData(existing, desired *corev1.ConfigMap) bool {
	changed := mergeMeta(&existing.ObjectMeta, desired.ObjectMeta)
	if existing.Data["k"] != desired.Data["k"] {
		existing.Data = desired.Data
		changed = true
	}
	return changed
}

func TestHostWriterRefusesForeignObjects(t *testing.T) {
	ctx := context.Background()
	v := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "conf", Namespace: "shop", UID: "u"}, Data: map[string]string{"k": "tenant"}}
	desired := &corev1.ConfigMap{ObjectMeta: testTranslator.hostMeta(v), Data: v.Data}
	foreign := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: desired.Name, Namespace: "host-ns",
		Labels: map[string]string{LabelManagedBy: ManagedBySyncer, LabelVCluster: "another-vcluster"}}, Data: map[string]string{"k": "host"}}
	client := fake.NewClientset(foreign)
	w := newWriter[corev1.ConfigMap]("ConfigMap", client.CoreV1().ConfigMaps("host-ns"), "vc1")

	// The cache (label-filtered) does not have it: apply tries to create, finds it.
	_, err := w.apply(ctx, nil, desired, mergeData)
	var fe *foreignError
	if !errors.As(err, &fe) {
		t.Fatalf("apply over a foreign object: err = %v, want a foreignError", err)
	}
	if err := w.delete(ctx, foreign, metav1.DeleteOptions{}); !errors.As(err, &fe) {
		t.Fatalf("delete of a foreign object: err = %v", err)
	}
	got, err := client.CoreV1().ConfigMaps("host-ns").Get(ctx, desired.Name, metav1.GetOptions{})
	if err != nil || got.Data["k"] != "host" || got.Labels[LabelVCluster] != "another-vcluster" {
		t.Fatalf("the foreign object was touched: %+v, %v", got, err)
	}
	for _, a := range client.Actions() {
		if a.GetVerb() == "update" || a.GetVerb() == "delete" || a.GetVerb() == "patch" {
			t.Errorf("a write reached the API: %s", a.GetVerb())
		}
	}
}

func TestHostWriterCreatesUpdatesOnlyOnChange(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset()
	w := newWriter[corev1.ConfigMap]("ConfigMap", client.CoreV1().ConfigMaps("host-ns"), "vc1")
	v := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "conf", Namespace: "shop", UID: "u"}, Data: map[string]string{"k": "1"}}
	desired := &corev1.ConfigMap{ObjectMeta: testTranslator.hostMeta(v), Data: v.Data}
	live, err := w.apply(ctx, nil, desired, mergeData)
	if err != nil {
		t.Fatal(err)
	}
	// Cache behind: apply with nil current again must adopt its own object, not fail.
	if live, err = w.apply(ctx, nil, desired, mergeData); err != nil {
		t.Fatal(err)
	}
	before := len(client.Actions())
	if _, err := w.apply(ctx, live, desired, mergeData); err != nil {
		t.Fatal(err)
	}
	if n := len(client.Actions()) - before; n != 0 {
		t.Errorf("an unchanged object caused %d API calls", n)
	}
	desired.Data = map[string]string{"k": "2"}
	if live, err = w.apply(ctx, live, desired, mergeData); err != nil || live.Data["k"] != "2" {
		t.Fatalf("update: %v %v", live, err)
	}
	if err := w.delete(ctx, live, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
}

// Two virtual objects whose names meet on one host name ("a-x-b" in namespace
// "c", "a" in namespace "b-x-c"): the second never writes over, nor deletes, the
// first's copy, and the error names both.
func TestHostWriterRefusesAnotherObjectsCopy(t *testing.T) {
	ctx := context.Background()
	first := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "a-x-b", Namespace: "c", UID: "u1"}, Data: map[string]string{"k": "first"}}
	second := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "b-x-c", UID: "u2"}, Data: map[string]string{"k": "second"}}
	if HostName(first.Name, first.Namespace, "vc1") != HostName(second.Name, second.Namespace, "vc1") {
		t.Fatal("the two names do not meet; the test needs them to")
	}
	client := fake.NewClientset()
	w := newWriter[corev1.ConfigMap]("ConfigMap", client.CoreV1().ConfigMaps("host-ns"), "vc1")
	live, err := w.apply(ctx, nil, &corev1.ConfigMap{ObjectMeta: testTranslator.hostMeta(first), Data: first.Data}, mergeData)
	if err != nil {
		t.Fatal(err)
	}
	before := len(client.Actions())
	for _, current := range []*corev1.ConfigMap{live, nil} { // in the cache, or not yet
		_, err = w.apply(ctx, current, &corev1.ConfigMap{ObjectMeta: testTranslator.hostMeta(second), Data: second.Data}, mergeData)
		var c *collisionError
		if !errors.As(err, &c) || !strings.Contains(err.Error(), "c/a-x-b") || !strings.Contains(err.Error(), "b-x-c/a") {
			t.Fatalf("apply of the second object: err = %v, want a collisionError naming both", err)
		}
	}
	if w.copyOf(live, "b-x-c/a") != nil || w.copyOf(live, "c/a-x-b") != live {
		t.Error("copyOf does not tell the copies apart")
	}
	for _, a := range client.Actions()[before:] {
		if a.GetVerb() != "get" && a.GetVerb() != "create" {
			t.Errorf("a %s reached the API", a.GetVerb())
		}
	}
	got, err := client.CoreV1().ConfigMaps("host-ns").Get(ctx, live.Name, metav1.GetOptions{})
	if err != nil || got.Data["k"] != "first" {
		t.Fatalf("the first object's copy was changed: %+v, %v", got, err)
	}
}
