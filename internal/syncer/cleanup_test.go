package syncer

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestCleanupRemovesExactlyItsOwn stops the syncer with objects synced, cleans up,
// and checks that nothing labelled for the virtual cluster is left while objects of
// others are; then runs the syncer again, which brings the workload back.
func TestCleanupRemovesExactlyItsOwn(t *testing.T) {
	e := env(t)
	ctx := context.Background()
	ns := newNamespace(t, e, "doomed")
	if _, err := e.vKube.CoreV1().ConfigMaps(ns).Create(ctx, configMap("doomed-config", map[string]string{"greeting": "bye"}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.vKube.CoreV1().Services(ns).Create(ctx, service("doomed"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.vKube.AppsV1().Deployments(ns).Create(ctx, deployment("doomed", 2, "doomed-config"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "doomed to be Available", func(ctx context.Context) (bool, error) { return available(ctx, e, ns, "doomed", 2) })
	before, err := virtualPods(ctx, e, ns, "doomed")
	if err != nil {
		t.Fatal(err)
	}
	oldUIDs := map[string]bool{}
	for _, p := range before {
		oldUIDs[string(p.UID)] = true
	}

	// Objects that are not this syncer's: unlabelled, and another virtual cluster's.
	keep := []*corev1.ConfigMap{
		{ObjectMeta: metav1.ObjectMeta{Name: "host-admin-config-" + ns, Namespace: testHostNS}},
		{ObjectMeta: metav1.ObjectMeta{Name: "other-vcluster-config-" + ns, Namespace: testHostNS,
			Labels: map[string]string{LabelManagedBy: ManagedBySyncer, LabelVCluster: "vc2"}}},
	}
	for _, cm := range keep {
		if _, err := e.hostKube.CoreV1().ConfigMaps(testHostNS).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.hostKube.CoreV1().ConfigMaps(testHostNS).Delete(ctx, cm.Name, metav1.DeleteOptions{}) })
	}

	if err := e.stopSyncerNow(); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := Cleanup(cctx, e.host.RESTConfig(), testHostNS, testVCluster); err != nil {
		t.Fatal(err)
	}
	t.Logf("measured: Cleanup (deletes and waits until gone): %s", time.Since(began).Round(time.Millisecond))

	sel := metav1.ListOptions{LabelSelector: LabelVCluster + "=" + testVCluster}
	left := 0
	count := func(kind string, n int, err error) {
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			t.Errorf("%d %s labelled for %s left", n, kind, testVCluster)
		}
		left += n
	}
	pods, err := e.hostKube.CoreV1().Pods(testHostNS).List(ctx, sel)
	count("pods", len(pods.Items), err)
	svcs, err := e.hostKube.CoreV1().Services(testHostNS).List(ctx, sel)
	count("services", len(svcs.Items), err)
	eps, err := e.hostKube.CoreV1().Endpoints(testHostNS).List(ctx, sel)
	count("endpoints", len(eps.Items), err)
	cms, err := e.hostKube.CoreV1().ConfigMaps(testHostNS).List(ctx, sel)
	count("configmaps", len(cms.Items), err)
	secs, err := e.hostKube.CoreV1().Secrets(testHostNS).List(ctx, sel)
	count("secrets", len(secs.Items), err)
	sas, err := e.hostKube.CoreV1().ServiceAccounts(testHostNS).List(ctx, sel)
	count("serviceaccounts", len(sas.Items), err)
	pvcs, err := e.hostKube.CoreV1().PersistentVolumeClaims(testHostNS).List(ctx, sel)
	count("persistentvolumeclaims", len(pvcs.Items), err)
	for _, cm := range keep {
		if _, err := e.hostKube.CoreV1().ConfigMaps(testHostNS).Get(ctx, cm.Name, metav1.GetOptions{}); err != nil {
			t.Errorf("Cleanup removed %s, which is not its own: %v", cm.Name, err)
		}
	}

	// Run again: the host pods are gone behind its back, so the virtual ones are
	// replaced and the Deployment comes back on the host.
	if err := e.startSyncer(); err != nil {
		t.Fatal(err)
	}
	began = time.Now()
	eventually(t, 90*time.Second, "doomed to run again: 2 new virtual pods Ready on 2 Running host pods", func(ctx context.Context) (bool, error) {
		if ok, err := available(ctx, e, ns, "doomed", 2); !ok || err != nil {
			return false, err
		}
		vPods, err := virtualPods(ctx, e, ns, "doomed")
		if err != nil || len(vPods) != 2 {
			return false, err
		}
		for _, v := range vPods {
			h, err := e.hostKube.CoreV1().Pods(testHostNS).Get(ctx, HostName(v.Name, ns, testVCluster), metav1.GetOptions{})
			if oldUIDs[string(v.UID)] || !ready(&v) || err != nil || h.Status.Phase != corev1.PodRunning || h.Status.PodIP != v.Status.PodIP {
				return false, nil
			}
		}
		return true, nil
	})
	t.Logf("measured: syncer restarted after Cleanup -> Deployment Available again: %s", time.Since(began).Round(time.Millisecond))
	if err := e.vKube.AppsV1().Deployments(ns).Delete(ctx, "doomed", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
}
