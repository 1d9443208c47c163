package application

import (
	"context"
	"fmt"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
)

// What the tests put in Git, read from the cluster and read from an app's
// status, as a user would with kubectl.

// configMapYAML is a ConfigMap manifest named name holding {v: value}, with
// annotations given as "key: value" pairs.
func configMapYAML(name, value string, annotations ...string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s, annotations: {%s}}\ndata: {v: %q}\n",
		name, strings.Join(annotations, ", "), value)
}

// jobYAML is a Job manifest (name, or generateName when it ends in "-"),
// with annotations given as "key: value" pairs. Nothing runs its pods: the
// test ends it with finishJob.
func jobYAML(name string, annotations ...string) string {
	field := "name"
	if strings.HasSuffix(name, "-") {
		field = "generateName"
	}
	return fmt.Sprintf(`apiVersion: batch/v1
kind: Job
metadata: {%s: %s, annotations: {%s}}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: main, image: busybox}]
`, field, name, strings.Join(annotations, ", "))
}

// configMapValue returns the ConfigMap's value v, or "" when it does not exist.
func (e *engine) configMapValue(ns, name string) string {
	e.t.Helper()
	cm, err := e.env.Kube.CoreV1().ConfigMaps(ns).Get(context.Background(), name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return ""
	} else if err != nil {
		e.t.Fatal(err)
	}
	return cm.Data["v"]
}

// jobs lists the Jobs in ns whose name starts with prefix.
func (e *engine) jobs(ns, prefix string) []batchv1.Job {
	e.t.Helper()
	list, err := e.env.Kube.BatchV1().Jobs(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []batchv1.Job
	for _, j := range list.Items {
		if strings.HasPrefix(j.Name, prefix) {
			out = append(out, j)
		}
	}
	return out
}

// waitJob waits for one Job named prefix… in ns and returns its name.
func (e *engine) waitJob(ns, prefix string) string {
	e.t.Helper()
	var name string
	eventually(e.t, "Job "+prefix+"… to be created", func() bool {
		if js := e.jobs(ns, prefix); len(js) == 1 {
			name = js[0].Name
		}
		return name != ""
	})
	return name
}

// finishJob ends a Job as its controller would once its pod ended: Complete
// when succeeded, Failed otherwise.
func (e *engine) finishJob(ns, name string, succeeded bool) {
	e.t.Helper()
	ctx := context.Background()
	job, err := e.env.Kube.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	now := metav1.Now()
	start := metav1.NewTime(now.Add(-time.Second))
	cond := func(typ batchv1.JobConditionType, reason string) batchv1.JobCondition {
		return batchv1.JobCondition{Type: typ, Status: corev1.ConditionTrue, Reason: reason, Message: reason,
			LastProbeTime: now, LastTransitionTime: now}
	}
	job.Status = batchv1.JobStatus{StartTime: &start}
	if succeeded {
		job.Status.Succeeded, job.Status.CompletionTime = 1, &now
		job.Status.Conditions = []batchv1.JobCondition{cond(batchv1.JobSuccessCriteriaMet, "CompletionsReached"), cond(batchv1.JobComplete, "CompletionsReached")}
	} else {
		job.Status.Failed = 1
		job.Status.Conditions = []batchv1.JobCondition{cond(batchv1.JobFailureTarget, "BackoffLimitExceeded"), cond(batchv1.JobFailed, "BackoffLimitExceeded")}
	}
	if _, err := e.env.Kube.BatchV1().Jobs(ns).UpdateStatus(ctx, job, metav1.UpdateOptions{}); err != nil {
		e.t.Fatalf("finishing Job %s/%s: %v", ns, name, err)
	}
}

// resource returns the app's status entry for kind/name.
func resource(app *gitopsv1alpha1.Application, kind, name string) *gitopsv1alpha1.ResourceStatus {
	for i, r := range app.Status.Resources {
		if r.Kind == kind && r.Name == name {
			return &app.Status.Resources[i]
		}
	}
	return nil
}

func healthOf(r *gitopsv1alpha1.ResourceStatus) gitopsv1alpha1.HealthStatusCode {
	if r == nil || r.Health == nil {
		return ""
	}
	return r.Health.Status
}

// conditionOf returns the message of the app's condition typ, or "".
func conditionOf(app *gitopsv1alpha1.Application, typ string) string {
	for _, c := range app.Status.Conditions {
		if c.Type == typ {
			return c.Message
		}
	}
	return ""
}

// resultFor returns the last sync's result for kind/name.
func resultFor(app *gitopsv1alpha1.Application, kind, name string) *gitopsv1alpha1.ResourceResult {
	st := app.Status.OperationState
	if st == nil || st.SyncResult == nil {
		return nil
	}
	for i, r := range st.SyncResult.Resources {
		if r.Kind == kind && r.Name == name {
			return &st.SyncResult.Resources[i]
		}
	}
	return nil
}

// synced reports whether the app's last comparison found it Synced.
func synced(a *gitopsv1alpha1.Application) bool {
	return a.Status.Sync.Status == gitopsv1alpha1.SyncStatusSynced
}

// finished reports whether the app's last operation ended.
func finished(a *gitopsv1alpha1.Application) bool {
	st := a.Status.OperationState
	return a.Operation == nil && st != nil && st.Phase != gitopsv1alpha1.OperationRunning
}
