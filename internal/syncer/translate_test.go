package syncer

import (
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

func TestHostService(t *testing.T) {
	v := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop"},
		Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeNodePort, ClusterIP: "10.96.0.10", ClusterIPs: []string{"10.96.0.10"},
			IPFamilies: []corev1.IPFamily{corev1.IPv4Protocol}, ExternalIPs: []string{"1.2.3.4"},
			Selector: map[string]string{"app": "web"},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, NodePort: 30080}},
		}}
	h := testTranslator.hostService(v)
	if h.Name != "web-x-shop-x-vc1" || h.Spec.ClusterIP != "" || h.Spec.ClusterIPs != nil || h.Spec.Ports[0].NodePort != 0 || h.Spec.ExternalIPs != nil {
		t.Errorf("host service keeps virtual allocations: %+v", h.Spec)
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
	n = s.virtualNode(h)
	if len(n.Status.Conditions) != 2 || n.Status.Images == nil || len(n.Spec.Taints) != 1 || n.Annotations["a"] != "b" || n.Spec.PodCIDR != "" {
		t.Errorf("real node %+v", n)
	}
	if _, ok := h.Labels[LabelManagedBy]; ok {
		t.Error("the host node (a cached object) was modified")
	}
}

func TestHostSubsets(t *testing.T) {
	in := []corev1.EndpointSubset{{
		Addresses: []corev1.EndpointAddress{{IP: "10.1.0.1", TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "shop", Name: "db-0", UID: "u"}},
			{IP: "192.168.0.9"}},
		Ports: []corev1.EndpointPort{{Port: 5432}},
	}}
	out := testTranslator.hostSubsets(in)
	ref := out[0].Addresses[0].TargetRef
	if ref.Name != "db-0-x-shop-x-vc1" || ref.Namespace != "host-ns" || ref.UID != "" || out[0].Addresses[1].TargetRef != nil {
		t.Errorf("subsets %+v", out)
	}
	if in[0].Addresses[0].TargetRef.Name != "db-0" {
		t.Error("input modified")
	}
}

func TestHostPVC(t *testing.T) {
	v := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "shop"},
		Spec: corev1.PersistentVolumeClaimSpec{VolumeName: "pv-someone-elses", StorageClassName: ptr.To("fast"),
			DataSource: &corev1.TypedLocalObjectReference{Kind: "PersistentVolumeClaim", Name: "seed"}}}
	h := testTranslator.hostPVC(v)
	if h.Spec.VolumeName != "" || h.Spec.DataSource.Name != "seed-x-shop-x-vc1" || *h.Spec.StorageClassName != "fast" {
		t.Errorf("host claim %+v", h.Spec)
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
