package up

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/google/pprof/profile"
)

func TestHeapProfileOnSIGUSR1(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("GANTRY_HEAP_PROFILE_DIR", dir)
	t.Setenv("GANTRY_CPU_PROFILE", "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop, err := startProfiles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if err := syscall.Kill(os.Getpid(), syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, fmt.Sprintf("gantry-%d.pprof", os.Getpid()))
	deadline := time.Now().Add(10 * time.Second)
	for {
		f, err := os.Open(path)
		if err == nil {
			defer f.Close()
			p, err := profile.Parse(f)
			if err != nil {
				t.Fatalf("not a heap profile: %v", err)
			}
			if len(p.SampleType) == 0 || p.SampleType[len(p.SampleType)-1].Type != "inuse_space" {
				t.Fatalf("sample types %v, want the heap's", p.SampleType)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no heap profile at %s 10 s after SIGUSR1", path)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestCPUProfileOnSIGUSR2(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("GANTRY_HEAP_PROFILE_DIR", dir)
	t.Setenv("GANTRY_CPU_PROFILE", "")
	defer func(w time.Duration) { CPUWindow = w }(CPUWindow)
	CPUWindow = 200 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop, err := startProfiles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if err := syscall.Kill(os.Getpid(), syscall.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, fmt.Sprintf("gantry-cpu-%d.pprof", os.Getpid()))
	deadline := time.Now().Add(10 * time.Second)
	for {
		f, err := os.Open(path)
		if err == nil {
			defer f.Close()
			p, err := profile.Parse(f)
			if err != nil {
				t.Fatalf("not a CPU profile: %v", err)
			}
			if len(p.SampleType) == 0 || p.SampleType[len(p.SampleType)-1].Type != "cpu" {
				t.Fatalf("sample types %v, want the CPU's", p.SampleType)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no CPU profile at %s 10 s after SIGUSR2", path)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
