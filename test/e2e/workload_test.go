package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// deployWeb does what a user does first in a new cluster: a 2-replica Deployment and
// a Service in front of it (kubectl create deployment + kubectl expose).
func deployWeb(t *testing.T, c kubernetes.Interface, ns string) {
	t.Helper()
	ctx := context.Background()
	if ns != "default" {
		_, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	labels := map[string]string{"app": "web"}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "nginx", Image: "nginx", Ports: []corev1.ContainerPort{{ContainerPort: 80}}}}},
			},
		},
	}
	if _, err := c.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec:       corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(80)}}},
	}
	if _, err := c.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// assertWebRuns checks, inside the virtual cluster, what `kubectl get deploy,pods,
// endpointslices` would show on a real cluster, and on the host that the pods run
// in the virtual cluster's host namespace under their translated names.
func assertWebRuns(t *testing.T, c kubernetes.Interface, host kubernetes.Interface, ns, vcluster, hostNS string) {
	t.Helper()
	ctx := context.Background()
	var pods *corev1.PodList
	ips := map[string]bool{}
	// Eventually, not at once: after a wake the Deployment's status is from before
	// the sleep until the controllers catch up with the re-created pods.
	eventually(t, 60*time.Second, fmt.Sprintf("web in %s/%s Available 2/2 with its pods running on the host", vcluster, ns), func() error {
		d, err := c.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if d.Status.AvailableReplicas != 2 {
			return fmt.Errorf("%d/2 available", d.Status.AvailableReplicas)
		}
		if pods, err = c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"}); err != nil {
			return err
		}
		if len(pods.Items) != 2 {
			return fmt.Errorf("%d virtual pods, want 2", len(pods.Items))
		}
		clear(ips)
		for _, p := range pods.Items {
			if p.Status.Phase != corev1.PodRunning || p.Status.PodIP == "" || p.Spec.NodeName == "" {
				return fmt.Errorf("virtual pod %s: phase %s, IP %q, node %q", p.Name, p.Status.Phase, p.Status.PodIP, p.Spec.NodeName)
			}
			ips[p.Status.PodIP] = true
			// The same pod on the host, under vCluster's naming scheme.
			hostName := p.Name + "-x-" + ns + "-x-" + vcluster
			hp, err := host.CoreV1().Pods(hostNS).Get(ctx, hostName, metav1.GetOptions{})
			if err != nil {
				return fmt.Errorf("host pod %s/%s for virtual pod %s: %v", hostNS, hostName, p.Name, err)
			}
			if hp.Status.Phase != corev1.PodRunning || hp.Status.PodIP != p.Status.PodIP || hp.Spec.NodeName != p.Spec.NodeName {
				return fmt.Errorf("host pod %s: phase %s IP %s node %s; virtual shows %s %s %s", hostName,
					hp.Status.Phase, hp.Status.PodIP, hp.Spec.NodeName, p.Status.Phase, p.Status.PodIP, p.Spec.NodeName)
			}
			if hp.Labels["gantry.dev/vcluster"] != vcluster {
				return fmt.Errorf("host pod %s lacks the vcluster label: %v", hostName, hp.Labels)
			}
		}
		return nil
	})
	// The node a pod runs on exists inside the virtual cluster.
	if _, err := c.CoreV1().Nodes().Get(ctx, pods.Items[0].Spec.NodeName, metav1.GetOptions{}); err != nil {
		t.Errorf("node %s of a running pod is not in the virtual cluster: %v", pods.Items[0].Spec.NodeName, err)
	}
	eventually(t, 30*time.Second, "EndpointSlice and Endpoints of web with both pod IPs", func() error {
		slices, err := c.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=web"})
		if err != nil {
			return err
		}
		got := map[string]bool{}
		for _, s := range slices.Items {
			for _, e := range s.Endpoints {
				if e.Conditions.Ready != nil && *e.Conditions.Ready {
					got[e.Addresses[0]] = true
				}
			}
		}
		if len(got) != 2 || !sameKeys(got, ips) {
			return fmt.Errorf("ready endpoints %v, pod IPs %v", got, ips)
		}
		//lint:ignore SA1019 Endpoints are still what older clients read.
		ep, err := c.CoreV1().Endpoints(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if len(ep.Subsets) == 0 || len(ep.Subsets[0].Addresses) != 2 {
			return fmt.Errorf("endpoints %+v", ep.Subsets)
		}
		return nil
	})
	hostSvc := "web-x-" + ns + "-x-" + vcluster
	if _, err := host.CoreV1().Services(hostNS).Get(ctx, hostSvc, metav1.GetOptions{}); err != nil {
		t.Errorf("host service %s: %v", hostSvc, err)
	}
}

func sameKeys(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

// hostPods counts the pods the syncer made for a virtual cluster in its host namespace.
func hostPods(t *testing.T, host kubernetes.Interface, hostNS, vcluster string) int {
	t.Helper()
	pods, err := host.CoreV1().Pods(hostNS).List(context.Background(), metav1.ListOptions{LabelSelector: "gantry.dev/vcluster=" + vcluster})
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	if pods == nil {
		return 0
	}
	return len(pods.Items)
}
