package realnode

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"gantry.dev/gantry/internal/kubebin"
)

// drain cordons the node and deletes its pods while the kubelet still runs:
// the kubelet stops each pod's sandbox, which runs CNI DEL (veth, IP, masquerade
// rules) and unmounts its volumes.
func (n *Node) drain(ctx context.Context) {
	c := n.opts.Client.CoreV1()
	_, _ = c.Nodes().Patch(ctx, n.opts.Name, types.MergePatchType, []byte(`{"spec":{"unschedulable":true}}`), metav1.PatchOptions{})
	sel := metav1.ListOptions{FieldSelector: "spec.nodeName=" + n.opts.Name}
	grace := int64(2)
	for ctx.Err() == nil {
		pods, err := c.Pods("").List(ctx, sel)
		if err != nil || len(pods.Items) == 0 {
			return
		}
		for _, p := range pods.Items {
			if p.DeletionTimestamp == nil {
				_ = c.Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &grace})
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// removeContainers kills and removes whatever containers containerd still has
// (a drain that timed out), remembering their network namespaces for cleanup.
func (n *Node) removeContainers(ctx context.Context) {
	if out, err := n.ctr(ctx, "tasks", "ls", "-q"); err == nil {
		for id := range strings.FieldsSeq(string(out)) {
			_, _ = n.ctr(ctx, "tasks", "kill", "-s", "SIGKILL", id)
			_, _ = n.ctr(ctx, "tasks", "rm", "-f", id)
		}
	}
	out, err := n.ctr(ctx, "containers", "ls", "-q")
	if err != nil {
		return
	}
	var netns []string
	for id := range strings.FieldsSeq(string(out)) {
		if info, err := n.ctr(ctx, "containers", "info", id); err == nil {
			var c struct {
				Spec struct {
					Linux struct {
						Namespaces []struct{ Type, Path string }
					}
				}
			}
			if json.Unmarshal(info, &c) == nil {
				for _, ns := range c.Spec.Linux.Namespaces {
					if ns.Type == "network" && (strings.HasPrefix(ns.Path, "/var/run/netns/") || strings.HasPrefix(ns.Path, "/run/netns/")) {
						netns = append(netns, ns.Path)
					}
				}
			}
		}
		_, _ = n.ctr(ctx, "containers", "rm", id)
	}
	for _, p := range netns {
		_ = syscall.Unmount(p, syscall.MNT_DETACH)
		_ = os.Remove(p)
	}
}

// cleanup puts the machine back as it was before the node ran: node object and
// binding, leftover container processes and shims, mounts, the bridge, iptables
// chains, cgroups, ip_forward, and the node's runtime state. It is run after a
// stop and before a start (a killed gantry leaves things behind).
func (n *Node) cleanup(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	st, err := loadSaved(n.l.savedPath())
	if err != nil {
		return // nothing was changed (or it is cleaned up already)
	}
	if n.apiUp() { // at a start after a crash it may not be yet: the kubelet re-registers the node
		c := n.opts.Client
		_ = c.CoreV1().Nodes().Delete(ctx, n.opts.Name, metav1.DeleteOptions{})
		_ = c.RbacV1().ClusterRoleBindings().Delete(ctx, n.bindingName(), metav1.DeleteOptions{})
	}
	killCgroupProcs(n.l.cgroupRoot())
	n.killShims()
	unmountUnder(n.l.dir)
	removeNetns(ctx, n.opts.Env.Tools["ip"], st.Subnet)
	_ = exec.CommandContext(ctx, n.opts.Env.Tools["ip"], "link", "del", n.l.bridge()).Run()
	if p := n.opts.Env.Binaries[kubebin.KubeProxy]; p != "" {
		// kube-proxy's own chains (both its iptables and nftables leftovers).
		_ = exec.CommandContext(ctx, p, "--cleanup").Run()
	}
	removeNewChains(ctx, st.Chains)
	removeCgroups(n.l.cgroupRoot())
	if st.IPForward != "" {
		_ = os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte(st.IPForward), 0o644)
	}
	for _, d := range []string{n.l.kubeletDir(), n.l.podLogsDir(), n.l.path("cni", "ipam"),
		n.l.path("containerd", "state"), n.l.path("containerd", "runc")} {
		if !mountedUnder(d) {
			_ = os.RemoveAll(d)
		}
	}
	_ = os.Remove(n.l.socket())
	// containerd 1.6 puts shim sockets in /run/containerd/s whatever its state
	// directory; gone when empty (no other containerd uses them).
	_ = os.Remove("/run/containerd/s")
	_ = os.Remove("/run/containerd")
	_ = os.Remove("/run/netns") // made by containerd for pods' namespaces
	_ = os.Remove(n.l.savedPath())
}

// removeNetns removes the pods' network namespaces (/run/netns/cni-*) whose
// eth0 has an address in the node's subnet: those a killed gantry left, with
// their veths. Others' namespaces have other subnets and stay.
func removeNetns(ctx context.Context, ip, subnet string) {
	pfx, err := netip.ParsePrefix(subnet)
	if err != nil || ip == "" {
		return
	}
	entries, _ := filepath.Glob("/run/netns/cni-*")
	for _, ns := range entries {
		out, err := exec.CommandContext(ctx, ip, "-n", filepath.Base(ns), "-4", "-o", "addr", "show").Output()
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(out)) {
			if p, err := netip.ParsePrefix(f); err == nil && pfx.Contains(p.Addr()) {
				_ = syscall.Unmount(ns, syscall.MNT_DETACH)
				_ = os.Remove(ns)
				break
			}
		}
	}
}

func (n *Node) apiUp() bool {
	if n.opts.APIReady == nil {
		return true
	}
	select {
	case <-n.opts.APIReady:
		return true
	default:
		return false
	}
}

// killShims kills the containerd shims that served this node's containerd
// (they outlive containerd by design) and removes their sockets.
func (n *Node) killShims() {
	for _, pid := range Shims(n.l.socket()) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	addrs, _ := filepath.Glob(n.l.path("containerd", "state", "io.containerd.runtime.v2.task", "*", "*", "address"))
	for _, a := range addrs {
		if data, err := os.ReadFile(a); err == nil {
			_ = os.Remove(strings.TrimPrefix(strings.TrimSpace(string(data)), "unix://"))
		}
	}
}

// Shims lists the pids of containerd-shim-runc-v2 processes serving the
// containerd at socket.
func Shims(socket string) []int {
	var pids []int
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		args := strings.Split(string(data), "\x00")
		if len(args) == 0 || !strings.HasSuffix(args[0], "containerd-shim-runc-v2") {
			continue
		}
		if i := slices.Index(args, "-address"); i >= 0 && i+1 < len(args) && args[i+1] == socket {
			if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p))); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// MountsUnder lists the mount points under dir, deepest first.
func MountsUnder(dir string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) > 4 {
			mp := unescapeMount(fields[4])
			if mp == dir || strings.HasPrefix(mp, dir+"/") {
				out = append(out, mp)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	if u, err := strconv.Unquote(`"` + s + `"`); err == nil {
		return u
	}
	return s
}

func mountedUnder(dir string) bool { return len(MountsUnder(dir)) > 0 }

func unmountUnder(dir string) {
	for _, m := range MountsUnder(dir) {
		if err := syscall.Unmount(m, 0); err != nil {
			_ = syscall.Unmount(m, syscall.MNT_DETACH)
		}
	}
}

// cgroupDirs are where cgroupRoot lives: one directory per v1 hierarchy (and
// the unified one of a hybrid), or the one v2 hierarchy.
func cgroupDirs(root string) []string {
	var st syscall.Statfs_t
	if syscall.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == 0x63677270 {
		return []string{filepath.Join("/sys/fs/cgroup", root)}
	}
	var out []string
	entries, _ := os.ReadDir("/sys/fs/cgroup")
	for _, e := range entries {
		h := filepath.Join("/sys/fs/cgroup", e.Name())
		if fi, err := os.Lstat(h); err != nil || !fi.IsDir() {
			continue // cpu -> cpu,cpuacct symlinks
		}
		if _, err := os.Stat(filepath.Join(h, "cgroup.procs")); err == nil {
			out = append(out, filepath.Join(h, root))
		}
	}
	return out
}

// createCgroups makes the kubelet's cgroupRoot in every hierarchy (the kubelet
// refuses a cgroupRoot that does not exist); cpuset gets its parent's CPUs and
// memory nodes, without which no task may join it.
func createCgroups(root string) error {
	for _, d := range cgroupDirs(root) {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			if cur, err := os.ReadFile(filepath.Join(d, f)); err == nil && len(bytes.TrimSpace(cur)) == 0 {
				if parent, err := os.ReadFile(filepath.Join(filepath.Dir(d), f)); err == nil {
					_ = os.WriteFile(filepath.Join(d, f), parent, 0o644)
				}
			}
		}
	}
	return nil
}

// CgroupsLeft lists what is left of cgroupRoot in every hierarchy.
func CgroupsLeft(root string) []string {
	var left []string
	for _, d := range cgroupDirs(root) {
		if _, err := os.Stat(d); err == nil {
			left = append(left, d)
		}
	}
	return left
}

func killCgroupProcs(root string) {
	for _, d := range cgroupDirs(root) {
		_ = filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
			if err != nil || e.Name() != "cgroup.procs" {
				return nil
			}
			data, _ := os.ReadFile(p)
			for f := range strings.FieldsSeq(string(data)) {
				if pid, err := strconv.Atoi(f); err == nil && pid != os.Getpid() {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
			return nil
		})
	}
}

// removeCgroups removes cgroupRoot's tree, deepest first; a cgroup whose last
// process is still exiting is retried briefly.
func removeCgroups(root string) {
	for range 50 {
		left := false
		for _, d := range cgroupDirs(root) {
			var dirs []string
			_ = filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
				if err == nil && e.IsDir() {
					dirs = append(dirs, p)
				}
				return nil
			})
			for i := len(dirs) - 1; i >= 0; i-- {
				if err := syscall.Rmdir(dirs[i]); err != nil && !errors.Is(err, syscall.ENOENT) {
					left = true
				}
			}
		}
		if !left {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var ipTables = []string{"filter", "nat", "mangle"}

// iptablesCommands are the IPv4 and IPv6 iptables present (kube-proxy uses both).
func iptablesCommands() []string {
	var out []string
	for _, c := range []string{"iptables", "ip6tables"} {
		if _, err := exec.LookPath(c + "-save"); err == nil {
			out = append(out, c)
		}
	}
	return out
}

// isNodeChain: the chains a node's kubelet, kube-proxy and CNI plugins make.
func isNodeChain(name string) bool {
	return strings.HasPrefix(name, "KUBE-") || strings.HasPrefix(name, "CNI-")
}

// Chains lists the KUBE-*/CNI-* chains per "command table".
func Chains(ctx context.Context) map[string][]string {
	out := map[string][]string{}
	for _, cmd := range iptablesCommands() {
		for _, t := range ipTables {
			save, err := exec.CommandContext(ctx, cmd+"-save", "-t", t).Output()
			if err != nil {
				continue
			}
			for line := range strings.SplitSeq(string(save), "\n") {
				if name, ok := strings.CutPrefix(line, ":"); ok {
					name = strings.Fields(name)[0]
					if isNodeChain(name) {
						out[cmd+" "+t] = append(out[cmd+" "+t], name)
					}
				}
			}
		}
	}
	return out
}

// removeNewChains deletes the KUBE-*/CNI-* chains that were not there before
// the node ran, and the rules elsewhere that jump to them, in one
// iptables-restore --noflush per table (it parses the saved rules' quoting).
func removeNewChains(ctx context.Context, before map[string][]string) {
	for _, cmd := range iptablesCommands() {
		for _, t := range ipTables {
			save, err := exec.CommandContext(ctx, cmd+"-save", "-t", t).Output()
			if err != nil {
				continue
			}
			var ours []string
			for line := range strings.SplitSeq(string(save), "\n") {
				if name, ok := strings.CutPrefix(line, ":"); ok {
					name = strings.Fields(name)[0]
					if isNodeChain(name) && !slices.Contains(before[cmd+" "+t], name) {
						ours = append(ours, name)
					}
				}
			}
			if len(ours) == 0 {
				continue
			}
			var script strings.Builder
			fmt.Fprintf(&script, "*%s\n", t)
			for line := range strings.SplitSeq(string(save), "\n") {
				rest, ok := strings.CutPrefix(line, "-A ")
				if !ok {
					continue
				}
				f := strings.Fields(rest)
				if slices.Contains(ours, f[0]) {
					continue // flushed below
				}
				for i := 0; i+1 < len(f); i++ {
					if (f[i] == "-j" || f[i] == "-g") && slices.Contains(ours, f[i+1]) {
						script.WriteString("-D " + rest + "\n")
						break
					}
				}
			}
			for _, ch := range ours {
				fmt.Fprintf(&script, "-F %s\n", ch)
			}
			for _, ch := range ours {
				fmt.Fprintf(&script, "-X %s\n", ch)
			}
			script.WriteString("COMMIT\n")
			restore := exec.CommandContext(ctx, cmd+"-restore", "--noflush")
			restore.Stdin = strings.NewReader(script.String())
			_ = restore.Run()
		}
	}
}
