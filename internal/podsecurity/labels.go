package podsecurity

import (
	psapi "k8s.io/pod-security-admission/api"
)

// Version is the version of the standards gantry enforces: the newest that the
// enforcing API server knows ("latest"), on the host and in virtual clusters
// alike; the syncer's check uses the newest its library knows, the same
// Kubernetes minor as gantry's own API servers.
const Version = psapi.VersionLatest

// NamespaceLabels are the labels that make a namespace's own Pod Security
// admission enforce level (Kubernetes' pod-security.kubernetes.io labels).
func NamespaceLabels(level Level) map[string]string {
	return map[string]string{
		psapi.EnforceLevelLabel:   string(level),
		psapi.EnforceVersionLabel: Version,
	}
}

// SetNamespaceLabels puts NamespaceLabels(level) into *labels (made when nil)
// and reports whether anything changed.
func SetNamespaceLabels(labels *map[string]string, level Level) bool {
	if *labels == nil {
		*labels = map[string]string{}
	}
	changed := false
	for k, v := range NamespaceLabels(level) {
		if (*labels)[k] != v {
			(*labels)[k] = v
			changed = true
		}
	}
	return changed
}
