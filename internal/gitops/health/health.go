package health

import (
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Code is a health status code; the values and their spelling are Argo CD's.
type Code string

const (
	// Healthy: the resource is fully healthy.
	Healthy Code = "Healthy"
	// Progressing: not healthy yet, but still able to become healthy.
	Progressing Code = "Progressing"
	// Degraded: failed, or could not become healthy in time.
	Degraded Code = "Degraded"
	// Suspended: paused or suspended on purpose (a paused Deployment, a suspended CronJob).
	Suspended Code = "Suspended"
	// Missing: the resource is not in the cluster.
	Missing Code = "Missing"
	// Unknown: the assessment failed.
	Unknown Code = "Unknown"
)

// Status is the result of an assessment. Its JSON is Argo CD's HealthStatus, so the
// API can return it unchanged.
type Status struct {
	Status  Code   `json:"status,omitempty"`
	Message string `json:"message,omitempty"`
}

// rank places a code in Argo CD's order, from most to least healthy: Healthy,
// Suspended, Progressing, Missing, Degraded, Unknown. Argo CD gives a code it does
// not know the rank of Healthy; so does rank, so IsWorse answers as Argo CD would
// even for codes written by hand (an Application's status.health, say).
func rank(c Code) int {
	switch c {
	case Suspended:
		return 1
	case Progressing:
		return 2
	case Missing:
		return 3
	case Degraded:
		return 4
	case Unknown:
		return 5
	default: // Healthy and anything unrecognised
		return 0
	}
}

// IsWorse reports whether next is a worse condition than current.
func IsWorse(current, next Code) bool {
	return rank(next) > rank(current)
}

// hookFinalizer keeps Argo CD hook resources alive until their result is read;
// such an object is being deleted by design, so Argo CD does not call it
// "Pending deletion" and neither do we.
const hookFinalizer = "argocd.argoproj.io/hook-finalizer"

// Assess returns the health of obj, or nil if obj has no health (a ConfigMap, a
// Role, a custom resource that reports nothing). A nil obj is Missing.
//
// When a rule cannot read the object (a field of the wrong type), Assess returns
// both an Unknown status carrying the error text and the error, as Argo CD does:
// the caller can show the status and log the error.
func Assess(obj *unstructured.Unstructured) (*Status, error) {
	if obj == nil {
		return &Status{Status: Missing}, nil
	}
	if obj.GetDeletionTimestamp() != nil && !slices.Contains(obj.GetFinalizers(), hookFinalizer) {
		return &Status{Status: Progressing, Message: "Pending deletion"}, nil
	}
	check := ruleFor(obj.GroupVersionKind().GroupKind())
	if check == nil {
		check = assessGeneric
	}
	st, err := check(obj)
	if err != nil {
		return &Status{Status: Unknown, Message: err.Error()},
			fmt.Errorf("assess health of %s %s/%s: %w", obj.GetKind(), obj.GetNamespace(), obj.GetName(), err)
	}
	return st, nil
}

// rule assesses one kind. It may return nil (no health).
type rule func(*unstructured.Unstructured) (*Status, error)

// ruleFor returns the built-in rule for a kind, or nil. Any version of a group is
// accepted: the rules read fields that are the same in every served version.
func ruleFor(gk schema.GroupKind) rule {
	switch gk.Group {
	case "":
		switch gk.Kind {
		case "Pod":
			return podHealth
		case "Service":
			return serviceHealth
		case "PersistentVolumeClaim":
			return pvcHealth
		}
	case "apps":
		switch gk.Kind {
		case "Deployment":
			return deploymentHealth
		case "StatefulSet":
			return statefulSetHealth
		case "DaemonSet":
			return daemonSetHealth
		case "ReplicaSet":
			return replicaSetHealth
		}
	case "batch":
		switch gk.Kind {
		case "Job":
			return jobHealth
		case "CronJob":
			return cronJobHealth
		}
	case "networking.k8s.io", "extensions":
		if gk.Kind == "Ingress" {
			return ingressHealth
		}
	case "autoscaling":
		if gk.Kind == "HorizontalPodAutoscaler" {
			return hpaHealth
		}
	case "apiregistration.k8s.io":
		if gk.Kind == "APIService" {
			return apiServiceHealth
		}
	case "argoproj.io":
		switch gk.Kind {
		case "Application":
			return applicationHealth
		case "ApplicationSet":
			return applicationSetHealth
		case "Workflow":
			return workflowHealth
		}
	case "gitops.gantry.dev":
		switch gk.Kind {
		case "Application":
			return childApplicationHealth
		case "ApplicationSet":
			return applicationSetHealth
		}
	}
	return nil
}

// Aggregate returns an application's health from its managed resources' health,
// the way Argo CD's controller does: the worst status, starting from Healthy.
//
// statuses holds one entry per managed resource, hooks already left out by the
// caller: nil for a live resource without health (it counts as present but does
// not change the result), Missing for a resource absent from the cluster. Missing
// resources do not make the application worse (being OutOfSync already says
// so), unless nothing at all is live: then the application is Missing.
//
// Not done here, left to the caller as in Argo CD's controller: the
// argocd.argoproj.io/ignore-healthcheck annotation, and skipping an Application
// that manages itself.
func Aggregate(statuses []*Status) Code {
	app := Healthy
	live := false
	for _, st := range statuses {
		if st == nil {
			live = true
			continue
		}
		if st.Status == Missing {
			continue
		}
		live = true
		if IsWorse(app, st.Status) {
			app = st.Status
		}
	}
	if len(statuses) > 0 && !live {
		return Missing
	}
	return app
}

// typed converts obj to a typed API object, so rules read fields rather than paths.
func typed[T any](obj *unstructured.Unstructured) (*T, error) {
	out := new(T)
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, out); err != nil {
		return nil, fmt.Errorf("convert unstructured %s to typed: %w", obj.GetKind(), err)
	}
	return out, nil
}
