package apply

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const pruneManifest = `
apiVersion: v1
kind: ConfigMap
metadata: {name: keep}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: no-prune, annotations: {argocd.argoproj.io/sync-options: Prune=false}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: gone}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: last, annotations: {argocd.argoproj.io/sync-options: PruneLast=true}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: high-wave, annotations: {argocd.argoproj.io/sync-wave: "3"}}
`

const afterPrune = `
apiVersion: v1
kind: ConfigMap
metadata: {name: keep}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: new, annotations: {argocd.argoproj.io/sync-wave: "5"}}
`

func TestPrune(t *testing.T) {
	e := env(t)
	ns := e.namespace(t)
	opts := options("prune", ns)
	mustSucceed(t, Sync(context.Background(), e.cluster(), objects(t, pruneManifest), nil, opts))
	live := e.live(t, "prune", gvrConfigMap)

	// Without the prune flag nothing is deleted.
	r := Sync(context.Background(), e.cluster(), objects(t, afterPrune), live, opts)
	mustSucceed(t, r)
	if got := result(t, r, "ConfigMap", "gone"); got.Status != ResultPruneSkipped || got.Message != "ignored (requires pruning)" {
		t.Errorf("%+v", got)
	}
	if e.get(t, gvrConfigMap, ns, "gone") == nil {
		t.Fatal("pruned without the prune flag")
	}

	opts.Prune = true
	r = Sync(context.Background(), e.cluster(), objects(t, afterPrune), live, opts)
	mustSucceed(t, r)
	if got := result(t, r, "ConfigMap", "no-prune"); got.Status != ResultPruneSkipped || got.Message != "ignored (no prune)" {
		t.Errorf("%+v", got)
	}
	if got := result(t, r, "ConfigMap", "gone"); got.Status != ResultPruned || got.Message != "pruned" {
		t.Errorf("%+v", got)
	}
	for _, name := range []string{"gone", "last", "high-wave"} {
		if obj := e.get(t, gvrConfigMap, ns, name); obj != nil && obj.GetDeletionTimestamp() == nil {
			t.Errorf("%s not pruned", name)
		}
	}
	if e.get(t, gvrConfigMap, ns, "no-prune") == nil {
		t.Error("Prune=false object deleted")
	}
	// Waves are pruned in reverse: high-wave (3) gets wave 0 and goes first,
	// gone (0) gets wave 3; PruneLast goes after the last wave (new, 5).
	order := map[string]int{}
	for i, rr := range r.Resources {
		order[rr.Name] = i
	}
	if hw := result(t, r, "ConfigMap", "high-wave"); hw.Wave != 0 || order["high-wave"] > order["keep"] {
		t.Errorf("high-wave pruned in wave %d at %d, keep applied at %d", hw.Wave, order["high-wave"], order["keep"])
	}
	if g := result(t, r, "ConfigMap", "gone"); g.Wave != 3 {
		t.Errorf("gone pruned in wave %d", g.Wave)
	}
	if l := result(t, r, "ConfigMap", "last"); l.Wave != 6 || order["last"] < order["new"] {
		t.Errorf("PruneLast: wave %d, at %d, new at %d", l.Wave, order["last"], order["new"])
	}
}

func TestPruneNeverDeletesAnotherApplicationsObject(t *testing.T) {
	e := env(t)
	ns := e.namespace(t)
	// The caller's list is stale: "shared" was taken over by another application
	// since (its tracking annotation names that one now).
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "shared", Namespace: ns,
		Labels:      map[string]string{"gantry.dev/app": "mine"},
		Annotations: map[string]string{trackingKey: "gantry_other:/ConfigMap:" + ns + "/shared"}}}
	if _, err := e.kube.CoreV1().ConfigMaps(ns).Create(context.Background(), cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	opts := options("mine", ns)
	opts.Prune = true
	r := Sync(context.Background(), e.cluster(), nil, e.live(t, "mine", gvrConfigMap), opts)
	mustSucceed(t, r)
	if got := result(t, r, "ConfigMap", "shared"); got.Status != ResultPruneSkipped {
		t.Errorf("%+v", got)
	}
	if e.get(t, gvrConfigMap, ns, "shared") == nil {
		t.Fatal("another application's object was deleted")
	}

	// Declaring it is allowed (the application takes it over) unless FailOnSharedResource.
	opts.SyncOptions = ParseSyncOptions([]string{"FailOnSharedResource=true"})
	r = Sync(context.Background(), e.cluster(), objects(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared}\n"), nil, opts)
	if r.Phase != OperationFailed || !strings.Contains(r.Message, "FailOnSharedResource") {
		t.Fatalf("%s: %s", r.Phase, r.Message)
	}
	if got := e.get(t, gvrConfigMap, ns, "shared").GetAnnotations()[trackingKey]; got != "gantry_other:/ConfigMap:"+ns+"/shared" {
		t.Fatalf("the shared object was taken over: %s", got)
	}
}

func TestApplyOutOfSyncOnly(t *testing.T) {
	e := env(t)
	ns := e.namespace(t)
	opts := options("oos", ns)
	manifest := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n"
	mustSucceed(t, Sync(context.Background(), e.cluster(), objects(t, manifest), nil, opts))
	opts.SyncOptions = ParseSyncOptions([]string{"ApplyOutOfSyncOnly=true"})
	opts.OutOfSync = map[ResourceKey]bool{{Kind: "ConfigMap", Namespace: ns, Name: "b"}: true}
	manifest += "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"
	r := Sync(context.Background(), e.cluster(), objects(t, manifest), e.live(t, "oos", gvrConfigMap), opts)
	mustSucceed(t, r)
	var names []string
	for _, rr := range r.Resources {
		names = append(names, rr.Name)
	}
	if len(names) != 2 || names[0] != "b" || names[1] != "c" {
		t.Fatalf("applied %v, want the out-of-sync b and the new c", names)
	}
}
