package podsecurity

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	psapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
)

// Checker evaluates pods against a level with Kubernetes' own checks. It holds
// no state but the library's tables and may be shared.
type Checker struct {
	eval policy.Evaluator
}

// NewChecker builds the library's checks (the default ones, as kube-apiserver
// runs them).
func NewChecker() (*Checker, error) {
	e, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		return nil, fmt.Errorf("pod security checks: %w", err)
	}
	return &Checker{eval: e}, nil
}

// Violation says why a pod does not meet a level; nil means it does.
type Violation struct {
	Level Level
	// Checks names what failed, as kube-apiserver words it: "host
	// namespaces (hostNetwork=true), privileged (container "c" must not set
	// securityContext.privileged=true)".
	Checks string
}

func (v *Violation) Error() string {
	return fmt.Sprintf("violates PodSecurity %q: %s", string(v.Level)+":"+Version, v.Checks)
}

// Check evaluates pod at level (the standards' latest version) and returns the
// violation, or nil when the pod meets the level.
func (c *Checker) Check(level Level, pod *corev1.Pod) *Violation {
	lv := psapi.LevelVersion{Level: psapi.Level(level), Version: psapi.LatestVersion()}
	res := policy.AggregateCheckResults(c.eval.EvaluatePod(lv, &pod.ObjectMeta, &pod.Spec))
	if res.Allowed {
		return nil
	}
	return &Violation{Level: level, Checks: res.ForbiddenDetail()}
}
