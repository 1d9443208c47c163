package health

import (
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func jobHealth(obj *unstructured.Unstructured) (*Status, error) {
	job, err := typed[batchv1.Job](obj)
	if err != nil {
		return nil, err
	}
	// As Argo CD: a Complete, Failed or Suspended condition of any status ends
	// the "still running" state; the last one of each kind wins.
	var complete, failed, suspended bool
	var msg, failMsg string
	for _, c := range job.Status.Conditions {
		switch c.Type {
		case batchv1.JobFailed:
			complete, failed, failMsg = true, true, c.Message
		case batchv1.JobComplete:
			complete, msg = true, c.Message
		case batchv1.JobSuspended:
			complete, msg = true, c.Message
			suspended = c.Status == corev1.ConditionTrue
		}
	}
	switch {
	case !complete:
		return &Status{Status: Progressing, Message: msg}, nil
	case failed:
		return &Status{Status: Degraded, Message: failMsg}, nil
	case suspended:
		return &Status{Status: Suspended, Message: msg}, nil
	}
	return &Status{Status: Healthy, Message: msg}, nil
}

// cronJobHealth is Argo CD's Lua check for batch/CronJob (resource_customizations),
// messages included, typo and all ("succesfully"): users match on them.
func cronJobHealth(obj *unstructured.Unstructured) (*Status, error) {
	cj, err := typed[batchv1.CronJob](obj)
	if err != nil {
		return nil, err
	}
	if cj.Spec.Suspend != nil && *cj.Spec.Suspend {
		return &Status{Status: Suspended, Message: "CronJob is Suspended"}, nil
	}
	if obj.Object["status"] == nil {
		return &Status{Status: Progressing, Message: "Waiting for CronJob"}, nil
	}
	st := cj.Status
	switch {
	case st.LastScheduleTime == nil:
		// A CronJob that missed its schedule cannot be told from one not yet due.
		return &Status{Status: Healthy, Message: "CronJob has not been scheduled yet"}, nil
	case st.LastSuccessfulTime == nil:
		// First run still going, or it never succeeded: no way to tell.
		return &Status{Status: Healthy, Message: "The Cronjob never completed succesfully. It may not be healthy"}, nil
	case len(st.Active) > 0:
		return &Status{Status: Healthy, Message: "The job is running. Its last execution may not have been successful"}, nil
	case st.LastSuccessfulTime.Before(st.LastScheduleTime):
		return &Status{Status: Degraded, Message: "CronJob has not completed its last execution successfully"}, nil
	}
	return &Status{Status: Healthy, Message: "CronJob has completed its last execution successfully"}, nil
}
