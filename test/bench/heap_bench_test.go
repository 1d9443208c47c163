//go:build bench

package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/pprof/profile"
)

// heapProfile asks a process started with GANTRY_HEAP_PROFILE_DIR=dir for its
// heap profile (SIGUSR1; gantry and kube-controlplane write <name>-<pid>.pprof)
// and reads it.
func heapProfile(b *testing.B, dir, name string, pid int) *profile.Profile {
	b.Helper()
	path := filepath.Join(dir, fmt.Sprintf("%s-%d.pprof", name, pid))
	os.Remove(path)
	if err := syscall.Kill(pid, syscall.SIGUSR1); err != nil {
		b.Fatalf("signalling %s (pid %d): %v", name, pid, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		f, err := os.Open(path)
		if err == nil {
			defer f.Close()
			p, err := profile.Parse(f)
			if err != nil {
				b.Fatalf("%s: %v", path, err)
			}
			return p
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s (pid %d) wrote no heap profile to %s within 30 s", name, pid, dir)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// heapShare is the live heap of a profile split by the component that
// allocated it. A sample belongs to the first component, from the goroutine's
// root towards the allocation, one of whose packages appears in its stack;
// what matches none is "other". Informer caches filled by client-go's
// reflector goroutines, whose stacks name only client-go, land in "other".
type heapShare map[string]int64

func splitHeap(p *profile.Profile, components []heapComponent) heapShare {
	idx := -1
	for i, st := range p.SampleType {
		if st.Type == "inuse_space" {
			idx = i
		}
	}
	out := heapShare{}
	if idx < 0 {
		return out
	}
	for _, s := range p.Sample {
		out[classify(s, components)] += s.Value[idx]
	}
	return out
}

type heapComponent struct {
	name     string
	packages []string // function name prefixes
}

func classify(s *profile.Sample, components []heapComponent) string {
	// Locations run from the allocation (leaf) to the root; lines within a
	// location from the innermost inlined call outwards.
	for i := len(s.Location) - 1; i >= 0; i-- {
		lines := s.Location[i].Line
		for j := len(lines) - 1; j >= 0; j-- {
			if lines[j].Function == nil {
				continue
			}
			fn := lines[j].Function.Name
			for _, c := range components {
				for _, pkg := range c.packages {
					if strings.HasPrefix(fn, pkg) {
						return c.name
					}
				}
			}
		}
	}
	return "other"
}

func (h heapShare) total() int64 {
	var t int64
	for _, v := range h {
		t += v
	}
	return t
}

// minus is h - base, per component: what a process's heap grew by.
func (h heapShare) minus(base heapShare) heapShare {
	out := heapShare{}
	for k, v := range h {
		out[k] = v
	}
	for k, v := range base {
		out[k] -= v
	}
	return out
}

// The components of a virtual cluster's kube-controlplane process.
var controlPlaneComponents = []heapComponent{
	{"controller-manager", []string{"k8s.io/kubernetes/cmd/kube-controller-manager/", "k8s.io/kubernetes/pkg/controller/",
		"k8s.io/controller-manager/"}},
	{"API server", []string{"k8s.io/kubernetes/cmd/kube-apiserver/", "k8s.io/apiserver/", "k8s.io/kube-aggregator/",
		"k8s.io/apiextensions-apiserver/", "k8s.io/kubernetes/pkg/controlplane", "k8s.io/kubernetes/pkg/registry/",
		"k8s.io/kubernetes/pkg/kubeapiserver/", "go.etcd.io/etcd/client/"}},
}

// The components gantry runs in its own process for each virtual cluster.
var gantryComponents = []heapComponent{
	{"kine", []string{"github.com/k3s-io/kine/"}},
	{"syncer", []string{"gantry.dev/gantry/internal/syncer"}},
}
