package kubebin

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestVersionMatchesToolsModule(t *testing.T) {
	data, err := os.ReadFile("../../tools/kube/go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`k8s.io/kubernetes (v\S+)`).FindSubmatch(data)
	if m == nil || string(m[1]) != Version {
		t.Fatalf("tools/kube/go.mod pins %q, kubebin.Version is %q: keep them equal", m, Version)
	}
}

func TestParseVersion(t *testing.T) {
	v, err := ParseVersion("Kubernetes v1.37.2\n")
	if err != nil || v != "v1.37.2" {
		t.Fatalf("got %q, %v", v, err)
	}
	if _, err := ParseVersion("hello"); err == nil {
		t.Fatal("garbage accepted")
	}
}

func fakeBinary(t *testing.T, dir, name, output string) {
	t.Helper()
	script := "#!/bin/sh\necho '" + output + "'\n"
	if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
}

func TestFindReportsMissingAndWrongVersion(t *testing.T) {
	dir := t.TempDir()
	fakeBinary(t, dir, APIServer, "Kubernetes "+Version)
	fakeBinary(t, dir, ControllerManager, "Kubernetes v1.30.0")
	all := []string{APIServer, ControllerManager, Scheduler}
	_, err := Find(context.Background(), []string{dir}, all...)
	if err == nil {
		t.Fatal("incomplete set accepted")
	}
	msg := err.Error()
	for _, want := range []string{"kube-scheduler not found", "kube-controller-manager at", "is v1.30.0", "make kube-binaries"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %q", msg, want)
		}
	}
	fakeBinary(t, dir, ControllerManager, "Kubernetes "+Version)
	fakeBinary(t, dir, Scheduler, "Kubernetes "+Version)
	set, err := Find(context.Background(), []string{dir}, all...)
	if err != nil {
		t.Fatal(err)
	}
	if set[Scheduler] != filepath.Join(dir, Scheduler) {
		t.Fatalf("scheduler at %q", set[Scheduler])
	}
}
