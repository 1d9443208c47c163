package health

import (
	"encoding/json"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// condition is the part of a status condition the rules below read; every API
// version spells these four fields the same, so one untyped reader serves them all.
type condition struct {
	Type    string `json:"type"`
	Status  string `json:"status"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

func conditionsOf(obj *unstructured.Unstructured) ([]condition, error) {
	raw, found, err := unstructured.NestedSlice(obj.Object, "status", "conditions")
	if err != nil || !found {
		return nil, err
	}
	var out struct {
		Conditions []condition `json:"conditions"`
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(map[string]any{"conditions": raw}, &out); err != nil {
		return nil, fmt.Errorf("read status.conditions: %w", err)
	}
	return out.Conditions, nil
}

// hpaConditionsAnnotation carries the conditions of an autoscaling/v1 HPA, whose
// status has no conditions field.
const hpaConditionsAnnotation = "autoscaling.alpha.kubernetes.io/conditions"

func hpaHealth(obj *unstructured.Unstructured) (*Status, error) {
	waiting := &Status{Status: Progressing, Message: "Waiting to Autoscale"}
	var conds []condition
	if obj.GroupVersionKind().Version == "v1" {
		ann, ok := obj.GetAnnotations()[hpaConditionsAnnotation]
		if !ok {
			return waiting, nil
		}
		if err := json.Unmarshal([]byte(ann), &conds); err != nil {
			return nil, fmt.Errorf("failed to convert conditions annotation to typed: %w", err)
		}
	} else {
		var err error
		if conds, err = conditionsOf(obj); err != nil {
			return nil, err
		}
	}
	// Argo CD's order: the first condition that is either a known failure or a
	// healthy one decides.
	for _, c := range conds {
		if hpaDegraded(c) {
			return &Status{Status: Degraded, Message: c.Message}, nil
		}
		if (c.Type == "AbleToScale" || c.Type == "ScalingLimited") && c.Status == "True" {
			return &Status{Status: Healthy, Message: c.Message}, nil
		}
	}
	return waiting, nil
}

func hpaDegraded(c condition) bool {
	switch c.Type {
	case "AbleToScale":
		return c.Reason == "FailedGetScale" || c.Reason == "FailedUpdateScale"
	case "ScalingActive":
		return c.Reason == "FailedGetResourceMetric" || c.Reason == "InvalidSelector"
	}
	return false
}

// apiServiceHealth: an aggregated API is healthy once its Available condition is
// True. Read untyped: the kube-aggregator types are not worth a module.
func apiServiceHealth(obj *unstructured.Unstructured) (*Status, error) {
	conds, err := conditionsOf(obj)
	if err != nil {
		return nil, err
	}
	for _, c := range conds {
		if c.Type != "Available" {
			continue
		}
		msg := fmt.Sprintf("%s: %s", c.Reason, c.Message)
		if c.Status == "True" {
			return &Status{Status: Healthy, Message: msg}, nil
		}
		return &Status{Status: Progressing, Message: msg}, nil
	}
	return &Status{Status: Progressing, Message: "Waiting to be processed"}, nil
}

// applicationHealth is Argo CD's Lua check for argoproj.io Application (an app of
// apps): the child's own health, or Progressing until it has one.
func applicationHealth(obj *unstructured.Unstructured) (*Status, error) {
	code, _, _ := unstructured.NestedString(obj.Object, "status", "health", "status")
	if code == "" {
		return &Status{Status: Progressing, Message: "Waiting for application to be reconciled"}, nil
	}
	msg, _, _ := unstructured.NestedString(obj.Object, "status", "health", "message")
	return &Status{Status: Code(code), Message: msg}, nil
}

// childApplicationHealth: gantry's Application, the child of an app of apps,
// has no health as a resource of its parent, as Argo CD v3.3 assesses none for
// an argoproj.io Application (removed in 1.8, argoproj/argo-cd#3781): a
// child's workloads do not make its parent Degraded, and sync waves do not
// wait for children. Each child reports its own health.
func childApplicationHealth(*unstructured.Unstructured) (*Status, error) { return nil, nil }

// applicationSetHealth is Argo CD's Lua check for argoproj.io ApplicationSet,
// whose conditions gantry's ApplicationSet shares: an error or applications
// not up to date are Degraded, a progressive rollout Progressing.
func applicationSetHealth(obj *unstructured.Unstructured) (*Status, error) {
	conds, _, err := unstructured.NestedSlice(obj.Object, "status", "conditions")
	if err != nil {
		return nil, err
	}
	find := func(typ, status string) (string, bool) {
		for _, c := range conds {
			m, _ := c.(map[string]any)
			if m["type"] == typ && m["status"] == status {
				msg, _ := m["message"].(string)
				return msg, true
			}
		}
		return "", false
	}
	for _, rule := range []struct {
		typ, status string
		code        Code
	}{
		{"ErrorOccurred", "True", Degraded},
		{"ResourcesUpToDate", "False", Degraded},
		{"RolloutProgressing", "True", Progressing},
		{"ResourcesUpToDate", "True", Healthy},
	} {
		if msg, ok := find(rule.typ, rule.status); ok {
			return &Status{Status: rule.code, Message: msg}, nil
		}
	}
	return &Status{Status: Progressing, Message: "Waiting for the status to be reported"}, nil
}

// workflowHealth: an Argo Workflow by its phase.
func workflowHealth(obj *unstructured.Unstructured) (*Status, error) {
	phase, _, _ := unstructured.NestedString(obj.Object, "status", "phase")
	msg, _, _ := unstructured.NestedString(obj.Object, "status", "message")
	switch phase {
	case "", "Pending", "Running":
		return &Status{Status: Progressing, Message: msg}, nil
	case "Succeeded":
		return &Status{Status: Healthy, Message: msg}, nil
	case "Failed", "Error":
		return &Status{Status: Degraded, Message: msg}, nil
	}
	return &Status{Status: Unknown, Message: msg}, nil
}
