package health

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// serviceHealth: only a LoadBalancer Service has something to wait for, its
// external address.
func serviceHealth(obj *unstructured.Unstructured) (*Status, error) {
	svc, err := typed[corev1.Service](obj)
	if err != nil {
		return nil, err
	}
	if svc.Spec.Type == corev1.ServiceTypeLoadBalancer && len(svc.Status.LoadBalancer.Ingress) == 0 {
		return &Status{Status: Progressing}, nil
	}
	return &Status{Status: Healthy}, nil
}

// ingressHealth: an Ingress is Progressing until its controller publishes an
// address. Read untyped, as Argo CD does, so every Ingress version works.
func ingressHealth(obj *unstructured.Unstructured) (*Status, error) {
	ingresses, _, _ := unstructured.NestedSlice(obj.Object, "status", "loadBalancer", "ingress")
	if len(ingresses) > 0 {
		return &Status{Status: Healthy}, nil
	}
	return &Status{Status: Progressing}, nil
}

// pvcHealth follows gitops-engine: Pending is Progressing. (Newer Argo CD calls a
// Pending claim without a provisioner annotation Healthy, "Waiting for consumer",
// for WaitForFirstConsumer storage classes; gantry keeps the older, simpler rule.)
func pvcHealth(obj *unstructured.Unstructured) (*Status, error) {
	pvc, err := typed[corev1.PersistentVolumeClaim](obj)
	if err != nil {
		return nil, err
	}
	switch pvc.Status.Phase {
	case corev1.ClaimBound:
		return &Status{Status: Healthy}, nil
	case corev1.ClaimPending:
		return &Status{Status: Progressing}, nil
	case corev1.ClaimLost:
		return &Status{Status: Degraded}, nil
	}
	return &Status{Status: Unknown}, nil
}
