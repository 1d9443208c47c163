package podsecurity

import (
	psv1 "k8s.io/pod-security-admission/admission/api/v1"
	"sigs.k8s.io/yaml"
)

// AdmissionConfiguration is kube-apiserver's --admission-control-config-file
// (apiserver.config.k8s.io/v1) configuring its PodSecurity admission plugin to
// enforce, warn about and audit level in every namespace that sets no
// pod-security labels of its own. No exemptions: a virtual cluster runs no
// pods of its own (its controllers run in gantry's process, and it has no DNS
// add-on), so nothing in kube-system needs one.
func AdmissionConfiguration(level Level) ([]byte, error) {
	ps := psv1.PodSecurityConfiguration{
		Defaults: psv1.PodSecurityDefaults{
			Enforce: string(level), EnforceVersion: Version,
			Audit: string(level), AuditVersion: Version,
			Warn: string(level), WarnVersion: Version,
		},
	}
	ps.APIVersion, ps.Kind = psv1.SchemeGroupVersion.String(), "PodSecurityConfiguration"
	return yaml.Marshal(map[string]any{
		"apiVersion": "apiserver.config.k8s.io/v1",
		"kind":       "AdmissionConfiguration",
		"plugins":    []any{map[string]any{"name": "PodSecurity", "configuration": ps}},
	})
}
