package appset

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/gitops/unknownfields"
)

// Argo CD's messages for a set whose every element was generated.
const (
	msgParametersGenerated = "Successfully generated parameters for all Applications"
	msgUpToDate            = "All applications have been generated successfully"
)

// ReasonWaitingForVirtualCluster (gantry's) says some Applications wait for
// their VirtualCluster to be Running before they are created.
const ReasonWaitingForVirtualCluster = "WaitingForVirtualCluster"

// setCondition sets one condition, moving its transition time only when its
// status changes.
func (r *Reconciler) setCondition(set *gitopsv1alpha1.ApplicationSet, t gitopsv1alpha1.ApplicationSetConditionType,
	status gitopsv1alpha1.ApplicationSetConditionStatus, reason, msg string) {
	now := metav1.NewTime(r.opts.Now())
	for i := range set.Status.Conditions {
		c := &set.Status.Conditions[i]
		if c.Type != t {
			continue
		}
		if c.Status != status || c.LastTransitionTime == nil {
			c.LastTransitionTime = &now
		}
		c.Status, c.Reason, c.Message = status, reason, msg
		return
	}
	set.Status.Conditions = append(set.Status.Conditions, gitopsv1alpha1.ApplicationSetCondition{
		Type: t, Status: status, Reason: reason, Message: msg, LastTransitionTime: &now})
}

// fail records bad input: nothing was generated, nothing changed.
// status.resources keeps what the last good reconcile recorded.
func (r *Reconciler) fail(set *gitopsv1alpha1.ApplicationSet, reason, msg string) {
	r.opts.Logger.Info("ApplicationSet not applied", "namespace", set.Namespace, "applicationset", set.Name, "reason", reason, "message", msg)
	r.setCondition(set, gitopsv1alpha1.ApplicationSetConditionErrorOccurred, gitopsv1alpha1.ApplicationSetConditionStatusTrue, reason, msg)
	r.setCondition(set, gitopsv1alpha1.ApplicationSetConditionParametersGenerated, gitopsv1alpha1.ApplicationSetConditionStatusFalse,
		gitopsv1alpha1.ApplicationSetReasonErrorOccurred, msg)
	r.setCondition(set, gitopsv1alpha1.ApplicationSetConditionResourcesUpToDate, gitopsv1alpha1.ApplicationSetConditionStatusFalse,
		gitopsv1alpha1.ApplicationSetReasonErrorOccurred, msg)
}

// record writes the conditions and resources of a reconcile that generated
// every element.
func (r *Reconciler) record(set *gitopsv1alpha1.ApplicationSet, s *state) {
	r.setCondition(set, gitopsv1alpha1.ApplicationSetConditionParametersGenerated, gitopsv1alpha1.ApplicationSetConditionStatusTrue,
		gitopsv1alpha1.ApplicationSetReasonParametersGenerated, msgParametersGenerated)
	switch {
	case len(s.errs) > 0:
		msg := strings.Join(s.errs, "; ")
		r.setCondition(set, gitopsv1alpha1.ApplicationSetConditionErrorOccurred, gitopsv1alpha1.ApplicationSetConditionStatusTrue, s.errReason, msg)
		r.setCondition(set, gitopsv1alpha1.ApplicationSetConditionResourcesUpToDate, gitopsv1alpha1.ApplicationSetConditionStatusFalse,
			gitopsv1alpha1.ApplicationSetReasonErrorOccurred, msg)
	case len(s.waiting) > 0:
		var names []string
		for _, w := range s.waiting {
			names = append(names, fmt.Sprintf("%s (VirtualCluster %s)", w.app.Name, w.vc))
		}
		r.setCondition(set, gitopsv1alpha1.ApplicationSetConditionErrorOccurred, gitopsv1alpha1.ApplicationSetConditionStatusFalse,
			gitopsv1alpha1.ApplicationSetReasonApplicationSetUpToDate, msgParametersGenerated)
		r.setCondition(set, gitopsv1alpha1.ApplicationSetConditionResourcesUpToDate, gitopsv1alpha1.ApplicationSetConditionStatusFalse,
			ReasonWaitingForVirtualCluster, "waiting for the VirtualCluster to be Running before creating Applications "+strings.Join(names, ", "))
	default:
		r.setCondition(set, gitopsv1alpha1.ApplicationSetConditionErrorOccurred, gitopsv1alpha1.ApplicationSetConditionStatusFalse,
			gitopsv1alpha1.ApplicationSetReasonApplicationSetUpToDate, msgParametersGenerated)
		r.setCondition(set, gitopsv1alpha1.ApplicationSetConditionResourcesUpToDate, gitopsv1alpha1.ApplicationSetConditionStatusTrue,
			gitopsv1alpha1.ApplicationSetReasonApplicationSetUpToDate, msgUpToDate)
	}
	set.Status.Resources = resources(s)
	set.Status.ResourcesCount = int64(len(set.Status.Resources))
}

var (
	appGV = gitopsv1alpha1.GroupVersion
	vcGV  = platformv1alpha1.GroupVersion
)

// resources lists the generated Applications (existing ones with their sync
// status and health, waiting ones as Missing), the set's other Applications
// still being deleted, and its VirtualClusters with their phase.
func resources(s *state) []gitopsv1alpha1.ResourceStatus {
	var out []gitopsv1alpha1.ResourceStatus
	listed := map[string]bool{}
	appStatus := func(app *gitopsv1alpha1.Application) gitopsv1alpha1.ResourceStatus {
		rs := gitopsv1alpha1.ResourceStatus{Group: appGV.Group, Version: appGV.Version, Kind: "Application",
			Namespace: app.Namespace, Name: app.Name, Status: app.Status.Sync.Status}
		h := gitopsv1alpha1.HealthStatus{Status: app.Status.Health.Status, Message: app.Status.Health.Message}
		if !app.DeletionTimestamp.IsZero() {
			h.Message = "being deleted"
		}
		if h.Status != "" || h.Message != "" {
			rs.Health = &h
		}
		return rs
	}
	for _, name := range s.generated {
		if app, ok := s.apps[name]; ok && !listed[name] {
			out = append(out, appStatus(app))
			listed[name] = true
		}
	}
	for _, w := range s.waiting {
		out = append(out, gitopsv1alpha1.ResourceStatus{Group: appGV.Group, Version: appGV.Version, Kind: "Application",
			Namespace: w.app.Namespace, Name: w.app.Name,
			Health: &gitopsv1alpha1.HealthStatus{Status: gitopsv1alpha1.HealthMissing,
				Message: fmt.Sprintf("waiting for VirtualCluster %s to be Running", w.vc)}})
	}
	var rest []string
	for name := range s.apps {
		if !listed[name] {
			rest = append(rest, name)
		}
	}
	sort.Strings(rest)
	for _, name := range rest {
		out = append(out, appStatus(s.apps[name]))
	}
	var vcNames []string
	for name := range s.vcs {
		vcNames = append(vcNames, name)
	}
	sort.Strings(vcNames)
	for _, name := range vcNames {
		vc := s.vcs[name]
		phase := vc.Status.Phase
		if !vc.DeletionTimestamp.IsZero() {
			phase = platformv1alpha1.PhaseDeleting
		}
		out = append(out, gitopsv1alpha1.ResourceStatus{Group: vcGV.Group, Version: vcGV.Version, Kind: "VirtualCluster",
			Namespace: vc.Namespace, Name: vc.Name,
			Health: &gitopsv1alpha1.HealthStatus{Status: vcHealth(phase), Message: "phase " + phaseOrPending(phase)}})
	}
	return out
}

func phaseOrPending(p platformv1alpha1.VirtualClusterPhase) string {
	if p == "" {
		return string(platformv1alpha1.PhasePending)
	}
	return string(p)
}

// vcHealth maps a VirtualCluster's phase onto Argo CD's health codes.
func vcHealth(p platformv1alpha1.VirtualClusterPhase) gitopsv1alpha1.HealthStatusCode {
	switch p {
	case platformv1alpha1.PhaseRunning:
		return gitopsv1alpha1.HealthHealthy
	case platformv1alpha1.PhaseSleeping:
		return gitopsv1alpha1.HealthSuspended
	case platformv1alpha1.PhaseFailed:
		return gitopsv1alpha1.HealthDegraded
	default:
		return gitopsv1alpha1.HealthProgressing
	}
}

// unsupported lists the Argo CD fields of the stored set (kept by the CRD's
// PreserveUnknownFields) that gantry does not implement: strategy,
// templatePatch, a generator's selector or template, scmProvider, ...
func (r *Reconciler) unsupported(ctx context.Context, set *gitopsv1alpha1.ApplicationSet) ([]string, error) {
	raw := &unstructured.Unstructured{}
	raw.SetGroupVersionKind(gitopsv1alpha1.GroupVersion.WithKind("ApplicationSet"))
	if err := r.opts.Client.Get(ctx, client.ObjectKeyFromObject(set), raw); err != nil {
		return nil, client.IgnoreNotFound(err)
	}
	return unknownfields.List("spec", raw.Object["spec"], reflect.TypeOf(gitopsv1alpha1.ApplicationSetSpec{})), nil
}
