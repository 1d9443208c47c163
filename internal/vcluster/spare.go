package vcluster

import (
	"context"
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
)

func (r *Runtime) spareDir() string { return filepath.Join(r.opts.DataDir, spareName) }

// takeSpare moves the spare, if one is ready, to dir. It reports whether it did.
func (r *Runtime) takeSpare(dir string) bool {
	r.spareMu.Lock()
	defer r.spareMu.Unlock()
	spare := r.spareDir()
	if _, err := os.Stat(filepath.Join(spare, spareReady)); err != nil {
		return false
	}
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

// prepareSpare bootstraps a new spare in the background unless one is ready or
// being made. It stops when ctx ends (gantry stopping); a half-made spare is
// discarded next time.
func (r *Runtime) prepareSpare(ctx context.Context) {
	r.spareMu.Lock()
	if r.preparing {
		r.spareMu.Unlock()
		return
	}
	if _, err := os.Stat(filepath.Join(r.spareDir(), spareReady)); err == nil {
		r.spareMu.Unlock()
		return
	}
	r.preparing = true
	r.spareMu.Unlock()
	go func() {
		defer func() {
			r.spareMu.Lock()
			r.preparing = false
			r.spareMu.Unlock()
		}()
		if err := r.bootstrapSpare(ctx); err != nil && ctx.Err() == nil {
			r.opts.Logger.Error(err, "preparing a spare virtual cluster control plane")
		}
	}()
}

func (r *Runtime) bootstrapSpare(ctx context.Context) error {
	tmp := r.spareDir() + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	cp, err := controlplane.New(controlplane.Options{Name: "vcluster", Dir: tmp, Binaries: r.opts.Binaries})
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
	os.RemoveAll(r.spareDir())
	return os.Rename(tmp, r.spareDir())
}
