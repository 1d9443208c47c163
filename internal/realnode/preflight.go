package realnode

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"gantry.dev/gantry/internal/kubebin"
)

// Check is one preflight check that failed: what, why, and the fix.
type Check struct {
	Name    string
	Problem string
	Fix     string
}

func (c Check) String() string { return fmt.Sprintf("%s: %s (fix: %s)", c.Name, c.Problem, c.Fix) }

// PreflightError lists every check that failed.
type PreflightError struct{ Failed []Check }

func (e *PreflightError) Error() string {
	lines := make([]string, len(e.Failed))
	for i, c := range e.Failed {
		lines[i] = c.String()
	}
	return "this machine cannot run a real node: " + strings.Join(lines, "; ")
}

// Environment is what preflight found, and how the node adapts to it.
type Environment struct {
	Binaries kubebin.Set
	// Tools are containerd, ctr, runc, iptables by absolute path.
	Tools map[string]string
	// CNIBinDir holds the CNI plugins (bridge, host-local, portmap, loopback).
	CNIBinDir string
	// Snapshotter is overlayfs, or native where overlayfs cannot mount.
	Snapshotter string
	// RestrictOOMScoreAdj: CAP_SYS_RESOURCE is missing from the bounding set,
	// so nobody may lower oom_score_adj (runc would fail on the sandbox's -998).
	RestrictOOMScoreAdj bool
	// CgroupV2 is a unified hierarchy; otherwise v1 (or hybrid).
	CgroupV2 bool
	// NodeIP is the address the kubelet serves on and kube-apiserver reaches.
	NodeIP string
	// PauseBinary is gantry-pause, packed into the sandbox image at node start.
	PauseBinary string
}

// PauseProgram is the sandbox program's name, built beside gantry (make build).
const PauseProgram = "gantry-pause"

// cniPlugins are the plugins the node's conflist uses.
var cniPlugins = []string{"bridge", "host-local", "portmap", "loopback"}

var cniDirs = []string{"/usr/lib/cni", "/opt/cni/bin"}

const installFix = "install them (Debian/Ubuntu: apt-get install containerd runc containernetworking-plugins iptables), or run gantry up --real-nodes 0"

// Preflight checks that this machine can run a real node, every check in turn,
// and returns the environment or a PreflightError naming each failed check.
// scratch is a directory gantry owns, for the overlayfs probe.
func Preflight(ctx context.Context, binDirs []string, scratch string) (*Environment, error) {
	env := &Environment{Tools: map[string]string{}}
	var failed []Check
	fail := func(name, problem, fix string) { failed = append(failed, Check{name, problem, fix}) }

	if os.Geteuid() != 0 {
		fail("root", fmt.Sprintf("gantry runs as uid %d; containerd, runc and the kubelet need root", os.Geteuid()),
			"run gantry up as root (sudo), or with --real-nodes 0")
		return nil, &PreflightError{failed}
	}
	var missing []string
	for _, t := range []string{"containerd", "containerd-shim-runc-v2", "ctr", "runc", "iptables", "iptables-save", "ip"} {
		p, err := exec.LookPath(t)
		if err != nil {
			missing = append(missing, t)
			continue
		}
		env.Tools[t] = p
	}
	if len(missing) > 0 {
		fail("container runtime", "not found in PATH: "+strings.Join(missing, ", "), installFix)
	}
	env.CNIBinDir = findCNI()
	if env.CNIBinDir == "" {
		fail("CNI plugins", fmt.Sprintf("%s not found in %s", strings.Join(cniPlugins, ", "), strings.Join(cniDirs, " or ")), installFix)
	}
	bins, err := kubebin.Find(ctx, binDirs, kubebin.Node...)
	if err != nil {
		fail("kubelet and kube-proxy", err.Error(), "run `make kube-binaries` in gantry's source tree (they go beside gantry in bin/), or run gantry up --real-nodes 0")
	}
	env.Binaries = bins
	for _, d := range binDirs {
		if p := filepath.Join(d, PauseProgram); isExecutable(p) {
			env.PauseBinary = p
			break
		}
	}
	if env.PauseBinary == "" {
		fail("sandbox image", PauseProgram+" not found in "+strings.Join(binDirs, ", "),
			"build it with `make build` in gantry's source tree (it goes beside gantry in bin/)")
	}
	if v2, err := checkCgroups(); err != nil {
		fail("cgroups", err.Error(), "mount the cgroup filesystems (cgroup v2 at /sys/fs/cgroup, or v1 with the cpu, memory and pids controllers) writable for root; in a container, run it privileged")
	} else {
		env.CgroupV2 = v2
	}
	if env.NodeIP, err = nodeIP(); err != nil {
		fail("node address", err.Error(), "give the machine a non-loopback IPv4 address (a default route)")
	}
	env.Snapshotter = "overlayfs"
	if err := probeOverlay(scratch); err != nil {
		// Not a failure: containerd's native snapshotter copies layers instead.
		env.Snapshotter = "native"
	}
	env.RestrictOOMScoreAdj = !hasCapSysResource()
	if len(failed) > 0 {
		return nil, &PreflightError{failed}
	}
	return env, nil
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

func findCNI() string {
	for _, d := range cniDirs {
		ok := true
		for _, p := range cniPlugins {
			if _, err := os.Stat(filepath.Join(d, p)); err != nil {
				ok = false
				break
			}
		}
		if ok {
			return d
		}
	}
	return ""
}

// checkCgroups reports the cgroup version and whether root can create a cgroup
// where the kubelet needs one (cpu, memory and pids).
func checkCgroups() (v2 bool, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs("/sys/fs/cgroup", &st); err != nil {
		return false, fmt.Errorf("/sys/fs/cgroup: %w", err)
	}
	const cgroup2Magic = 0x63677270
	if st.Type == cgroup2Magic {
		data, err := os.ReadFile("/sys/fs/cgroup/cgroup.controllers")
		if err != nil {
			return true, err
		}
		for _, c := range []string{"cpu", "memory", "pids"} {
			if !slices.Contains(strings.Fields(string(data)), c) {
				return true, fmt.Errorf("cgroup v2 lacks the %s controller (cgroup.controllers: %q)", c, strings.TrimSpace(string(data)))
			}
		}
		return true, probeMkdir("/sys/fs/cgroup")
	}
	for _, c := range []string{"cpu", "memory", "pids"} {
		if err := probeMkdir(filepath.Join("/sys/fs/cgroup", c)); err != nil {
			return false, fmt.Errorf("cgroup v1 %s controller: %w", c, err)
		}
	}
	return false, nil
}

func probeMkdir(dir string) error {
	p := filepath.Join(dir, "gantry-probe-"+strconv.Itoa(os.Getpid()))
	if err := os.Mkdir(p, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	return os.Remove(p)
}

// probeOverlay mounts an overlay filesystem in scratch and unmounts it.
func probeOverlay(scratch string) error {
	d, err := os.MkdirTemp(scratch, "overlay-probe-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(d)
	for _, s := range []string{"l", "u", "w", "m"} {
		if err := os.Mkdir(filepath.Join(d, s), 0o755); err != nil {
			return err
		}
	}
	opts := fmt.Sprintf("lowerdir=%s/l,upperdir=%s/u,workdir=%s/w", d, d, d)
	if err := syscall.Mount("overlay", filepath.Join(d, "m"), "overlay", 0, opts); err != nil {
		return err
	}
	return syscall.Unmount(filepath.Join(d, "m"), 0)
}

// hasCapSysResource reads the bounding set: some VMs and containers drop
// CAP_SYS_RESOURCE for everyone, PID 1 included.
func hasCapSysResource() bool {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "CapBnd:"); ok {
			bnd, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			const capSysResource = 24
			return err == nil && bnd&(1<<capSysResource) != 0
		}
	}
	return false
}

// nodeIP is the source address of the default route, else the first global
// IPv4 address of an interface that is not a bridge or veth of some pod network.
func nodeIP() (string, error) {
	if c, err := net.Dial("udp4", "192.0.2.1:9"); err == nil { // no packet is sent
		ip := c.LocalAddr().(*net.UDPAddr).IP
		c.Close()
		if !ip.IsLoopback() {
			return ip.String(), nil
		}
	}
	ifaces, err := net.Interfaces()
	if err != nil {
		return "", err
	}
	for _, i := range ifaces {
		if i.Flags&net.FlagUp == 0 || i.Flags&net.FlagLoopback != 0 || strings.HasPrefix(i.Name, "veth") ||
			strings.HasPrefix(i.Name, "cni") || strings.HasPrefix(i.Name, bridgePrefix) || strings.HasPrefix(i.Name, "docker") {
			continue
		}
		addrs, _ := i.Addrs()
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && n.IP.IsGlobalUnicast() {
				return n.IP.String(), nil
			}
		}
	}
	return "", errors.New("no non-loopback IPv4 address")
}
