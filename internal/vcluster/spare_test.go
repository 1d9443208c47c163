package vcluster

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/types"

	"gantry.dev/gantry/internal/kubebin"
)

// Spares are made soon after the runtime starts, before any virtual cluster
// exists, and the first virtual cluster takes one: it starts warm.
func TestFirstVirtualClusterTakesASpare(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the Kubernetes binaries; runs without -short")
	}
	bins := binaries(t)
	dir := t.TempDir()
	r := NewRuntime(RuntimeOptions{DataDir: dir, Binaries: bins, Logger: logr.Discard(), SparesAfter: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Start(ctx) }()
	defer func() { cancel(); <-done }()

	deadline := time.Now().Add(90 * time.Second)
	for r.missingSpare() >= 0 {
		if time.Now().After(deadline) {
			t.Fatal("the spares were not made within 90 s of the runtime's start")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Made and stopped: a spare holds disk, no process.
	key := types.NamespacedName{Namespace: "p-default", Name: "first"}
	if _, err := r.Ensure(key, Config{}); err != nil {
		t.Fatal(err)
	}
	if r.readySpare() < 0 || r.missingSpare() < 0 {
		t.Fatal("the first virtual cluster did not take a spare")
	}
	if _, err := os.Stat(filepath.Join(dataDir(dir, key.Namespace, key.Name), "kine", "state.db")); err != nil {
		t.Fatalf("the first virtual cluster's data directory is not the spare's: %v", err)
	}
	if err := r.ControlPlane(key).WaitReady(ctx, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	r.Stop(key)
}

// binaries finds the Kubernetes binaries: <repo>/bin, or $GANTRY_KUBE_BIN_DIR.
func binaries(t *testing.T) kubebin.Set {
	t.Helper()
	binDir, _ := filepath.Abs("../../bin")
	if d := os.Getenv(kubebin.EnvDir); d != "" {
		binDir = d
	}
	bins, err := kubebin.Find(context.Background(), []string{binDir}, kubebin.All...)
	if err != nil {
		t.Fatal(err)
	}
	return bins
}
