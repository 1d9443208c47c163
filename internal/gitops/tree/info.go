package tree

import (
	"fmt"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// describe adds what Argo CD shows on a node: the revision of a rollout step,
// a Pod's state, containers and images, and networking facts.
func describe(obj *unstructured.Unstructured, n *Node) {
	if rev := revision(obj); rev > 0 {
		n.Info = append(n.Info, InfoItem{Name: "Revision", Value: fmt.Sprintf("Rev:%d", rev)})
	}
	gvk := obj.GroupVersionKind()
	switch {
	case gvk.Group == "" && gvk.Kind == "Pod":
		describePod(obj, n)
	case gvk.Group == "" && gvk.Kind == "Service":
		describeService(obj, n)
	case (gvk.Group == "networking.k8s.io" || gvk.Group == "extensions") && gvk.Kind == "Ingress":
		describeIngress(obj, n)
	}
}

// revision is the rollout revision of a Deployment's ReplicaSet (and of the
// Deployment itself), or of a ControllerRevision.
func revision(obj *unstructured.Unstructured) int64 {
	if v, ok := obj.GetAnnotations()["deployment.kubernetes.io/revision"]; ok {
		if rev, err := strconv.ParseInt(v, 10, 64); err == nil {
			return rev
		}
	}
	if obj.GetKind() == "ControllerRevision" {
		rev, _, _ := unstructured.NestedInt64(obj.Object, "revision")
		return rev
	}
	return 0
}

// describePod adds "Status Reason", "Node", "Containers" and "Restart Count"
// as Argo CD does, which follows `kubectl get pods` for the reason: the
// phase, overridden by the Pod's reason, then by what its init containers and
// containers are waiting on or ended with.
func describePod(obj *unstructured.Unstructured, n *Node) {
	var pod corev1.Pod
	if runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &pod) != nil {
		return
	}
	images := map[string]bool{}
	for _, c := range slices.Concat(pod.Spec.InitContainers, pod.Spec.Containers) {
		images[c.Image] = true
	}
	for img := range images {
		n.Images = append(n.Images, img)
	}
	slices.Sort(n.Images)

	reason := string(pod.Status.Phase)
	if pod.Status.Reason != "" {
		reason = pod.Status.Reason
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Reason == corev1.PodReasonSchedulingGated {
			reason = corev1.PodReasonSchedulingGated
		}
	}

	total, ready, restarts := len(pod.Spec.Containers), 0, 0
	sidecars := map[string]bool{} // init containers that keep running (restartPolicy Always)
	for _, c := range pod.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			sidecars[c.Name] = true
			total++
		}
	}

	initializing := false
	for i, cs := range pod.Status.InitContainerStatuses {
		restarts += int(cs.RestartCount)
		switch t, w := cs.State.Terminated, cs.State.Waiting; {
		case t != nil && t.ExitCode == 0:
			continue
		case sidecars[cs.Name] && cs.Started != nil && *cs.Started:
			if cs.Ready {
				ready++
			}
			continue
		case t != nil:
			reason = "Init:" + exitReason(t)
		case w != nil && w.Reason != "" && w.Reason != "PodInitializing":
			reason = "Init:" + w.Reason
		default:
			reason = fmt.Sprintf("Init:%d/%d", i, len(pod.Spec.InitContainers))
		}
		initializing = true
		break
	}

	if !initializing || podInitialized(&pod) {
		running := false
		// Backwards, as kubectl: the first container's state has the last word.
		for i := len(pod.Status.ContainerStatuses) - 1; i >= 0; i-- {
			cs := pod.Status.ContainerStatuses[i]
			restarts += int(cs.RestartCount)
			switch t, w := cs.State.Terminated, cs.State.Waiting; {
			case w != nil && w.Reason != "":
				reason = w.Reason
			case t != nil:
				reason = exitReason(t)
			case cs.Ready && cs.State.Running != nil:
				running = true
				ready++
			}
		}
		if reason == "Completed" && running {
			reason = "Running"
		}
	}

	terminal := pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
	switch {
	case pod.DeletionTimestamp != nil && pod.Status.Reason == "NodeLost":
		reason = "Unknown"
	case pod.DeletionTimestamp != nil && !terminal:
		reason = "Terminating"
	}

	if reason != "" {
		n.Info = append(n.Info, InfoItem{Name: "Status Reason", Value: reason})
	}
	n.Info = append(n.Info,
		InfoItem{Name: "Node", Value: pod.Spec.NodeName},
		InfoItem{Name: "Containers", Value: fmt.Sprintf("%d/%d", ready, total)})
	if restarts > 0 {
		n.Info = append(n.Info, InfoItem{Name: "Restart Count", Value: strconv.Itoa(restarts)})
	}
	n.NetworkingInfo = &NetworkingInfo{Labels: pod.Labels}
}

// exitReason is a terminated container's reason, or its signal or exit code.
func exitReason(t *corev1.ContainerStateTerminated) string {
	switch {
	case t.Reason != "":
		return t.Reason
	case t.Signal != 0:
		return fmt.Sprintf("Signal:%d", t.Signal)
	}
	return fmt.Sprintf("ExitCode:%d", t.ExitCode)
}

func podInitialized(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodInitialized {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func describeService(obj *unstructured.Unstructured, n *Node) {
	selector, _, _ := unstructured.NestedStringMap(obj.Object, "spec", "selector")
	info := &NetworkingInfo{TargetLabels: selector}
	if t, _, _ := unstructured.NestedString(obj.Object, "spec", "type"); t == string(corev1.ServiceTypeLoadBalancer) {
		info.Ingress = lbIngress(obj)
	}
	n.NetworkingInfo = info
}

// describeIngress records the Services an Ingress routes to (default backend
// and rule backends, networking.k8s.io/v1 layout) and its published addresses.
func describeIngress(obj *unstructured.Unstructured, n *Node) {
	info := &NetworkingInfo{Ingress: lbIngress(obj)}
	addService := func(backend map[string]any) {
		name, _, _ := unstructured.NestedString(backend, "service", "name")
		if name == "" {
			name, _, _ = unstructured.NestedString(backend, "serviceName") // v1beta1
		}
		ref := ResourceRef{Kind: "Service", Namespace: obj.GetNamespace(), Name: name}
		if name != "" && !slices.Contains(info.TargetRefs, ref) {
			info.TargetRefs = append(info.TargetRefs, ref)
		}
	}
	for _, path := range [][]string{{"spec", "defaultBackend"}, {"spec", "backend"}} {
		if b, ok, _ := unstructured.NestedMap(obj.Object, path...); ok {
			addService(b)
		}
	}
	rules, _, _ := unstructured.NestedSlice(obj.Object, "spec", "rules")
	for _, r := range rules {
		rule, _ := r.(map[string]any)
		paths, _, _ := unstructured.NestedSlice(rule, "http", "paths")
		for _, p := range paths {
			path, _ := p.(map[string]any)
			if b, ok, _ := unstructured.NestedMap(path, "backend"); ok {
				addService(b)
			}
		}
	}
	n.NetworkingInfo = info
}

func lbIngress(obj *unstructured.Unstructured) []LoadBalancerIngress {
	items, _, _ := unstructured.NestedSlice(obj.Object, "status", "loadBalancer", "ingress")
	var out []LoadBalancerIngress
	for _, it := range items {
		m, _ := it.(map[string]any)
		ip, _ := m["ip"].(string)
		host, _ := m["hostname"].(string)
		if ip != "" || host != "" {
			out = append(out, LoadBalancerIngress{IP: ip, Hostname: host})
		}
	}
	return out
}
