//go:build bench

package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Every gantry a benchmark starts (upWith) prints, when it stops, what the
// whole system cost: gantry and every process it runs (the host's
// kube-controlplane, virtual clusters' control planes, a real node's kubelet
// and containerd), not gantry's process alone. Issue 20 asks it of every
// benchmark; this is where they all start gantry.

// proc is one process of the system.
type proc struct {
	pid  int
	name string
	cpu  float64 // user + system seconds, its own and its reaped children's
	rss  float64 // MiB now
}

// processTree is root and its live descendants.
func processTree(root int) []proc {
	parent := map[int]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(data)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		ppid, _ := strconv.Atoi(fields[1])
		parent[pid] = ppid
	}
	in := func(pid int) bool {
		for p := pid; p > 1; p = parent[p] {
			if p == root {
				return true
			}
		}
		return false
	}
	var out []proc
	for pid := range parent {
		if !in(pid) {
			continue
		}
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		out = append(out, proc{pid: pid, name: strings.TrimSpace(string(comm)), cpu: cpuSecondsWithChildren(pid), rss: rssMiB(pid)})
	}
	return out
}

// cpuSecondsWithChildren adds the CPU of children the process has reaped
// (a virtual cluster's control plane that stopped, a container's shim).
func cpuSecondsWithChildren(pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	var t float64
	for _, i := range []int{11, 12, 13, 14} { // utime stime cutime cstime
		var v float64
		fmt.Sscan(fields[i], &v)
		t += v
	}
	return t / 100 // USER_HZ
}

// printWholeSystem prints the system of gantry at pid, started at start, by
// process name: CPU-seconds since start and RSS now.
func printWholeSystem(dataDir string, pid int, start time.Time) {
	tree := processTree(pid)
	byName := map[string]*proc{}
	var cpu, rss float64
	for _, p := range tree {
		n := byName[p.name]
		if n == nil {
			n = &proc{name: p.name}
			byName[p.name] = n
		}
		n.pid++ // a count here
		n.cpu += p.cpu
		n.rss += p.rss
		cpu, rss = cpu+p.cpu, rss+p.rss
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return byName[names[i]].rss > byName[names[j]].rss })
	parts := make([]string, 0, len(names))
	for _, n := range names {
		p := byName[n]
		label := n
		if p.pid > 1 {
			label = fmt.Sprintf("%s ×%d", n, p.pid)
		}
		parts = append(parts, fmt.Sprintf("%s %.0f MiB / %.1f s", label, p.rss, p.cpu))
	}
	fmt.Printf("whole system of gantry %s after %s: RSS %.0f MiB, CPU %.1f s (%s)\n",
		filepath.Base(dataDir), time.Since(start).Round(time.Second), rss, cpu, strings.Join(parts, "; "))
}

// hostAPIServerPid is the pid of the host's kube-controlplane, as gantry
// status reports it.
func hostAPIServerPid(b *testing.B, dataDir string) int {
	for _, c := range statusOf(b, dataDir) {
		if c.Name == "kube-apiserver" && !c.InProcess {
			return c.Pid
		}
	}
	b.Fatal("gantry status names no kube-apiserver process")
	return 0
}
