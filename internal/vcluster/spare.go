package vcluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"gantry.dev/gantry/internal/controlplane"
)

// A spare is a control plane bootstrapped ahead of need and stopped: a data directory
// with its own CA, keys and a fresh cluster in SQLite. Creating a virtual cluster
// takes the spare (a rename) and so starts like a restart, skipping the second or so
// that kube-apiserver spends creating its bootstrap objects on first start. Every
// spare is a distinct cluster (own CA, own kube-system UID), never a copied template.
const (
	spareName  = ".spare"
	spareReady = ".ready"
	// spares is how many are kept: with one, back-to-back creations found it still
	// being made every other time (a spare takes a control-plane start, 2-3 s).
	// Spares hold disk only (a few MiB each), no process.
	spares = 2
)

func (r *Runtime) spareDir(i int) string {
	return filepath.Join(r.opts.DataDir, fmt.Sprintf("%s-%d", spareName, i))
}

// readySpare returns the index of a ready spare, or -1.
func (r *Runtime) readySpare() int {
	for i := range spares {
		if _, err := os.Stat(filepath.Join(r.spareDir(i), spareReady)); err == nil {
			return i
		}
	}
	return -1
}

// missingSpare returns the index of a spare that is not ready, or -1.
func (r *Runtime) missingSpare() int {
	for i := range spares {
		if _, err := os.Stat(filepath.Join(r.spareDir(i), spareReady)); err != nil {
			return i
		}
	}
	return -1
}

// takeSpare moves a ready spare, if there is one, to dir. It reports whether it did.
func (r *Runtime) takeSpare(dir string) bool {
	r.spareMu.Lock()
	defer r.spareMu.Unlock()
	i := r.readySpare()
	if i < 0 {
		return false
	}
	spare := r.spareDir(i)
	if _, err := os.Stat(dir); err == nil {
		return false // an existing virtual cluster keeps its own data
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return false
	}
	if err := os.Remove(filepath.Join(spare, spareReady)); err != nil {
		return false
	}
	if err := os.Rename(spare, dir); err != nil {
		return false
	}
	return true
}

// prepareSpare bootstraps missing spares in the background, one at a time, unless
// that is already under way. It stops when ctx ends (gantry stopping); a half-made
// spare is discarded next time.
func (r *Runtime) prepareSpare(ctx context.Context) {
	r.spareMu.Lock()
	if r.preparing || r.missingSpare() < 0 {
		r.spareMu.Unlock()
		return
	}
	r.preparing = true
	r.spareMu.Unlock()
	// The single spare of earlier versions, unnumbered.
	_ = os.RemoveAll(filepath.Join(r.opts.DataDir, spareName))
	go func() {
		defer func() {
			r.spareMu.Lock()
			r.preparing = false
			r.spareMu.Unlock()
		}()
		for ctx.Err() == nil {
			r.spareMu.Lock()
			i := r.missingSpare()
			r.spareMu.Unlock()
			if i < 0 {
				return
			}
			if err := r.bootstrapSpare(ctx, i); err != nil {
				if ctx.Err() == nil {
					r.opts.Logger.Error(err, "preparing a spare virtual cluster control plane")
				}
				return
			}
		}
	}()
}

func (r *Runtime) bootstrapSpare(ctx context.Context, i int) error {
	tmp := r.spareDir(i) + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	// At the lowest CPU priority: a spare is made right after a virtual cluster
	// starts, while its controller-manager starts and its apps sync, and on two
	// cores an equal share would make those wait for the spare.
	cp, err := controlplane.New(controlplane.Options{Name: "vcluster", Dir: tmp, Binaries: r.opts.Binaries, Nice: 19})
	if err != nil {
		return err
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- cp.Run(runCtx) }()
	err = cp.WaitReady(runCtx, 2*time.Minute)
	stop()
	if runErr := <-done; err == nil {
		err = runErr
	}
	if err != nil {
		os.RemoveAll(tmp)
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, spareReady), nil, 0o600); err != nil {
		return err
	}
	r.spareMu.Lock()
	defer r.spareMu.Unlock()
	os.RemoveAll(r.spareDir(i))
	return os.Rename(tmp, r.spareDir(i))
}
