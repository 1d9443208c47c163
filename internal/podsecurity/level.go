package podsecurity

import (
	"fmt"

	psapi "k8s.io/pod-security-admission/api"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
)

// Level is a Pod Security Standard: privileged, baseline or restricted.
type Level = platformv1alpha1.PodSecurityLevel

// Default is the level of a virtual cluster when neither it nor its project
// sets one.
const Default = platformv1alpha1.PodSecurityBaseline

// Effective is the level virtual cluster vc enforces: its own
// spec.podSecurity, else its project's (p may be nil: no project), else
// Default. Who may set a looser level than the project's is the REST API's
// concern; here the spec is taken as written. A value that names no level
// (the CRDs' enum keeps them out) counts as unset, so that the result is
// always a level that kube-apiserver and the syncer can enforce.
func Effective(vc *platformv1alpha1.VirtualCluster, p *platformv1alpha1.Project) Level {
	if vc != nil && Valid(vc.Spec.PodSecurity) {
		return vc.Spec.PodSecurity
	}
	return ProjectLevel(p)
}

// ProjectLevel is the level of a project's virtual clusters that set none,
// and of its own namespace on the host.
func ProjectLevel(p *platformv1alpha1.Project) Level {
	if p != nil && Valid(p.Spec.PodSecurity) {
		return p.Spec.PodSecurity
	}
	return Default
}

// Valid reports whether l names a level.
func Valid(l Level) bool {
	switch l {
	case platformv1alpha1.PodSecurityPrivileged, platformv1alpha1.PodSecurityBaseline, platformv1alpha1.PodSecurityRestricted:
		return true
	}
	return false
}

// Looser reports whether level a allows more than level b (privileged <
// baseline < restricted); both must be Valid.
func Looser(a, b Level) bool {
	return psapi.CompareLevels(psapi.Level(a), psapi.Level(b)) < 0
}

// Parse checks a level given by a user, with an error that names the choices.
func Parse(s string) (Level, error) {
	l := Level(s)
	if !Valid(l) {
		return "", fmt.Errorf("podSecurity %q is not a Pod Security Standard: use privileged, baseline or restricted", s)
	}
	return l, nil
}
