package syncer

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestForeignHostObjectsAreLeftAlone puts host objects without the syncer's labels
// where its copies would go: the syncer refuses, says so, and never changes or
// deletes them; a pod that would mount such an object is not started.
func TestForeignHostObjectsAreLeftAlone(t *testing.T) {
	e := env(t)
	ctx := context.Background()
	ns := newNamespace(t, e, "clash")
	foreignCM := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: HostName("settings", ns, testVCluster), Namespace: testHostNS,
		Labels: map[string]string{"owner": "host-admin"}}, Data: map[string]string{"greeting": "host data"}}
	foreignSvc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: HostName("api", ns, testVCluster), Namespace: testHostNS},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 443}}}}
	var err error
	if foreignCM, err = e.hostKube.CoreV1().ConfigMaps(testHostNS).Create(ctx, foreignCM, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if foreignSvc, err = e.hostKube.CoreV1().Services(testHostNS).Create(ctx, foreignSvc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // as the host's admin, who made them
		e.hostKube.CoreV1().ConfigMaps(testHostNS).Delete(ctx, foreignCM.Name, metav1.DeleteOptions{})
		e.hostKube.CoreV1().Services(testHostNS).Delete(ctx, foreignSvc.Name, metav1.DeleteOptions{})
	})

	if _, err := e.vKube.CoreV1().ConfigMaps(ns).Create(ctx, configMap("settings", map[string]string{"greeting": "tenant data"}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.vKube.CoreV1().Services(ns).Create(ctx, service("api"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	d := deployment("reader", 1, "settings")
	if _, err := e.vKube.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "the syncer to refuse both host objects", func(context.Context) (bool, error) {
		return e.log.contains("refusing", "ConfigMap "+testHostNS+"/"+foreignCM.Name) &&
			e.log.contains("refusing", "Service "+testHostNS+"/"+foreignSvc.Name), nil
	})

	unchanged := func(t *testing.T) {
		t.Helper()
		cm, err := e.hostKube.CoreV1().ConfigMaps(testHostNS).Get(ctx, foreignCM.Name, metav1.GetOptions{})
		if err != nil || cm.ResourceVersion != foreignCM.ResourceVersion || cm.Data["greeting"] != "host data" {
			t.Errorf("foreign ConfigMap changed: %+v (%v)", cm, err)
		}
		svc, err := e.hostKube.CoreV1().Services(testHostNS).Get(ctx, foreignSvc.Name, metav1.GetOptions{})
		if err != nil || svc.ResourceVersion != foreignSvc.ResourceVersion || svc.Spec.Selector != nil {
			t.Errorf("foreign Service changed: %+v (%v)", svc, err)
		}
	}
	unchanged(t)
	pods, err := hostPods(ctx, e, ns, "reader")
	if err != nil || len(pods) != 0 {
		t.Errorf("a pod mounting a ConfigMap blocked by a foreign object was started on the host: %d pods (%v)", len(pods), err)
	}

	// Deleting the virtual objects must not delete the foreign ones either.
	if err := e.vKube.AppsV1().Deployments(ns).Delete(ctx, "reader", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := e.vKube.CoreV1().Services(ns).Delete(ctx, "api", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// A service the syncer does own, deleted after: once its copy is gone, the
	// syncer has handled the foreign one's deletion too (one services worker, in order).
	if _, err := e.vKube.CoreV1().Services(ns).Create(ctx, service("marker"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the marker Service's host copy", func(ctx context.Context) (bool, error) {
		_, err := e.hostKube.CoreV1().Services(testHostNS).Get(ctx, HostName("marker", ns, testVCluster), metav1.GetOptions{})
		return err == nil, nil
	})
	if err := e.vKube.CoreV1().Services(ns).Delete(ctx, "marker", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the marker Service's host copy to go", func(ctx context.Context) (bool, error) {
		_, err := e.hostKube.CoreV1().Services(testHostNS).Get(ctx, HostName("marker", ns, testVCluster), metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	unchanged(t)
}
