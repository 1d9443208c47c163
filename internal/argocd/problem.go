package argocd

import (
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
)

// problem is something the user must fix: it becomes the reason and message of
// ConditionSynced rather than a retried error.
type problem struct {
	Reason  string
	Message string
}

func (p *problem) Error() string { return p.Reason + ": " + p.Message }

func problemf(reason, format string, args ...any) *problem {
	return &problem{Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// classify turns an API error from writing (or dry-running) what into a
// problem when it is one the user must fix (forbidden, invalid, unknown kind,
// unreachable); other errors (e.g. a resourceVersion conflict) are returned
// to be retried. Server-side apply conflicts are turned into problems where
// they happen (instance.apply), with what to do about them.
func classify(err error, what string, in *instance) error {
	if err == nil {
		return nil
	}
	var p *problem
	switch {
	case errors.As(err, &p):
		return p
	case apierrors.IsForbidden(err):
		return problemf(ReasonForbidden, "gantry may not write %s in cluster %s (%v): grant gantry's identity there the rights to manage Secrets, ConfigMaps and AppProjects in namespace %s",
			what, in.Cluster, apiMessage(err), in.Namespace)
	case apierrors.IsInvalid(err) || apierrors.IsBadRequest(err):
		return problemf(ReasonInvalidSpec, "%s was refused: %v: fix spec.argoCD", what, apiMessage(err))
	case meta.IsNoMatchError(err):
		return problemf(ReasonAppProjectCRDMissing, "cluster %s has no AppProject kind (argoproj.io/v1alpha1): install Argo CD's CRDs there, or turn spec.argoCD.project off", in.Cluster)
	case apierrors.IsUnauthorized(err) || apierrors.IsServiceUnavailable(err) || apierrors.IsTimeout(err) || isNetwork(err):
		return problemf(ReasonClusterUnreachable, "cluster %s does not answer for %s (%v): check that it runs and gantry can reach it", in.Cluster, what, err)
	}
	return fmt.Errorf("%s in cluster %s: %w", what, in.Cluster, err)
}

func apiMessage(err error) string {
	var s apierrors.APIStatus
	if errors.As(err, &s) {
		return s.Status().Message
	}
	return err.Error()
}

func isNoKind(err error) bool { return err != nil && meta.IsNoMatchError(err) }
