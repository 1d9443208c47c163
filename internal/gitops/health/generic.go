package health

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes/scheme"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

// assessGeneric judges a kind without a built-in rule.
//
// Built-in kinds without a rule (ConfigMap, Secret, Namespace, RBAC, CRDs,
// EndpointSlices...) have no health in Argo CD, and none here: their status, if
// any, says nothing about whether the application works.
//
// Other kinds (custom resources, aggregated APIs) go to kstatus, which reads the
// conventions most controllers follow: status.observedGeneration, and the
// Ready, Reconciling and Stalled conditions. kstatus calls a resource it knows
// nothing about Current; Argo CD would show no health for it, so a custom
// resource without status, or whose status carries no conditions and is not
// behind its generation, gets nil rather than a Healthy nobody measured.
func assessGeneric(obj *unstructured.Unstructured) (*Status, error) {
	if isBuiltIn(obj.GroupVersionKind().Group) {
		return nil, nil
	}
	status, _ := obj.Object["status"].(map[string]any)
	if len(status) == 0 {
		return nil, nil
	}
	res, err := kstatus.Compute(obj)
	if err != nil {
		return nil, err
	}
	switch res.Status {
	case kstatus.CurrentStatus:
		if conds, _ := status["conditions"].([]any); len(conds) == 0 {
			return nil, nil
		}
		return &Status{Status: Healthy, Message: res.Message}, nil
	case kstatus.InProgressStatus, kstatus.TerminatingStatus:
		return &Status{Status: Progressing, Message: res.Message}, nil
	case kstatus.FailedStatus:
		return &Status{Status: Degraded, Message: res.Message}, nil
	case kstatus.NotFoundStatus:
		return &Status{Status: Missing, Message: res.Message}, nil
	}
	return &Status{Status: Unknown, Message: res.Message}, nil
}

// isBuiltIn reports whether group is served by Kubernetes itself: the groups of
// client-go's scheme (read only), plus the two that live in their own modules.
func isBuiltIn(group string) bool {
	switch group {
	case "apiextensions.k8s.io", "apiregistration.k8s.io":
		return true
	}
	return scheme.Scheme.IsGroupRegistered(group)
}
