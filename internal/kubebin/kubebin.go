// Package kubebin finds the Kubernetes binaries that gantry runs, kube-controlplane
// (kube-apiserver, kube-controller-manager and kube-scheduler in one process) and,
// for a real node, kubelet and kube-proxy, and checks that they are the version
// gantry was built against.
//
// The binaries are built from source by `make kube-binaries` (tools/kube, its own Go
// module) because prebuilt ones cannot be downloaded everywhere gantry is built.
package kubebin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Version is the Kubernetes release gantry's components must report. Keep it equal
// to k8s.io/kubernetes in tools/kube/go.mod (a unit test checks).
const Version = "v1.37.2"

// EnvDir names the environment variable that points at a directory of binaries.
const EnvDir = "GANTRY_KUBE_BIN_DIR"

// Component names, as `gantry status` and `gantry logs` show them.
const (
	APIServer         = "kube-apiserver"
	ControllerManager = "kube-controller-manager"
	Scheduler         = "kube-scheduler"
)

// ControlPlane is the binary that runs the components above in one process
// (tools/kube/cmd/kube-controlplane), as k3s does: one Go runtime and one copy of
// their shared code in memory instead of three.
const ControlPlane = "kube-controlplane"

// All lists the binaries gantry needs.
var All = []string{ControlPlane}

// A real node's binaries (package realnode), built beside kube-controlplane but
// as programs of their own (the Makefile says why). Gantry runs without them,
// on simulated nodes only.
const (
	Kubelet   = "kubelet"
	KubeProxy = "kube-proxy"
)

// Node lists the binaries a real node needs.
var Node = []string{Kubelet, KubeProxy}

// Set maps a binary's name to its absolute path.
type Set map[string]string

// BuildHint tells the user how to get the binaries.
const BuildHint = "build it with `make kube-binaries` in gantry's source tree (compiles k8s.io/kubernetes " + Version +
	" from the Go module proxy into bin/, about 7 minutes the first time), or point --kube-bin-dir or " + EnvDir +
	" at a directory that holds it"

// SearchDirs returns where binaries are looked for, in order: the explicit directory
// (flag or environment), the directory of the running executable, and ./bin.
func SearchDirs(explicit string) []string {
	if explicit != "" {
		return []string{explicit}
	}
	if env := os.Getenv(EnvDir); env != "" {
		return []string{env}
	}
	var dirs []string
	if exe, err := os.Executable(); err == nil {
		if real, err := filepath.EvalSymlinks(exe); err == nil {
			exe = real
		}
		dirs = append(dirs, filepath.Dir(exe))
	}
	if wd, err := os.Getwd(); err == nil {
		dirs = append(dirs, filepath.Join(wd, "bin"))
	}
	return dirs
}

// Find locates every component in dirs and checks its version (in parallel: each
// check runs the binary once). The error names each missing or wrong binary and the fix.
func Find(ctx context.Context, dirs []string, components ...string) (Set, error) {
	set := Set{}
	var problems []string
	for _, c := range components {
		p := lookup(dirs, c)
		if p == "" {
			problems = append(problems, fmt.Sprintf("%s not found in %s", c, strings.Join(dirs, ", ")))
			continue
		}
		set[c] = p
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for c, p := range set {
		wg.Go(func() {
			v, err := ReadVersion(ctx, p)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				problems = append(problems, fmt.Sprintf("%s at %s does not run: %v", c, p, err))
			case v != Version:
				problems = append(problems, fmt.Sprintf("%s at %s is %s, gantry needs %s", c, p, v, Version))
			}
		})
	}
	wg.Wait()
	if len(problems) > 0 {
		return nil, fmt.Errorf("Kubernetes binaries: %s; %s", strings.Join(problems, "; "), BuildHint)
	}
	return set, nil
}

func lookup(dirs []string, name string) string {
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if info, err := os.Stat(p); err == nil && !info.IsDir() && info.Mode()&0o111 != 0 {
			if abs, err := filepath.Abs(p); err == nil {
				return abs
			}
			return p
		}
	}
	return ""
}

// ReadVersion runs `<binary> --version` and returns the version it reports
// ("Kubernetes v1.37.2" → "v1.37.2").
func ReadVersion(ctx context.Context, path string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, path, "--version")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%w: %s", err, strings.TrimSpace(out.String()))
	}
	return ParseVersion(out.String())
}

// ParseVersion extracts the version from a component's --version output.
func ParseVersion(out string) (string, error) {
	fields := strings.Fields(out)
	if len(fields) < 2 || fields[0] != "Kubernetes" {
		return "", errors.New("unexpected --version output: " + strings.TrimSpace(out))
	}
	return fields[1], nil
}
