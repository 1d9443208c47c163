package vcluster

import (
	"context"
	"fmt"
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

// A new virtual cluster's data directory is a ready spare, moved: a spare
// still being made is not taken, nor is one given to a cluster that has data
// of its own (a restart or a wake keeps its state).
func TestNewClusterTakesAReadySpare(t *testing.T) {
	dir := t.TempDir()
	r := NewRuntime(RuntimeOptions{DataDir: dir})
	mkSpare := func(i int, ready bool) {
		t.Helper()
		if err := os.MkdirAll(filepath.Join(r.spareDir(i), "kine"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(r.spareDir(i), "kine", "state.db"), []byte(fmt.Sprint("spare ", i)), 0o600); err != nil {
			t.Fatal(err)
		}
		if ready {
			if err := os.WriteFile(filepath.Join(r.spareDir(i), spareReady), nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	first := dataDir(dir, "p-a", "first")
	if r.takeSpare(first) {
		t.Fatal("took a spare when there is none")
	}
	mkSpare(0, false)
	if r.takeSpare(first) {
		t.Fatal("took a spare still being made")
	}
	mkSpare(1, true)
	if !r.takeSpare(first) {
		t.Fatal("did not take the ready spare")
	}
	if data, err := os.ReadFile(filepath.Join(first, "kine", "state.db")); err != nil || string(data) != "spare 1" {
		t.Fatalf("the cluster's data is not the spare's: %q, %v", data, err)
	}
	if _, err := os.Stat(filepath.Join(first, spareReady)); !os.IsNotExist(err) {
		t.Errorf("the cluster's directory still says it is a ready spare: %v", err)
	}
	if r.readySpare() >= 0 {
		t.Error("a spare is still ready after the only one was taken")
	}

	mkSpare(0, true)
	existing := dataDir(dir, "p-a", "existing")
	if err := os.MkdirAll(existing, 0o700); err != nil {
		t.Fatal(err)
	}
	if r.takeSpare(existing) {
		t.Fatal("a cluster with data of its own was given a spare")
	}
	if r.readySpare() != 0 {
		t.Error("the spare was used up")
	}
}
