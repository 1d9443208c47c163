package syncer

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestMergeMetaKeepsHostKeysAndDropsRemovedOnes(t *testing.T) {
	v := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "ns", UID: "u",
		Labels: map[string]string{"a": "1", "b": "2"}, Annotations: map[string]string{"x": "1"}}}
	existing := testTranslator.hostMeta(v)
	existing.Labels["host-added"] = "yes"
	existing.Annotations["host/added"] = "yes"

	// The user removes label b and annotation x, changes a.
	v.Labels = map[string]string{"a": "9"}
	v.Annotations = nil
	if !mergeMeta(&existing, testTranslator.hostMeta(v)) {
		t.Fatal("no change reported")
	}
	if existing.Labels["a"] != "9" || existing.Labels["b"] != "" || existing.Labels["host-added"] != "yes" || existing.Labels[LabelVCluster] != "vc1" {
		t.Errorf("labels %v", existing.Labels)
	}
	if _, ok := existing.Annotations["x"]; ok || existing.Annotations["host/added"] != "yes" {
		t.Errorf("annotations %v", existing.Annotations)
	}
	if mergeMeta(&existing, testTranslator.hostMeta(v)) {
		t.Error("a second merge reported a change: the syncer would write forever")
	}
}

// A ClusterIP Service with external IPs gets externalTrafficPolicy from the
// virtual API server; its host copy, without them, must not keep it, or the
// host refuses the copy (the attacker's e2e suite found it).
func TestHostServiceWithoutItsExternalIPs(t *testing.T) {
	v := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "mitm", Namespace: "default"}, Spec: corev1.ServiceSpec{
		Type: corev1.ServiceTypeClusterIP, ExternalIPs: []string{"10.0.0.1"}, ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyCluster,
		Ports: []corev1.ServicePort{{Port: 443}}}}
	if h := testTranslator.hostService(v); h.Spec.ExternalIPs != nil || h.Spec.ExternalTrafficPolicy != "" {
		t.Errorf("host copy %+v: want neither external IPs nor an external traffic policy", h.Spec)
	}
	v.Spec.Type = corev1.ServiceTypeNodePort
	if h := testTranslator.hostService(v); h.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyCluster {
		t.Errorf("a NodePort Service lost its external traffic policy: %+v", h.Spec)
	}
}

func TestHostService(t *testing.T) {
	v := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop",
		Labels:      map[string]string{"service.kubernetes.io/service-proxy-name": "mine", "app.kubernetes.io/name": "web"},
		Annotations: map[string]string{"service.beta.kubernetes.io/aws-load-balancer-internal": "false", "team": "shop"}},
		Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeNodePort, ClusterIP: "10.96.0.10", ClusterIPs: []string{"10.96.0.10"},
			IPFamilies: []corev1.IPFamily{corev1.IPv4Protocol}, ExternalIPs: []string{"1.2.3.4"}, LoadBalancerIP: "203.0.113.7",
			Selector: map[string]string{"app": "web"},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, NodePort: 30080}},
		}}
	h := testTranslator.hostService(v)
	if h.Name != "web-x-shop-x-vc1" || h.Spec.ClusterIP != "" || h.Spec.ClusterIPs != nil || h.Spec.Ports[0].NodePort != 0 ||
		h.Spec.ExternalIPs != nil || h.Spec.LoadBalancerIP != "" {
		t.Errorf("host service keeps addresses and ports the tenant chose: %+v", h.Spec)
	}
	if _, ok := h.Labels["service.kubernetes.io/service-proxy-name"]; ok || h.Labels["app.kubernetes.io/name"] != "web" {
		t.Errorf("labels %v", h.Labels)
	}
	if _, ok := h.Annotations["service.beta.kubernetes.io/aws-load-balancer-internal"]; ok || h.Annotations["team"] != "shop" {
		t.Errorf("annotations %v", h.Annotations)
	}
	wantNotes := []string{"externalIPs 1.2.3.4 (CVE-2020-8554)", "loadBalancerIP 203.0.113.7",
		"labels service.kubernetes.io/service-proxy-name", "annotations service.beta.kubernetes.io/aws-load-balancer-internal"}
	if got := serviceNotes(v); !equality.Semantic.DeepEqual(got, wantNotes) {
		t.Errorf("notes %q, want %q", got, wantNotes)
	}
	wantSel := map[string]string{"app": "web", LabelManagedBy: ManagedBySyncer, LabelVCluster: "vc1", LabelNamespace: "shop"}
	if !equality.Semantic.DeepEqual(h.Spec.Selector, wantSel) {
		t.Errorf("selector %v", h.Spec.Selector)
	}
	if v.Spec.ClusterIP != "10.96.0.10" {
		t.Error("the virtual service was modified")
	}

	// What the host allocated survives a merge, and a merge of the same is no change.
	live := h.DeepCopy()
	live.Spec.ClusterIP, live.Spec.ClusterIPs = "10.0.0.5", []string{"10.0.0.5"}
	live.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol}
	live.Spec.Ports[0].NodePort = 31000
	if mergeService(live, testTranslator.hostService(v)) {
		t.Errorf("merging an unchanged service reports a change: %+v", live.Spec)
	}
	v.Spec.Selector = map[string]string{"app": "api"}
	if !mergeService(live, testTranslator.hostService(v)) || live.Spec.Selector["app"] != "api" || live.Spec.ClusterIP != "10.0.0.5" || live.Spec.Ports[0].NodePort != 31000 {
		t.Errorf("after selector change: %+v", live.Spec)
	}

	headless := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "shop"},
		Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, ClusterIPs: []string{corev1.ClusterIPNone}}}
	if h := testTranslator.hostService(headless); h.Spec.ClusterIP != corev1.ClusterIPNone || h.Spec.Selector != nil {
		t.Errorf("headless selector-less service: %+v", h.Spec)
	}
}

func TestVirtualPodStatus(t *testing.T) {
	now := metav1.NewTime(time.Now().Truncate(time.Second))
	v := &corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending, QOSClass: corev1.PodQOSBestEffort}}
	h := &corev1.Pod{Status: corev1.PodStatus{
		Phase: corev1.PodRunning, PodIP: "10.244.0.7", PodIPs: []corev1.PodIP{{IP: "10.244.0.7"}}, HostIP: "10.0.0.1",
		StartTime: &now, QOSClass: corev1.PodQOSGuaranteed, NominatedNodeName: "x", ObservedGeneration: 3,
		Conditions:        []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, ObservedGeneration: 3}},
		ContainerStatuses: []corev1.ContainerStatus{{Name: "web", Ready: true}},
	}}
	st := virtualPodStatus(v, h)
	if st.Phase != corev1.PodRunning || st.PodIP != "10.244.0.7" || st.HostIP != "10.0.0.1" || st.StartTime == nil ||
		len(st.ContainerStatuses) != 1 || st.Conditions[0].Status != corev1.ConditionTrue {
		t.Errorf("status not copied: %+v", st)
	}
	if st.QOSClass != corev1.PodQOSBestEffort || st.NominatedNodeName != "" || st.ObservedGeneration != 0 || st.Conditions[0].ObservedGeneration != 0 {
		t.Errorf("host-only fields copied: %+v", st)
	}
	if h.Status.Conditions[0].ObservedGeneration != 3 {
		t.Error("the host pod (a cached object) was modified")
	}
}

func TestVirtualNode(t *testing.T) {
	capacity := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("32"), corev1.ResourcePods: resource.MustParse("110")}
	h := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "sim-node-1", UID: "host-uid", Labels: map[string]string{"type": "kwok"}, Annotations: map[string]string{"a": "b"}},
		Spec:       corev1.NodeSpec{PodCIDR: "10.244.1.0/24", Taints: []corev1.Taint{{Key: "k", Effect: corev1.TaintEffectNoSchedule}}},
		Status: corev1.NodeStatus{
			Capacity: capacity, Allocatable: capacity,
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse}, {Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
			Addresses:  []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.0.0.1"}},
			Images:     []corev1.ContainerImage{{Names: []string{"nginx"}}},
		},
	}
	s := &syncer{opts: Options{VCluster: "vc1"}}
	n := s.virtualNode(h)
	if n.Name != "sim-node-1" || n.UID != "" || n.Labels["type"] != "kwok" || n.Labels[LabelManagedBy] != ManagedBySyncer || n.Labels[LabelVCluster] != "vc1" {
		t.Errorf("meta %+v", n.ObjectMeta)
	}
	if len(n.Status.Conditions) != 1 || n.Status.Conditions[0].Type != corev1.NodeReady || len(n.Status.Addresses) != 1 ||
		!n.Status.Capacity.Cpu().Equal(resource.MustParse("32")) || n.Status.Images != nil || n.Spec.Taints != nil || n.Annotations != nil {
		t.Errorf("minimal node %+v", n)
	}
	s.opts.SyncNodes = true
	h.Status.VolumesInUse = []corev1.UniqueVolumeName{"kubernetes.io/csi/disk.example^team-b-db"}
	h.Status.VolumesAttached = []corev1.AttachedVolume{{Name: "kubernetes.io/csi/disk.example^team-b-db", DevicePath: "/dev/sdb"}}
	n = s.virtualNode(h)
	if len(n.Status.Conditions) != 2 || len(n.Spec.Taints) != 1 || n.Annotations["a"] != "b" || n.Spec.PodCIDR != "" {
		t.Errorf("real node %+v", n)
	}
	// What other tenants run and mount on the node stays on the host.
	if n.Status.Images != nil || n.Status.VolumesInUse != nil || n.Status.VolumesAttached != nil {
		t.Errorf("real node shows other tenants' images or volumes: %+v %v %v", n.Status.Images, n.Status.VolumesInUse, n.Status.VolumesAttached)
	}
	if h.Status.Images == nil {
		t.Error("the host node (a cached object) was modified")
	}
	if _, ok := h.Labels[LabelManagedBy]; ok {
		t.Error("the host node (a cached object) was modified")
	}
}

// A selector-less Service's endpoints reach the host only as IPs of the virtual
// cluster's own pods there, pointing at those pods; every other address (the
// host's API server, a node, another team's pod, a metadata service) is left out.
func TestHostSubsets(t *testing.T) {
	own := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "db-0-x-shop-x-vc1", Namespace: "host-ns", UID: "host-uid"},
		Spec: corev1.PodSpec{NodeName: "node-1"}}
	byIP := func(ip string) *corev1.Pod {
		if ip == "10.1.0.1" || ip == "fd00::1" {
			return own
		}
		return nil
	}
	in := []corev1.EndpointSubset{
		{
			Addresses: []corev1.EndpointAddress{
				{IP: "10.1.0.1", Hostname: "db-0", TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "shop", Name: "db-0", UID: "u"}},
				{IP: "10.0.0.1", TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "shop", Name: "db-1"}}, // claims to be a pod
				{IP: "192.168.0.9"},
			},
			NotReadyAddresses: []corev1.EndpointAddress{{IP: "fd00:0:0:0:0:0:0:1"}, {IP: "10.0.0.1"}},
			Ports:             []corev1.EndpointPort{{Port: 5432}},
		},
		{Addresses: []corev1.EndpointAddress{{IP: "169.254.169.254"}}, Ports: []corev1.EndpointPort{{Port: 80}}},
	}
	before := in[0].DeepCopy()
	out, left := hostSubsets(in, byIP)
	want := []corev1.EndpointSubset{{
		Addresses: []corev1.EndpointAddress{{IP: "10.1.0.1", Hostname: "db-0", NodeName: ptr.To("node-1"),
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "host-ns", Name: "db-0-x-shop-x-vc1", UID: "host-uid"}}},
		NotReadyAddresses: []corev1.EndpointAddress{{IP: "fd00::1", NodeName: ptr.To("node-1"),
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "host-ns", Name: "db-0-x-shop-x-vc1", UID: "host-uid"}}},
		Ports: []corev1.EndpointPort{{Port: 5432}},
	}}
	if !equality.Semantic.DeepEqual(out, want) {
		t.Errorf("subsets\n got %+v\nwant %+v", out, want)
	}
	if wantLeft := []string{"10.0.0.1", "169.254.169.254", "192.168.0.9"}; !equality.Semantic.DeepEqual(left, wantLeft) {
		t.Errorf("left out %v, want %v", left, wantLeft)
	}
	if !equality.Semantic.DeepEqual(&in[0], before) {
		t.Error("input modified")
	}
}

func TestHostPVC(t *testing.T) {
	v := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "shop",
		Annotations: map[string]string{"volume.beta.kubernetes.io/storage-class": "fast", "pv.kubernetes.io/bind-completed": "yes",
			"volume.kubernetes.io/storage-provisioner": "csi.example", "note": "kept"}},
		Spec: corev1.PersistentVolumeClaimSpec{VolumeName: "pv-someone-elses",
			Selector:      &metav1.LabelSelector{MatchLabels: map[string]string{"team": "b"}},
			DataSource:    &corev1.TypedLocalObjectReference{Kind: "PersistentVolumeClaim", Name: "seed"},
			DataSourceRef: &corev1.TypedObjectReference{Kind: "PersistentVolumeClaim", Name: "seed", Namespace: ptr.To("shop")}}}
	h, left := testTranslator.hostPVC(v)
	if h.Spec.VolumeName != "" || h.Spec.Selector != nil {
		t.Errorf("host claim picks a volume: %+v", h.Spec)
	}
	if h.Spec.DataSource.Name != "seed-x-shop-x-vc1" || h.Spec.DataSourceRef.Name != "seed-x-shop-x-vc1" || h.Spec.DataSourceRef.Namespace != nil {
		t.Errorf("data sources %+v %+v", h.Spec.DataSource, h.Spec.DataSourceRef)
	}
	if ptr.Deref(h.Spec.StorageClassName, "") != "fast" {
		t.Errorf("class %v, want fast from the deprecated annotation", h.Spec.StorageClassName)
	}
	for _, k := range []string{"volume.beta.kubernetes.io/storage-class", "pv.kubernetes.io/bind-completed", "volume.kubernetes.io/storage-provisioner"} {
		if _, ok := h.Annotations[k]; ok {
			t.Errorf("annotation %s reached the host", k)
		}
	}
	if h.Annotations["note"] != "kept" {
		t.Errorf("annotations %v", h.Annotations)
	}
	if len(left) != 2 || !strings.Contains(left[0], "pv-someone-elses") || !strings.Contains(left[1], "selector") {
		t.Errorf("left out %q", left)
	}
	if v.Spec.VolumeName == "" || v.Spec.DataSource.Name != "seed" {
		t.Error("the virtual claim was modified")
	}
}

func TestClaimSourceRefusal(t *testing.T) {
	for _, c := range []struct {
		name string
		spec corev1.PersistentVolumeClaimSpec
		want string // in the refusal; "" when allowed
	}{
		{"no source", corev1.PersistentVolumeClaimSpec{}, ""},
		{"a claim of its namespace", corev1.PersistentVolumeClaimSpec{
			DataSource:    &corev1.TypedLocalObjectReference{Kind: "PersistentVolumeClaim", Name: "seed"},
			DataSourceRef: &corev1.TypedObjectReference{Kind: "PersistentVolumeClaim", Name: "seed", Namespace: ptr.To("shop")}}, ""},
		{"a snapshot", corev1.PersistentVolumeClaimSpec{
			DataSource: &corev1.TypedLocalObjectReference{APIGroup: ptr.To("snapshot.storage.k8s.io"), Kind: "VolumeSnapshot", Name: "nightly"}},
			`snapshot.storage.k8s.io/VolumeSnapshot "nightly" is not a PersistentVolumeClaim`},
		{"a populator", corev1.PersistentVolumeClaimSpec{
			DataSourceRef: &corev1.TypedObjectReference{APIGroup: ptr.To("populator.example"), Kind: "Seed", Name: "x"}}, "is not a PersistentVolumeClaim"},
		{"a claim of another namespace", corev1.PersistentVolumeClaimSpec{
			DataSourceRef: &corev1.TypedObjectReference{Kind: "PersistentVolumeClaim", Name: "db", Namespace: ptr.To("payroll")}},
			`claim "db" of namespace "payroll"`},
		{"a snapshot of another namespace", corev1.PersistentVolumeClaimSpec{
			DataSourceRef: &corev1.TypedObjectReference{APIGroup: ptr.To("snapshot.storage.k8s.io"), Kind: "VolumeSnapshot", Name: "s",
				Namespace: ptr.To("vc-p-b-v1")}}, "is not a PersistentVolumeClaim"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := claimSourceRefusal(&c.spec, "shop")
			if (got == "") != (c.want == "") || !strings.Contains(got, c.want) {
				t.Errorf("refusal %q, want one saying %q", got, c.want)
			}
		})
	}
}

func TestSecretTypeAndEventName(t *testing.T) {
	if hostSecretType(corev1.SecretTypeServiceAccountToken) != corev1.SecretTypeOpaque || hostSecretType(corev1.SecretTypeTLS) != corev1.SecretTypeTLS {
		t.Error("secret types")
	}
	if got := virtualEventName("web-1", "web-1-x-default-x-vc1.17f2a3b4c5d6e7f8"); got != "web-1.17f2a3b4c5d6e7f8" {
		t.Errorf("event name %q", got)
	}
	if a, b := virtualEventName("web-1", "nodot-a"), virtualEventName("web-1", "nodot-b"); a == b {
		t.Error("distinct host events without a suffix got one name")
	}
}
