package syncer

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"gantry.dev/gantry/internal/simnodes"
)

// A tenant's attacks on the host through the syncer, tried against the real
// host and virtual control planes. The tenant is cluster-admin inside: each test
// writes there an object whose host copy would reach beyond the virtual cluster,
// then checks what landed on the host and what the tenant was told.

// syncerWarning returns the message of the syncer's Warning event with reason
// about virtual object ns/name, or "".
func syncerWarning(ctx context.Context, e *testEnv, ns, name, reason string) (string, error) {
	l, err := e.vKube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + name})
	if err != nil {
		return "", err
	}
	for _, ev := range l.Items {
		if ev.Reason == reason && ev.Type == corev1.EventTypeWarning && ev.Source.Component == ManagedBySyncer {
			return ev.Message, nil
		}
	}
	return "", nil
}

// waitWarning waits for the syncer's warning about ns/name and returns it.
func waitWarning(t *testing.T, e *testEnv, ns, name, reason string, says ...string) string {
	t.Helper()
	var msg string
	eventually(t, 30*time.Second, fmt.Sprintf("a %s warning about %s/%s", reason, ns, name), func(ctx context.Context) (bool, error) {
		var err error
		msg, err = syncerWarning(ctx, e, ns, name, reason)
		return msg != "", err
	})
	for _, s := range says {
		if !strings.Contains(msg, s) {
			t.Errorf("warning about %s/%s %q does not say %q", ns, name, msg, s)
		}
	}
	return msg
}

// foreignPod runs a pod in a host namespace of its own, as another team's
// virtual cluster would, and returns its IP.
func foreignPod(t *testing.T, e *testEnv) string {
	t.Helper()
	ctx := context.Background()
	ns := fmt.Sprintf("other-tenant-%d", namespaces.Add(1))
	if _, err := e.hostKube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.hostKube.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "payroll"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "db", Image: "postgres"}}}}
	if _, err := e.hostKube.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var ip string
	eventually(t, 60*time.Second, "the other tenant's pod to get an IP", func(ctx context.Context) (bool, error) {
		p, err := e.hostKube.CoreV1().Pods(ns).Get(ctx, "payroll", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		ip = p.Status.PodIP
		return ip != "", nil
	})
	return ip
}

// Services: external IPs (CVE-2020-8554) and a chosen load-balancer address
// stay inside. Endpoints of a selector-less Service (CVE-2021-25740) reach the
// host only as IPs of the virtual cluster's own pods: the host's API server, a
// node, another tenant's pod are left out, and an address leaves the host copy
// when its pod goes.
func TestAttackServicesAndEndpoints(t *testing.T) {
	e := env(t)
	ctx := context.Background()
	ns := newNamespace(t, e, "aim")
	v, h := e.vKube.CoreV1(), e.hostKube.CoreV1()

	if _, err := e.vKube.AppsV1().Deployments(ns).Create(ctx, deployment("backend", 1, ""), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "backend to be Available", func(ctx context.Context) (bool, error) { return available(ctx, e, ns, "backend", 1) })
	pods, err := virtualPods(ctx, e, ns, "backend")
	if err != nil || len(pods) != 1 || pods[0].Status.PodIP == "" {
		t.Fatalf("backend pods %v (%v)", pods, err)
	}
	ownIP := pods[0].Status.PodIP
	othersIP := foreignPod(t, e)
	// The host's API server, by its Service address (its own addresses are
	// loopback here, which endpoint validation refuses anyway).
	apiserver, err := h.Services(metav1.NamespaceDefault).Get(ctx, "kubernetes", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	apiserverIP := apiserver.Spec.ClusterIP
	nodes, err := h.Nodes().List(ctx, metav1.ListOptions{LabelSelector: simnodes.SimulatedLabel + "=true"})
	if err != nil || len(nodes.Items) == 0 || len(nodes.Items[0].Status.Addresses) == 0 {
		t.Fatalf("host nodes: %v", err)
	}
	nodeIP := nodes.Items[0].Status.Addresses[0].Address
	targets := []string{ownIP, apiserverIP, nodeIP, othersIP}
	slices.Sort(targets)
	if len(slices.Compact(targets)) != 4 {
		t.Fatalf("the test needs four distinct addresses: own %s, API server %s, node %s, other tenant %s", ownIP, apiserverIP, nodeIP, othersIP)
	}

	mitm := service("backend")
	mitm.Spec.Type = corev1.ServiceTypeLoadBalancer
	mitm.Spec.ExternalIPs = []string{"8.8.8.8"}
	mitm.Spec.LoadBalancerIP = "203.0.113.7"
	if _, err := v.Services(ns).Create(ctx, mitm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	redirect := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "redirect"},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "https", Port: 443}}}}
	if _, err := v.Services(ns).Create(ctx, redirect, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var addrs []corev1.EndpointAddress
	for _, ip := range []string{apiserverIP, nodeIP, othersIP, ownIP} {
		addrs = append(addrs, corev1.EndpointAddress{IP: ip})
	}
	eps := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "redirect"},
		Subsets: []corev1.EndpointSubset{{Addresses: addrs, Ports: []corev1.EndpointPort{{Name: "https", Port: 443}}}}}
	if _, err := v.Endpoints(ns).Create(ctx, eps, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	hostRedirect := HostName("redirect", ns, testVCluster)
	hostBackend := HostName(pods[0].Name, ns, testVCluster)
	eventually(t, 30*time.Second, "host Endpoints and EndpointSlice with only the virtual cluster's own pod", func(ctx context.Context) (bool, error) {
		he, err := h.Endpoints(testHostNS).Get(ctx, hostRedirect, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		var ips []string
		for _, s := range he.Subsets {
			for _, a := range s.Addresses {
				ips = append(ips, a.IP)
				if a.TargetRef == nil || a.TargetRef.Name != hostBackend {
					return false, fmt.Errorf("address %s points at %+v", a.IP, a.TargetRef)
				}
			}
		}
		if !slices.Equal(ips, []string{ownIP}) {
			return false, fmt.Errorf("host endpoints %v", ips)
		}
		l, err := e.hostKube.DiscoveryV1().EndpointSlices(testHostNS).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + hostRedirect})
		if err != nil || len(l.Items) != 1 {
			return false, err
		}
		ips = nil
		for _, ep := range l.Items[0].Endpoints {
			ips = append(ips, ep.Addresses...)
		}
		if !slices.Equal(ips, []string{ownIP}) {
			return false, fmt.Errorf("host EndpointSlice %v", ips)
		}
		return true, nil
	})
	msg := waitWarning(t, e, ns, "redirect", ReasonHostPolicy, "CVE-2021-25740")
	_, list, _ := strings.Cut(msg, "leaves out ")
	list, _, _ = strings.Cut(list, " (")
	left := strings.Split(list, ", ")
	slices.Sort(left)
	want := []string{apiserverIP, nodeIP, othersIP}
	slices.Sort(want)
	if !slices.Equal(left, want) {
		t.Errorf("the warning leaves out %v, want the API server, node and other tenant's %v: %s", left, want, msg)
	}

	hs, err := h.Services(testHostNS).Get(ctx, HostName("backend", ns, testVCluster), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(hs.Spec.ExternalIPs) > 0 || hs.Spec.LoadBalancerIP != "" {
		t.Errorf("host service captures addresses the tenant chose: externalIPs %v, loadBalancerIP %q", hs.Spec.ExternalIPs, hs.Spec.LoadBalancerIP)
	}
	waitWarning(t, e, ns, "backend", ReasonHostPolicy, "externalIPs 8.8.8.8 (CVE-2020-8554)", "loadBalancerIP 203.0.113.7")

	// The pod goes: its IP may be anyone's next, so it leaves the host copy.
	if _, err := e.vKube.AppsV1().Deployments(ns).Patch(ctx, "backend", types.MergePatchType, []byte(`{"spec":{"replicas":0}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "the host Endpoints to drop the address of the deleted pod", func(ctx context.Context) (bool, error) {
		he, err := h.Endpoints(testHostNS).Get(ctx, hostRedirect, metav1.GetOptions{})
		return err == nil && len(he.Subsets) == 0, err
	})
}

// Claims: a volume chosen by name or by labels is left out (the host binds),
// and a data source that is not a claim of the same namespace is refused.
func TestAttackClaims(t *testing.T) {
	e := env(t)
	ctx := context.Background()
	ns := newNamespace(t, e, "steal")
	v, h := e.vKube.CoreV1(), e.hostKube.CoreV1()
	size := corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}
	rwo := []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}

	pick := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "pick",
		Annotations: map[string]string{"pv.kubernetes.io/bind-completed": "yes", "volume.kubernetes.io/storage-provisioner": "nfs.example"}},
		Spec: corev1.PersistentVolumeClaimSpec{AccessModes: rwo, Resources: size, VolumeName: "pv-team-b",
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "b"}}}}
	if _, err := v.PersistentVolumeClaims(ns).Create(ctx, pick, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	restore := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "restore"},
		Spec: corev1.PersistentVolumeClaimSpec{AccessModes: rwo, Resources: size,
			DataSourceRef: &corev1.TypedObjectReference{APIGroup: ptr.To("snapshot.storage.k8s.io"), Kind: "VolumeSnapshot", Name: "payroll-nightly"}}}
	if _, err := v.PersistentVolumeClaims(ns).Create(ctx, restore, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	eventually(t, 30*time.Second, "the host copy of claim pick", func(ctx context.Context) (bool, error) {
		_, err := h.PersistentVolumeClaims(testHostNS).Get(ctx, HostName("pick", ns, testVCluster), metav1.GetOptions{})
		return err == nil, nil
	})
	hc, err := h.PersistentVolumeClaims(testHostNS).Get(ctx, HostName("pick", ns, testVCluster), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if hc.Spec.VolumeName != "" || hc.Spec.Selector != nil {
		t.Errorf("host claim picks a host volume: volumeName %q, selector %v", hc.Spec.VolumeName, hc.Spec.Selector)
	}
	for _, k := range []string{"pv.kubernetes.io/bind-completed", "volume.kubernetes.io/storage-provisioner"} {
		if _, ok := hc.Annotations[k]; ok {
			t.Errorf("host claim carries %s, an instruction to host controllers", k)
		}
	}
	waitWarning(t, e, ns, "pick", ReasonHostPolicy, `volumeName "pv-team-b"`, "selector")
	waitWarning(t, e, ns, "restore", ReasonHostPolicy, `snapshot.storage.k8s.io/VolumeSnapshot "payroll-nightly" is not a PersistentVolumeClaim`)
	if _, err := h.PersistentVolumeClaims(testHostNS).Get(ctx, HostName("restore", ns, testVCluster), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("claim restore reached the host: %v", err)
	}
}

// Pods: volumes that reach storage or credentials around the host's claims are
// refused; a node chosen by name and tolerations of the taints that set nodes
// apart do not get a pod onto a tainted node.
func TestAttackPods(t *testing.T) {
	e := env(t)
	ctx := context.Background()
	ns := newNamespace(t, e, "reach")
	v, h := e.vKube.CoreV1(), e.hostKube.CoreV1()
	eventually(t, 30*time.Second, "the default ServiceAccount of "+ns, func(ctx context.Context) (bool, error) {
		_, err := v.ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})

	// A node set apart for another team, as control-plane nodes are.
	nodes, err := h.Nodes().List(ctx, metav1.ListOptions{LabelSelector: simnodes.SimulatedLabel + "=true"})
	if err != nil || len(nodes.Items) == 0 {
		t.Fatalf("host nodes: %v", err)
	}
	reserved := nodes.Items[0].Name
	taint := func(patch string) {
		t.Helper()
		if _, err := h.Nodes().Patch(ctx, reserved, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	taint(`{"spec":{"taints":[{"key":"dedicated","value":"team-b","effect":"NoSchedule"}]}}`)
	t.Cleanup(func() { taint(`{"spec":{"taints":null}}`) })

	pod := func(name string, modify func(*corev1.Pod)) {
		t.Helper()
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
		modify(p)
		if _, err := v.Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	pod("nfs", func(p *corev1.Pod) {
		p.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{NFS: &corev1.NFSVolumeSource{Server: "10.0.0.5", Path: "/exports/team-b"}}}}
	})
	pod("certs", func(p *corev1.Pod) {
		p.Spec.Volumes = []corev1.Volume{{Name: "certs", VolumeSource: corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{Driver: "csi.cert-manager.io",
			VolumeAttributes: map[string]string{"csi.cert-manager.io/issuer-kind": "ClusterIssuer", "csi.cert-manager.io/issuer-name": "internal-ca"}}}}}
	})
	pod("pinned", func(p *corev1.Pod) {
		p.Spec.NodeName = reserved
		p.Spec.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpExists}, {Operator: corev1.TolerationOpExists}}
	})

	waitWarning(t, e, ns, "nfs", ReasonHostPolicy, `volume "data" is a nfs volume`, "PersistentVolumeClaim", "privileged")
	waitWarning(t, e, ns, "certs", ReasonHostPolicy, `inline volume of CSI driver "csi.cert-manager.io"`)
	for _, name := range []string{"nfs", "certs"} {
		if exists, err := hostPodExists(ctx, e, ns, name); err != nil || exists {
			t.Errorf("pod %s reached the host (%v)", name, err)
		}
		p, err := v.Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil || p.Status.Reason != ReasonHostPolicy || p.Status.Phase != corev1.PodPending {
			t.Errorf("virtual pod %s: %v, status %+v; want Pending with reason %s", name, err, p.Status, ReasonHostPolicy)
		}
	}

	waitWarning(t, e, ns, "pinned", ReasonHostPolicy, `the toleration of taint "dedicated"`, "the toleration of every taint")
	eventually(t, 30*time.Second, "the host to refuse pinned a place on the reserved node", func(ctx context.Context) (bool, error) {
		hp, err := h.Pods(testHostNS).Get(ctx, HostName("pinned", ns, testVCluster), metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if hp.Spec.NodeName != "" {
			return false, fmt.Errorf("host pod pinned is on node %s despite its taint", hp.Spec.NodeName)
		}
		for _, c := range hp.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
				return true, nil
			}
		}
		return false, nil
	})
}

// Keys that instruct host components stay inside: a Secret of type
// service-account-token naming a service account reaches the host as plain
// data, and a pod cannot block the host's autoscaler.
func TestAttackReservedKeys(t *testing.T) {
	e := env(t)
	ctx := context.Background()
	ns := newNamespace(t, e, "keys")
	v, h := e.vKube.CoreV1(), e.hostKube.CoreV1()
	eventually(t, 30*time.Second, "the default ServiceAccount of "+ns, func(ctx context.Context) (bool, error) {
		_, err := v.ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "mint",
		Annotations: map[string]string{corev1.ServiceAccountNameKey: "default", AnnotationPodToken: "true"}},
		Type: corev1.SecretTypeServiceAccountToken}
	if _, err := v.Secrets(ns).Create(ctx, secret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "holder",
		Labels:      map[string]string{"app.kubernetes.io/name": "holder", "node.kubernetes.io/instance-type": "huge"},
		Annotations: map[string]string{"cluster-autoscaler.kubernetes.io/safe-to-evict": "false", "team": "keys"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox",
			VolumeMounts: []corev1.VolumeMount{{Name: "mint", MountPath: "/mint"}}}},
			Volumes: []corev1.Volume{{Name: "mint", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "mint"}}}}}}
	if _, err := v.Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "pod holder to run on the host", func(ctx context.Context) (bool, error) {
		p, err := v.Pods(ns).Get(ctx, "holder", metav1.GetOptions{})
		return err == nil && p.Status.Phase == corev1.PodRunning, err
	})
	hs, err := h.Secrets(testHostNS).Get(ctx, HostName("mint", ns, testVCluster), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if hs.Type != corev1.SecretTypeOpaque || hs.Annotations[corev1.ServiceAccountNameKey] != "" || hs.Annotations[AnnotationPodToken] != "" {
		t.Errorf("host Secret type %s, annotations %v: host controllers would act on it", hs.Type, hs.Annotations)
	}
	hp, err := h.Pods(testHostNS).Get(ctx, HostName("holder", ns, testVCluster), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := hp.Annotations["cluster-autoscaler.kubernetes.io/safe-to-evict"]; ok || hp.Annotations["team"] != "keys" {
		t.Errorf("host pod annotations %v", hp.Annotations)
	}
	if _, ok := hp.Labels["node.kubernetes.io/instance-type"]; ok || hp.Labels["app.kubernetes.io/name"] != "holder" {
		t.Errorf("host pod labels %v", hp.Labels)
	}
}

// Two pods whose names meet on one host name: "web-x-<a>" in namespace <b>
// and "web" in namespace "<a>-x-<b>". The first keeps its host pod; the
// second is held back and told why, and does not replace or delete the first's.
func TestAttackNameCollision(t *testing.T) {
	e := env(t)
	ctx := context.Background()
	v, h := e.vKube.CoreV1(), e.hostKube.CoreV1()
	b := newNamespace(t, e, "meet")
	a := "col"
	ab := a + "-x-" + b
	if _, err := v.Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ab}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Namespaces().Delete(context.Background(), ab, metav1.DeleteOptions{}) })
	first, second := "web-x-"+a, "web"
	if HostName(first, b, testVCluster) != HostName(second, ab, testVCluster) {
		t.Fatal("the names do not meet; the test needs them to")
	}
	hostName := HostName(first, b, testVCluster)
	plain := func(name string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{
			AutomountServiceAccountToken: ptr.To(false), Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
	}
	if _, err := v.Pods(b).Create(ctx, plain(first), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var hostFirst *corev1.Pod
	eventually(t, 60*time.Second, "the first pod to run", func(ctx context.Context) (bool, error) {
		var err error
		hostFirst, err = h.Pods(testHostNS).Get(ctx, hostName, metav1.GetOptions{})
		return err == nil && hostFirst.Status.Phase == corev1.PodRunning, nil
	})
	eventually(t, 30*time.Second, "the default ServiceAccount of "+ab, func(ctx context.Context) (bool, error) {
		_, err := v.ServiceAccounts(ab).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
	if _, err := v.Pods(ab).Create(ctx, plain(second), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitWarning(t, e, ab, second, ReasonNameCollision, "is already the copy of virtual "+b+"/"+first, "rename one of them")
	p, err := v.Pods(ab).Get(ctx, second, metav1.GetOptions{})
	if err != nil || p.Status.Reason != ReasonNameCollision || p.Spec.NodeName != "" {
		t.Errorf("second pod: %v, status %+v, node %q; want held back, unbound", err, p.Status, p.Spec.NodeName)
	}
	still, err := h.Pods(testHostNS).Get(ctx, hostName, metav1.GetOptions{})
	if err != nil || still.UID != hostFirst.UID || still.DeletionTimestamp != nil || still.Annotations[AnnotationNamespace] != b {
		t.Fatalf("the first pod's host copy was replaced or deleted: %v %+v", err, still.ObjectMeta)
	}
	if f, err := v.Pods(b).Get(ctx, first, metav1.GetOptions{}); err != nil || f.Status.Phase != corev1.PodRunning {
		t.Errorf("the first pod: %v, phase %s", err, f.Status.Phase)
	}
}
