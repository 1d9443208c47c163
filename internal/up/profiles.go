package up

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"syscall"
	"time"
)

// startProfiles turns on the profiles a developer or the benchmarks ask for
// through the environment; nothing is on otherwise.
//
//   - GANTRY_CPU_PROFILE=FILE: where gantry's CPU goes, from start to stop.
//   - GANTRY_HEAP_PROFILE_DIR=DIR: SIGUSR1 writes gantry-<pid>.pprof there.
//     gantry passes the variable on to the control planes it starts, and
//     kube-controlplane does the same with its own name, so a benchmark can
//     split a virtual cluster's memory between kine, the syncer, the API
//     server and the controller-manager (test/bench).
//     SIGUSR2 records gantry's CPU for the next minute into
//     gantry-cpu-<pid>.pprof there: where the CPU of one phase goes (a
//     benchmark's idle minute), without the start-up or the sync before it.
func startProfiles(ctx context.Context) (stop func(), err error) {
	stop = func() {}
	if path := os.Getenv("GANTRY_CPU_PROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return nil, fmt.Errorf("GANTRY_CPU_PROFILE: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return nil, fmt.Errorf("GANTRY_CPU_PROFILE: %w", err)
		}
		stop = func() { pprof.StopCPUProfile(); f.Close() }
	}
	if dir := os.Getenv("GANTRY_HEAP_PROFILE_DIR"); dir != "" {
		cpu := make(chan os.Signal, 1)
		signal.Notify(cpu, syscall.SIGUSR2)
		go func() {
			defer signal.Stop(cpu)
			for {
				select {
				case <-ctx.Done():
					return
				case <-cpu:
					path := filepath.Join(dir, fmt.Sprintf("gantry-cpu-%d.pprof", os.Getpid()))
					if err := writeCPUProfile(ctx, path, CPUWindow); err != nil {
						slog.Error("writing the CPU profile", "err", err)
					}
				}
			}
		}()
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGUSR1)
		go func() {
			defer signal.Stop(c)
			for {
				select {
				case <-ctx.Done():
					return
				case <-c:
					path := filepath.Join(dir, fmt.Sprintf("gantry-%d.pprof", os.Getpid()))
					if err := writeHeapProfile(path); err != nil {
						slog.Error("writing the heap profile", "err", err)
					}
				}
			}
		}()
	}
	return stop, nil
}

// CPUWindow is how long a SIGUSR2 CPU profile records.
var CPUWindow = time.Minute

// writeCPUProfile records the CPU for d (or until ctx ends) and renames the
// profile into place once complete. It fails while GANTRY_CPU_PROFILE's
// whole-run profile is on: Go records one CPU profile at a time.
func writeCPUProfile(ctx context.Context, path string, d time.Duration) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".cpu-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return err
	}
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
	pprof.StopCPUProfile()
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// writeHeapProfile writes the profile after a GC (the profile shows the heap
// as of the last one) and renames it into place, so a reader never sees half.
// kube-controlplane has its own copy: the tools module cannot import gantry.
func writeHeapProfile(path string) error {
	runtime.GC()
	f, err := os.CreateTemp(filepath.Dir(path), ".heap-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
