// Package actions holds the resource actions gantry offers on an app's
// resources, Argo CD's built-in ones for Kubernetes kinds: restart a
// Deployment, StatefulSet or DaemonSet, pause and resume a Deployment, and
// create a Job from a CronJob. An action is a change an operator makes by
// hand, outside Git; the package computes it and knows nothing of the API,
// RBAC or where the object lives (the caller reads and writes it).
package actions

import (
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Action is one action on one object, as Argo CD lists them.
type Action struct {
	Name     string `json:"name"`
	Disabled bool   `json:"disabled"`
}

// Change is what running an action does: a merge patch of the object, or a
// new object to create (a Job from a CronJob).
type Change struct {
	MergePatch map[string]any
	Create     *unstructured.Unstructured
}

// RestartedAtAnnotation is the pod-template annotation kubectl rollout
// restart sets; Argo CD's restart action sets the same.
const RestartedAtAnnotation = "kubectl.kubernetes.io/restartedAt"

var (
	deployment  = schema.GroupKind{Group: "apps", Kind: "Deployment"}
	statefulSet = schema.GroupKind{Group: "apps", Kind: "StatefulSet"}
	daemonSet   = schema.GroupKind{Group: "apps", Kind: "DaemonSet"}
	cronJob     = schema.GroupKind{Group: "batch", Kind: "CronJob"}
)

// List returns the actions of obj's kind, with those that would change
// nothing disabled (resume of a running Deployment); nil for other kinds.
func List(obj *unstructured.Unstructured) []Action {
	switch obj.GroupVersionKind().GroupKind() {
	case deployment:
		paused, _, _ := unstructured.NestedBool(obj.Object, "spec", "paused")
		return []Action{{Name: "pause", Disabled: paused}, {Name: "restart", Disabled: paused}, {Name: "resume", Disabled: !paused}}
	case statefulSet, daemonSet:
		return []Action{{Name: "restart"}}
	case cronJob:
		return []Action{{Name: "create-job"}}
	}
	return nil
}

// Run computes the change the named action makes to obj, at now.
func Run(obj *unstructured.Unstructured, name string, now time.Time) (Change, error) {
	var found *Action
	for _, a := range List(obj) {
		if a.Name == name {
			found = &a
			break
		}
	}
	kind := obj.GroupVersionKind().GroupKind()
	switch {
	case found == nil:
		return Change{}, fmt.Errorf("%s has no action %q (it has %v)", kind, name, names(List(obj)))
	case found.Disabled:
		return Change{}, fmt.Errorf("action %q is disabled for %s %s in its current state", name, kind.Kind, obj.GetName())
	}
	switch name {
	case "restart":
		return Change{MergePatch: map[string]any{"spec": map[string]any{"template": map[string]any{"metadata": map[string]any{
			"annotations": map[string]any{RestartedAtAnnotation: now.UTC().Format(time.RFC3339)}}}}}}, nil
	case "pause", "resume":
		return Change{MergePatch: map[string]any{"spec": map[string]any{"paused": name == "pause"}}}, nil
	case "create-job":
		return createJob(obj, now)
	}
	return Change{}, fmt.Errorf("action %q is listed but not implemented", name)
}

// createJob makes a Job from a CronJob's jobTemplate, as kubectl create job
// --from=cronjob/NAME does: named after the CronJob and the time (seconds),
// owned by it, annotated cronjob.kubernetes.io/instantiate: manual.
func createJob(cj *unstructured.Unstructured, now time.Time) (Change, error) {
	tmpl, found, err := unstructured.NestedMap(cj.Object, "spec", "jobTemplate")
	if err != nil || !found {
		return Change{}, fmt.Errorf("CronJob %s has no spec.jobTemplate", cj.GetName())
	}
	job := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "batch/v1", "kind": "Job"}}
	if md, ok := tmpl["metadata"].(map[string]any); ok {
		job.Object["metadata"] = md
	}
	if spec, ok := tmpl["spec"].(map[string]any); ok {
		job.Object["spec"] = spec
	}
	// A Job's name becomes a label value (job-name): at most 63 characters.
	base, suffix := cj.GetName(), fmt.Sprintf("-%d", now.Unix())
	if len(base)+len(suffix) > 63 {
		base = base[:63-len(suffix)]
	}
	job.SetName(base + suffix)
	job.SetNamespace(cj.GetNamespace())
	ann := job.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann["cronjob.kubernetes.io/instantiate"] = "manual"
	job.SetAnnotations(ann)
	controller := true
	job.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: cj.GetAPIVersion(), Kind: cj.GetKind(), Name: cj.GetName(), UID: cj.GetUID(), Controller: &controller}})
	return Change{Create: job}, nil
}

func names(list []Action) []string {
	out := make([]string, len(list))
	for i, a := range list {
		out[i] = a.Name
	}
	return out
}
