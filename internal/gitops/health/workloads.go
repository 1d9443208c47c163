package health

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// The workload rules are kubectl's rollout-status checks, as Argo CD borrowed
// them; the messages are Argo CD's, word for word.

func deploymentHealth(obj *unstructured.Unstructured) (*Status, error) {
	d, err := typed[appsv1.Deployment](obj)
	if err != nil {
		return nil, err
	}
	if d.Spec.Paused {
		return &Status{Status: Suspended, Message: "Deployment is paused"}, nil
	}
	if d.Generation > d.Status.ObservedGeneration {
		return &Status{Status: Progressing,
			Message: "Waiting for rollout to finish: observed deployment generation less than desired generation"}, nil
	}
	st := d.Status
	switch {
	case progressDeadlineExceeded(st.Conditions):
		return &Status{Status: Degraded, Message: fmt.Sprintf("Deployment %q exceeded its progress deadline", d.Name)}, nil
	case d.Spec.Replicas != nil && st.UpdatedReplicas < *d.Spec.Replicas:
		return &Status{Status: Progressing, Message: fmt.Sprintf(
			"Waiting for rollout to finish: %d out of %d new replicas have been updated...", st.UpdatedReplicas, *d.Spec.Replicas)}, nil
	case st.Replicas > st.UpdatedReplicas:
		return &Status{Status: Progressing, Message: fmt.Sprintf(
			"Waiting for rollout to finish: %d old replicas are pending termination...", st.Replicas-st.UpdatedReplicas)}, nil
	case st.AvailableReplicas < st.UpdatedReplicas:
		return &Status{Status: Progressing, Message: fmt.Sprintf(
			"Waiting for rollout to finish: %d of %d updated replicas are available...", st.AvailableReplicas, st.UpdatedReplicas)}, nil
	}
	return &Status{Status: Healthy}, nil
}

func progressDeadlineExceeded(conds []appsv1.DeploymentCondition) bool {
	for _, c := range conds {
		if c.Type == appsv1.DeploymentProgressing {
			return c.Reason == "ProgressDeadlineExceeded"
		}
	}
	return false
}

func statefulSetHealth(obj *unstructured.Unstructured) (*Status, error) {
	sts, err := typed[appsv1.StatefulSet](obj)
	if err != nil {
		return nil, err
	}
	st, spec := sts.Status, sts.Spec
	if st.ObservedGeneration == 0 || sts.Generation > st.ObservedGeneration {
		return &Status{Status: Progressing, Message: "Waiting for statefulset spec update to be observed..."}, nil
	}
	if spec.Replicas != nil && st.ReadyReplicas < *spec.Replicas {
		return &Status{Status: Progressing, Message: fmt.Sprintf("Waiting for %d pods to be ready...", *spec.Replicas-st.ReadyReplicas)}, nil
	}
	if spec.UpdateStrategy.Type == appsv1.RollingUpdateStatefulSetStrategyType && spec.UpdateStrategy.RollingUpdate != nil {
		if p := spec.UpdateStrategy.RollingUpdate.Partition; spec.Replicas != nil && p != nil && st.UpdatedReplicas < *spec.Replicas-*p {
			return &Status{Status: Progressing, Message: fmt.Sprintf(
				"Waiting for partitioned roll out to finish: %d out of %d new pods have been updated...", st.UpdatedReplicas, *spec.Replicas-*p)}, nil
		}
		return &Status{Status: Healthy, Message: fmt.Sprintf("partitioned roll out complete: %d new pods have been updated...", st.UpdatedReplicas)}, nil
	}
	if spec.UpdateStrategy.Type == appsv1.OnDeleteStatefulSetStrategyType {
		return &Status{Status: Healthy, Message: fmt.Sprintf("statefulset has %d ready pods", st.ReadyReplicas)}, nil
	}
	if st.UpdateRevision != st.CurrentRevision {
		return &Status{Status: Progressing, Message: fmt.Sprintf(
			"waiting for statefulset rolling update to complete %d pods at revision %s...", st.UpdatedReplicas, st.UpdateRevision)}, nil
	}
	return &Status{Status: Healthy, Message: fmt.Sprintf(
		"statefulset rolling update complete %d pods at revision %s...", st.CurrentReplicas, st.CurrentRevision)}, nil
}

func daemonSetHealth(obj *unstructured.Unstructured) (*Status, error) {
	ds, err := typed[appsv1.DaemonSet](obj)
	if err != nil {
		return nil, err
	}
	st := ds.Status
	if ds.Generation > st.ObservedGeneration {
		return &Status{Status: Progressing,
			Message: "Waiting for rollout to finish: observed daemon set generation less than desired generation"}, nil
	}
	if ds.Spec.UpdateStrategy.Type == appsv1.OnDeleteDaemonSetStrategyType {
		return &Status{Status: Healthy, Message: fmt.Sprintf(
			"daemon set %d out of %d new pods have been updated", st.UpdatedNumberScheduled, st.DesiredNumberScheduled)}, nil
	}
	if st.UpdatedNumberScheduled < st.DesiredNumberScheduled {
		return &Status{Status: Progressing, Message: fmt.Sprintf(
			"Waiting for daemon set %q rollout to finish: %d out of %d new pods have been updated...", ds.Name, st.UpdatedNumberScheduled, st.DesiredNumberScheduled)}, nil
	}
	if st.NumberAvailable < st.DesiredNumberScheduled {
		return &Status{Status: Progressing, Message: fmt.Sprintf(
			"Waiting for daemon set %q rollout to finish: %d of %d updated pods are available...", ds.Name, st.NumberAvailable, st.DesiredNumberScheduled)}, nil
	}
	return &Status{Status: Healthy}, nil
}

func replicaSetHealth(obj *unstructured.Unstructured) (*Status, error) {
	rs, err := typed[appsv1.ReplicaSet](obj)
	if err != nil {
		return nil, err
	}
	if rs.Generation > rs.Status.ObservedGeneration {
		return &Status{Status: Progressing,
			Message: "Waiting for rollout to finish: observed replica set generation less than desired generation"}, nil
	}
	for _, c := range rs.Status.Conditions {
		if c.Type == appsv1.ReplicaSetReplicaFailure && c.Status == corev1.ConditionTrue {
			return &Status{Status: Degraded, Message: c.Message}, nil
		}
	}
	if rs.Spec.Replicas != nil && rs.Status.AvailableReplicas < *rs.Spec.Replicas {
		return &Status{Status: Progressing, Message: fmt.Sprintf(
			"Waiting for rollout to finish: %d out of %d new replicas are available...", rs.Status.AvailableReplicas, *rs.Spec.Replicas)}, nil
	}
	return &Status{Status: Healthy}, nil
}
