package podsecurity

import (
	"testing"

	"k8s.io/pod-security-admission/admission/api/load"
	"k8s.io/pod-security-admission/admission/api/validation"
	"sigs.k8s.io/yaml"
)

// The plugin's part of the file is read by the library kube-apiserver reads
// it with, and says what gantry means.
func TestAdmissionConfigurationLoads(t *testing.T) {
	data, err := AdmissionConfiguration(restricted)
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Plugins    []struct {
			Name          string         `json:"name"`
			Configuration map[string]any `json:"configuration"`
		} `json:"plugins"`
	}
	if err := yaml.UnmarshalStrict(data, &file); err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	if file.APIVersion != "apiserver.config.k8s.io/v1" || file.Kind != "AdmissionConfiguration" || len(file.Plugins) != 1 || file.Plugins[0].Name != "PodSecurity" {
		t.Fatalf("unexpected file:\n%s", data)
	}
	plugin, err := yaml.Marshal(file.Plugins[0].Configuration)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := load.LoadFromData(plugin)
	if err != nil {
		t.Fatalf("the PodSecurity plugin cannot read its configuration: %v\n%s", err, plugin)
	}
	if errs := validation.ValidatePodSecurityConfiguration(cfg); len(errs) > 0 {
		t.Fatalf("invalid: %v", errs.ToAggregate())
	}
	d := cfg.Defaults
	if d.Enforce != "restricted" || d.Warn != "restricted" || d.Audit != "restricted" || d.EnforceVersion != "latest" {
		t.Fatalf("defaults %+v", d)
	}
	if len(cfg.Exemptions.Namespaces)+len(cfg.Exemptions.Usernames)+len(cfg.Exemptions.RuntimeClasses) > 0 {
		t.Fatalf("exemptions %+v", cfg.Exemptions)
	}
}
