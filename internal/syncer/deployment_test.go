package syncer

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// TestDeploymentRunsThroughTheSyncer follows a Deployment and its Service from the
// virtual cluster to running host pods and back: availability, pod IPs, endpoint
// slices and nodes inside; then its deletion on both sides.
func TestDeploymentRunsThroughTheSyncer(t *testing.T) {
	e := env(t)
	ctx := context.Background()
	ns := newNamespace(t, e, "shop")
	if _, err := e.vKube.CoreV1().ConfigMaps(ns).Create(ctx, configMap("web-config", map[string]string{"greeting": "hello"}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.vKube.CoreV1().ConfigMaps(ns).Create(ctx, configMap("unused", map[string]string{"x": "y"}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	vSvc, err := e.vKube.CoreV1().Services(ns).Create(ctx, service("web"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Measure the syncer's path, not the virtual controller-manager making the
	// namespace's default ServiceAccount (pods cannot be created before it exists).
	eventually(t, 30*time.Second, "the default ServiceAccount of "+ns, func(ctx context.Context) (bool, error) {
		_, err := e.vKube.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
	began := time.Now()
	if _, err := e.vKube.AppsV1().Deployments(ns).Create(ctx, deployment("web", 2, "web-config"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	milestones := map[string]time.Duration{}
	mark := func(name string, reached bool) {
		if _, seen := milestones[name]; reached && !seen {
			milestones[name] = time.Since(began).Round(time.Millisecond)
		}
	}
	eventually(t, 90*time.Second, "the virtual Deployment to be Available 2/2", func(ctx context.Context) (bool, error) {
		if v, err := virtualPods(ctx, e, ns, "web"); err == nil {
			mark("2 virtual pods created", len(v) == 2)
			mark("2 virtual pods Ready", len(v) == 2 && ready(&v[0]) && ready(&v[1]))
		}
		if h, err := hostPods(ctx, e, ns, "web"); err == nil {
			mark("2 host pods created", len(h) == 2)
			mark("2 host pods Running", len(h) == 2 && h[0].Status.Phase == corev1.PodRunning && h[1].Status.Phase == corev1.PodRunning)
		}
		ok, err := available(ctx, e, ns, "web", 2)
		mark("Deployment Available 2/2", ok)
		return ok, err
	})
	for _, m := range []string{"2 virtual pods created", "2 host pods created", "2 host pods Running", "2 virtual pods Ready", "Deployment Available 2/2"} {
		if d, ok := milestones[m]; ok { // steps closer than a poll apart are not seen apart
			t.Logf("measured: Deployment created -> %s: %s (polled every 50ms)", m, d)
		}
	}

	vPods, err := virtualPods(ctx, e, ns, "web")
	if err != nil {
		t.Fatal(err)
	}
	hPods, err := hostPods(ctx, e, ns, "web")
	if err != nil {
		t.Fatal(err)
	}
	if len(vPods) != 2 || len(hPods) != 2 {
		t.Fatalf("%d virtual and %d host pods, want 2 and 2", len(vPods), len(hPods))
	}
	byName := map[string]corev1.Pod{}
	for _, h := range hPods {
		byName[h.Name] = h
	}
	var ips []string
	nodesUsed := map[string]bool{}
	for _, v := range vPods {
		h, ok := byName[HostName(v.Name, ns, testVCluster)]
		if !ok {
			t.Fatalf("no host pod named %s for virtual pod %s", HostName(v.Name, ns, testVCluster), v.Name)
		}
		t.Run("host pod "+v.Name, func(t *testing.T) {
			checkHostPod(t, e, &v, &h)
		})
		if v.Status.Phase != corev1.PodRunning || !ready(&v) || v.Status.PodIP == "" || v.Status.PodIP != h.Status.PodIP ||
			v.Status.HostIP != h.Status.HostIP || v.Spec.NodeName != h.Spec.NodeName {
			t.Errorf("virtual pod %s: phase %s ready %v ip %s node %s; host pod: ip %s node %s", v.Name, v.Status.Phase, ready(&v),
				v.Status.PodIP, v.Spec.NodeName, h.Status.PodIP, h.Spec.NodeName)
		}
		ips = append(ips, h.Status.PodIP)
		nodesUsed[h.Spec.NodeName] = true
	}

	t.Run("virtual EndpointSlice lists the host pod IPs", func(t *testing.T) {
		slices.Sort(ips)
		eventually(t, 30*time.Second, "the virtual EndpointSlice of web", func(ctx context.Context) (bool, error) {
			l, err := e.vKube.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=web"})
			if err != nil {
				return false, err
			}
			var got []string
			for _, s := range l.Items {
				for _, ep := range s.Endpoints {
					if ptr.Deref(ep.Conditions.Ready, false) {
						got = append(got, ep.Addresses...)
					}
				}
			}
			slices.Sort(got)
			return slices.Equal(got, ips), nil
		})
	})

	t.Run("virtual nodes mirror the host nodes used", func(t *testing.T) {
		for node := range nodesUsed {
			n, err := e.vKube.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
			if err != nil {
				t.Fatalf("virtual node %s: %v", node, err)
			}
			if !owned(n, testVCluster) || n.Labels["type"] != "kwok" || len(n.Status.Addresses) == 0 || n.Status.Capacity.Cpu().IsZero() {
				t.Errorf("virtual node %s: labels %v status %+v", node, n.Labels, n.Status)
			}
			if len(n.Status.Conditions) != 1 || n.Status.Conditions[0].Type != corev1.NodeReady || n.Status.Conditions[0].Status != corev1.ConditionTrue {
				t.Errorf("virtual node %s conditions %+v, want Ready only", node, n.Status.Conditions)
			}
		}
	})

	t.Run("used ConfigMap is copied, unused is not", func(t *testing.T) {
		h, err := e.hostKube.CoreV1().ConfigMaps(testHostNS).Get(ctx, HostName("web-config", ns, testVCluster), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if h.Data["greeting"] != "hello" || !owned(h, testVCluster) {
			t.Errorf("host ConfigMap %+v", h)
		}
		if _, err := e.hostKube.CoreV1().ConfigMaps(testHostNS).Get(ctx, HostName("unused", ns, testVCluster), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("unused ConfigMap on the host: %v", err)
		}
	})

	t.Run("Service copied with a translated selector, each side its own ClusterIP", func(t *testing.T) {
		var h *corev1.Service
		eventually(t, 30*time.Second, "the host Service", func(ctx context.Context) (bool, error) {
			h, err = e.hostKube.CoreV1().Services(testHostNS).Get(ctx, HostName("web", ns, testVCluster), metav1.GetOptions{})
			return err == nil, err
		})
		want := map[string]string{"app": "web", LabelManagedBy: ManagedBySyncer, LabelVCluster: testVCluster, LabelNamespace: ns}
		if !equalMaps(h.Spec.Selector, want) {
			t.Errorf("host selector %v, want %v", h.Spec.Selector, want)
		}
		if !strings.HasPrefix(vSvc.Spec.ClusterIP, "10.97.") || !strings.HasPrefix(h.Spec.ClusterIP, "10.96.") {
			t.Errorf("ClusterIPs: virtual %s, host %s", vSvc.Spec.ClusterIP, h.Spec.ClusterIP)
		}
		// The host's own endpoint controller finds the host pods by that selector.
		eventually(t, 30*time.Second, "host EndpointSlice of the copy", func(ctx context.Context) (bool, error) {
			l, err := e.hostKube.DiscoveryV1().EndpointSlices(testHostNS).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + h.Name})
			if err != nil || len(l.Items) == 0 {
				return false, err
			}
			return len(l.Items[0].Endpoints) == 2, nil
		})
	})

	t.Run("host events reach the virtual pods", func(t *testing.T) {
		v := vPods[0]
		eventually(t, 30*time.Second, "a Scheduled event about "+v.Name, func(ctx context.Context) (bool, error) {
			l, err := e.vKube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + v.Name})
			if err != nil {
				return false, err
			}
			for _, ev := range l.Items {
				if ev.Reason == "Scheduled" && ev.InvolvedObject.UID == v.UID && strings.Contains(ev.Message, ns+"/"+v.Name) {
					return true, nil
				}
			}
			return false, nil
		})
	})

	// Deletion: the Deployment's pods go inside, so their host copies go, and with
	// them the ConfigMap nobody uses any more and the nodes nobody runs on.
	began = time.Now()
	if err := e.vKube.AppsV1().Deployments(ns).Delete(ctx, "web", metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationForeground)}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "the host pods to go", func(ctx context.Context) (bool, error) {
		h, err := hostPods(ctx, e, ns, "web")
		return len(h) == 0, err
	})
	t.Logf("measured: Deployment delete -> host pods gone: %s", time.Since(began).Round(time.Millisecond))
	eventually(t, 30*time.Second, "the virtual pods to go", func(ctx context.Context) (bool, error) {
		v, err := virtualPods(ctx, e, ns, "web")
		return len(v) == 0, err
	})
	eventually(t, 30*time.Second, "the unused host ConfigMap and token Secrets to go", func(ctx context.Context) (bool, error) {
		_, err := e.hostKube.CoreV1().ConfigMaps(testHostNS).Get(ctx, HostName("web-config", ns, testVCluster), metav1.GetOptions{})
		if !apierrors.IsNotFound(err) {
			return false, nil
		}
		for _, v := range vPods {
			_, err := e.hostKube.CoreV1().Secrets(testHostNS).Get(ctx, tokenSecretName(HostName(v.Name, ns, testVCluster)), metav1.GetOptions{})
			if !apierrors.IsNotFound(err) {
				return false, nil
			}
		}
		return true, nil
	})
	eventually(t, 30*time.Second, "virtual nodes only where virtual pods still run", func(ctx context.Context) (bool, error) {
		return virtualNodesMatchPods(ctx, e)
	})
}

// checkHostPod checks the translation as the host API server stored it.
func checkHostPod(t *testing.T, e *testEnv, v, h *corev1.Pod) {
	ctx := context.Background()
	if h.Namespace != testHostNS || !owned(h, testVCluster) || h.Labels["app"] != "web" || h.Labels[LabelNamespace] != v.Namespace {
		t.Errorf("host pod labels %v", h.Labels)
	}
	if h.Annotations[AnnotationName] != v.Name || h.Annotations[AnnotationNamespace] != v.Namespace || h.Annotations[AnnotationUID] != string(v.UID) {
		t.Errorf("host pod annotations %v", h.Annotations)
	}
	if h.Status.Phase != corev1.PodRunning || !strings.HasPrefix(h.Spec.NodeName, "sim-node-") || h.Status.PodIP == "" {
		t.Errorf("host pod: phase %s node %q ip %q", h.Status.Phase, h.Spec.NodeName, h.Status.PodIP)
	}
	env := h.Spec.Containers[0].Env[0].ValueFrom.ConfigMapKeyRef
	if env.Name != HostName("web-config", v.Namespace, testVCluster) {
		t.Errorf("env configMapKeyRef %s", env.Name)
	}
	if h.Spec.ServiceAccountName != HostName("default", v.Namespace, testVCluster) || ptr.Deref(h.Spec.AutomountServiceAccountToken, true) {
		t.Errorf("service account %q automount %v", h.Spec.ServiceAccountName, h.Spec.AutomountServiceAccountToken)
	}
	// The token the pod mounts was issued by the virtual API server for the virtual pod.
	sec, err := e.hostKube.CoreV1().Secrets(testHostNS).Get(ctx, tokenSecretName(h.Name), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var key string
	for _, vol := range h.Spec.Volumes {
		if vol.Projected != nil && strings.HasPrefix(vol.Name, "kube-api-access-") {
			key = vol.Projected.Sources[0].Secret.Items[0].Key
		}
	}
	review, err := e.vKube.AuthenticationV1().TokenReviews().Create(ctx, &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: string(sec.Data[key])}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantUser := "system:serviceaccount:" + v.Namespace + ":default"
	if !review.Status.Authenticated || review.Status.User.Username != wantUser ||
		!slices.Contains(review.Status.User.Extra["authentication.kubernetes.io/pod-name"], v.Name) {
		t.Errorf("token under key %q: authenticated %v as %q (%v), want %s bound to pod %s",
			key, review.Status.Authenticated, review.Status.User.Username, review.Status.Error, wantUser, v.Name)
	}
}

// virtualNodesMatchPods reports whether the virtual nodes are exactly those that
// virtual pods are bound to.
func virtualNodesMatchPods(ctx context.Context, e *testEnv) (bool, error) {
	pods, err := e.vKube.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return false, err
	}
	want := map[string]bool{}
	for _, p := range pods.Items {
		if p.Spec.NodeName != "" {
			want[p.Spec.NodeName] = true
		}
	}
	nodes, err := e.vKube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return false, err
	}
	if len(nodes.Items) != len(want) {
		return false, nil
	}
	for _, n := range nodes.Items {
		if !want[n.Name] {
			return false, nil
		}
	}
	return true, nil
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
