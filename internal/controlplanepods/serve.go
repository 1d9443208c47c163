package controlplanepods

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"gantry.dev/gantry/internal/controlplane"
	"gantry.dev/gantry/internal/kubebin"
)

// Paths and the port inside the control-plane pod: fixed, so that the flags
// gantry writes into the Secret name them.
const (
	// ConfigDir is where the cluster's Secret is mounted (read-only).
	ConfigDir = "/etc/gantry/controlplane"
	// DataDir is the control plane's directory: its storage volume.
	DataDir = "/var/lib/gantry/controlplane"
	// RunDir is scratch space (an emptyDir): kine's socket, the log.
	RunDir = "/run/gantry"
	// APIPort is the API server's port on the pod's every address.
	APIPort = 6443
	// specKey is the Secret's key for Spec.
	specKey = "spec.json"
	// storageKey is the Secret's key for a kine DSN, handed to the pod as
	// the environment variable storageEnv, never in the spec or a flag.
	storageKey = "storage-dsn"
	storageEnv = "GANTRY_STORAGE_DSN"
)

// Spec is what the pod's control plane is started with, besides its keys.
type Spec struct {
	Name string `json:"name"`
	// ExtraSANs are the Service's names and ClusterIP, in the serving
	// certificate gantry issued: the pod's control plane must ask for the
	// same, or it would issue itself another.
	ExtraSANs      []string           `json:"extraSANs"`
	APIServerFlags controlplane.Flags `json:"apiServerFlags"`
	Env            []string           `json:"env,omitempty"`
}

// options are the control-plane options of spec in dir, the same in gantry
// (which issues the keys) and in the pod (which runs it).
func (s Spec) options(dir string) controlplane.Options {
	return controlplane.Options{
		Name:           s.Name,
		Dir:            dir,
		LogDir:         filepath.Join(RunDir, "logs"),
		BindAddress:    "0.0.0.0",
		APIPort:        APIPort,
		ExtraSANs:      s.ExtraSANs,
		APIServerFlags: s.APIServerFlags,
		Env:            s.Env,
	}
}

// ServeOptions say where the pod's files are (the constants, but for tests).
type ServeOptions struct {
	ConfigDir, DataDir string
	// RunDir is scratch space for the log (default RunDir).
	RunDir string
	// KubeBinDirs are searched for kube-controlplane (kubebin.Find).
	KubeBinDirs []string
}

// Serve runs one control plane in the foreground until ctx ends (SIGTERM in
// the pod): kine in this process on SQLite in DataDir (or on the DSN in
// GANTRY_STORAGE_DSN), kube-controlplane as its child, stopped by pid.
func Serve(ctx context.Context, o ServeOptions) error {
	data, err := os.ReadFile(filepath.Join(o.ConfigDir, specKey))
	if err != nil {
		return fmt.Errorf("reading the control plane's spec: %w; mount the cluster's Secret at %s", err, o.ConfigDir)
	}
	var spec Spec
	if err := json.Unmarshal(data, &spec); err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(o.ConfigDir, specKey), err)
	}
	// The keys live in the Secret; the control plane wants them in its
	// directory, where it also writes its kubeconfigs. Copied at every
	// start: the Secret is the truth.
	if err := copyKeys(o.ConfigDir, filepath.Join(o.DataDir, "pki")); err != nil {
		return err
	}
	bins, err := kubebin.Find(ctx, o.KubeBinDirs, kubebin.ControlPlane)
	if err != nil {
		return err
	}
	opts := spec.options(o.DataDir)
	opts.Binaries = bins
	if o.RunDir != "" {
		opts.LogDir = filepath.Join(o.RunDir, "logs")
	}
	opts.Storage = os.Getenv(storageEnv)
	cp, err := controlplane.New(opts)
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cp.Run(ctx) }()
	go func() {
		if err := cp.WaitReady(ctx, 5*time.Minute); err == nil {
			fmt.Fprintf(os.Stderr, "control plane %s ready at https://0.0.0.0:%d\n", spec.Name, APIPort)
		} else if ctx.Err() == nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}()
	return <-done
}

// copyKeys copies the Secret's files (but the spec and the DSN) into pki.
func copyKeys(from, to string) error {
	if err := os.MkdirAll(to, 0o700); err != nil {
		return err
	}
	entries, err := os.ReadDir(from)
	if err != nil {
		return err
	}
	for _, e := range entries {
		// A mounted Secret's files are symbolic links into ..data; the
		// ..-prefixed entries are the mount's own bookkeeping.
		name := e.Name()
		if name == specKey || name == storageKey || name[0] == '.' {
			continue
		}
		b, err := os.ReadFile(filepath.Join(from, name))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(to, name), b, 0o600); err != nil {
			return err
		}
	}
	return nil
}
