package realnode

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// Each failed check is named with its fix, and every check runs: a user
// fixes everything in one go.
func TestPreflightNamesEachFailedCheckAndItsFix(t *testing.T) {
	empty := t.TempDir()
	_, err := Preflight(context.Background(), []string{empty}, t.TempDir())
	var pe *PreflightError
	if !errors.As(err, &pe) {
		t.Fatalf("preflight without binaries: %v, want a PreflightError", err)
	}
	if len(pe.Failed) == 1 && pe.Failed[0].Name == "root" {
		t.Skip("not root: the other checks do not run")
	}
	want := map[string]string{
		"kubelet and kube-proxy": "make kube-binaries",
		"sandbox image":          "make build",
	}
	for _, c := range pe.Failed {
		if fix, ok := want[c.Name]; ok {
			if !strings.Contains(c.String(), fix) {
				t.Errorf("check %s does not give the fix %q: %s", c.Name, fix, c)
			}
			delete(want, c.Name)
		}
	}
	for name := range want {
		t.Errorf("check %q did not fail (failed: %v)", name, pe.Failed)
	}
	if !strings.Contains(err.Error(), "kubelet not found in "+empty) {
		t.Errorf("the message does not say where kubelet was looked for: %v", err)
	}
}
