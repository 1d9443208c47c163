package e2e

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gantry.dev/gantry/internal/kubebin"
)

// TestBadInput: each mistake gives one clear message naming the problem and the fix,
// a non-zero exit, and nothing left running.
func TestBadInput(t *testing.T) {
	parallel(t)
	tmp := t.TempDir()
	file := filepath.Join(tmp, "a-file")
	os.WriteFile(file, []byte("x"), 0o600)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	empty := t.TempDir()
	wrong := t.TempDir()
	for _, c := range kubebin.All {
		os.WriteFile(filepath.Join(wrong, c), []byte("#!/bin/sh\necho Kubernetes v1.30.0\n"), 0o755)
	}
	corrupt := filepath.Join(tmp, "corrupt-kubeconfig")
	os.WriteFile(corrupt, []byte("apiVersion: v1\nclusters: [this is not: a kubeconfig\n"), 0o600)

	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"unwritable data directory", []string{"--data-dir", filepath.Join(file, "sub")}, []string{"cannot be created", "--data-dir"}},
		{"HTTP port in use", []string{"--http-addr", busy.Addr().String()}, []string{"already in use", "--http-addr"}},
		{"missing Kubernetes binaries", []string{"--kube-bin-dir", empty}, []string{"kube-controlplane not found", "make kube-binaries"}},
		{"wrong-version Kubernetes binaries", []string{"--kube-bin-dir", wrong}, []string{"is v1.30.0, gantry needs " + kubebin.Version, "make kube-binaries"}},
		{"corrupt kubeconfig", []string{"--kubeconfig", corrupt}, []string{corrupt, "--kubeconfig"}},
		{"negative node count", []string{"--nodes", "-1"}, []string{"--nodes -1"}},
		{"two real nodes on one machine", []string{"--real-nodes", "2"}, []string{"--real-nodes 2", "at most one real node"}},
		{"external URL not https", []string{"--external-url", "http://gantry.example.com/x"}, []string{"--external-url", "https URL without a path"}},
		{"certificate without key", []string{"--tls-cert-file", file}, []string{"--tls-cert-file and --tls-key-file go together"}},
		{"certificate that is not one", []string{"--tls-cert-file", file, "--tls-key-file", file}, []string{"loading the TLS certificate", file}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dataDir := filepath.Join(t.TempDir(), "data")
			args := append([]string{"up", "--data-dir", dataDir, "--http-addr", freeAddr(t), "--kube-bin-dir", kubeBinDir, "--real-nodes", "0"}, c.args...)
			start := time.Now()
			out, err := run(t, args...)
			if err == nil {
				t.Fatalf("gantry up accepted it:\n%s", out)
			}
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("message does not mention %q:\n%s", w, out)
				}
			}
			if lines := strings.Count(strings.TrimSpace(out), "\n"); lines > 2 {
				t.Errorf("expected one clear message, got %d lines:\n%s", lines+1, out)
			}
			if time.Since(start) > 30*time.Second {
				t.Errorf("took %s to refuse", time.Since(start))
			}
			assertNoProcesses(t, dataDir)
		})
	}
}
