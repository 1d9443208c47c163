package syncer

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestHostPodDeletedBehindTheSyncersBack deletes a host pod directly: the virtual pod
// is deleted too, its ReplicaSet makes a new one, and that runs on the host again.
func TestHostPodDeletedBehindTheSyncersBack(t *testing.T) {
	e := env(t)
	ctx := context.Background()
	ns := newNamespace(t, e, "solo")
	if _, err := e.vKube.AppsV1().Deployments(ns).Create(ctx, deployment("solo", 1, ""), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "solo to be Available", func(ctx context.Context) (bool, error) { return available(ctx, e, ns, "solo", 1) })
	vPods, err := virtualPods(ctx, e, ns, "solo")
	if err != nil || len(vPods) != 1 {
		t.Fatalf("virtual pods %d (%v)", len(vPods), err)
	}
	old := vPods[0]
	hName := HostName(old.Name, ns, testVCluster)

	began := time.Now()
	if err := e.hostKube.CoreV1().Pods(testHostNS).Delete(ctx, hName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "the virtual pod to be deleted", func(ctx context.Context) (bool, error) {
		p, err := e.vKube.CoreV1().Pods(ns).Get(ctx, old.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return err == nil && p.UID != old.UID, err
	})
	var replacement corev1.Pod
	eventually(t, 60*time.Second, "a replacement to run on the host", func(ctx context.Context) (bool, error) {
		if ok, err := available(ctx, e, ns, "solo", 1); !ok || err != nil {
			return false, err
		}
		vPods, err := virtualPods(ctx, e, ns, "solo")
		if err != nil || len(vPods) != 1 || vPods[0].UID == old.UID || !ready(&vPods[0]) {
			return false, err
		}
		replacement = vPods[0]
		h, err := e.hostKube.CoreV1().Pods(testHostNS).Get(ctx, HostName(replacement.Name, ns, testVCluster), metav1.GetOptions{})
		return err == nil && h.Status.Phase == corev1.PodRunning && h.Status.PodIP == replacement.Status.PodIP, nil
	})
	t.Logf("measured: host pod deleted -> replacement Running and Available: %s", time.Since(began).Round(time.Millisecond))
	if err := e.vKube.AppsV1().Deployments(ns).Delete(ctx, "solo", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
}
