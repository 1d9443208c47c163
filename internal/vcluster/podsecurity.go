package vcluster

import (
	"os"
	"path/filepath"

	"gantry.dev/gantry/internal/podsecurity"
)

// admissionConfigFile is written in each control plane's directory.
const admissionConfigFile = "admission-config.yaml"

// writeAdmissionConfig writes kube-apiserver's admission configuration, whose
// PodSecurity defaults enforce level in every namespace of the virtual cluster,
// and returns its path. Written at every start, like the authentication
// configuration: the level a control plane runs with is the one of its last
// start, and the reconciler restarts it when the level changes.
func writeAdmissionConfig(dir string, level podsecurity.Level) (string, error) {
	data, err := podsecurity.AdmissionConfiguration(level)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	path := filepath.Join(dir, admissionConfigFile)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return "", err
	}
	return path, nil
}
