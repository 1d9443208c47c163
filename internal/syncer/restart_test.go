package syncer

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// TestRestartConverges stops the syncer and runs it again over existing state: it
// must neither duplicate nor rewrite anything, and go on syncing.
func TestRestartConverges(t *testing.T) {
	e := env(t)
	ctx := context.Background()
	ns := newNamespace(t, e, "steady")
	if _, err := e.vKube.CoreV1().ConfigMaps(ns).Create(ctx, configMap("steady-config", map[string]string{"greeting": "hi"}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.vKube.CoreV1().Services(ns).Create(ctx, service("steady"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.vKube.AppsV1().Deployments(ns).Create(ctx, deployment("steady", 2, "steady-config"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "steady to be Available 2/2", func(ctx context.Context) (bool, error) { return available(ctx, e, ns, "steady", 2) })

	// Every host object of the namespace and every virtual pod, by name and version.
	snapshot := func() map[string]string {
		t.Helper()
		out := map[string]string{}
		sel := metav1.ListOptions{LabelSelector: LabelVCluster + "=" + testVCluster + "," + LabelNamespace + "=" + ns}
		hp, _ := e.hostKube.CoreV1().Pods(testHostNS).List(ctx, sel)
		for _, o := range hp.Items {
			out["host pod "+o.Name] = o.ResourceVersion
		}
		hc, _ := e.hostKube.CoreV1().ConfigMaps(testHostNS).List(ctx, sel)
		for _, o := range hc.Items {
			out["host configmap "+o.Name] = o.ResourceVersion
		}
		hs, _ := e.hostKube.CoreV1().Secrets(testHostNS).List(ctx, sel)
		for _, o := range hs.Items {
			out["host secret "+o.Name] = o.ResourceVersion
		}
		hv, _ := e.hostKube.CoreV1().Services(testHostNS).List(ctx, sel)
		for _, o := range hv.Items {
			out["host service "+o.Name] = o.ResourceVersion
		}
		vp, _ := e.vKube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		for _, o := range vp.Items {
			out["virtual pod "+o.Name] = o.ResourceVersion
		}
		return out
	}
	before := snapshot()
	if err := e.stopSyncerNow(); err != nil {
		t.Fatalf("Run returned %v after its context ended", err)
	}
	if err := e.startSyncer(); err != nil {
		t.Fatal(err)
	}
	// Prove the new syncer is at work before comparing: scale up and wait.
	scale, err := e.vKube.AppsV1().Deployments(ns).GetScale(ctx, "steady", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	scale.Spec.Replicas = 3
	if _, err := e.vKube.AppsV1().Deployments(ns).UpdateScale(ctx, "steady", scale, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "steady to be Available 3/3 after the restart", func(ctx context.Context) (bool, error) {
		return available(ctx, e, ns, "steady", 3)
	})
	after := snapshot()
	for k, rv := range before {
		if after[k] != rv {
			t.Errorf("%s: resourceVersion %s before the restart, %q after: rewritten or recreated", k, rv, after[k])
		}
	}
	if got, want := len(after), len(before)+3; got != want { // one more host pod, its token, its virtual pod
		t.Errorf("%d objects after the restart and a scale-up, want %d: %v", got, want, after)
	}
	if err := e.vKube.AppsV1().Deployments(ns).Delete(ctx, "steady", metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)}); err != nil {
		t.Fatal(err)
	}
}
