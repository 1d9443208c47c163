package nodetest

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// EnvKubelet names the kubelet binary the tests use; by default the
// repository's bin/kubelet.
const EnvKubelet = "GANTRY_TEST_KUBELET"

// Options describe the node to start.
type Options struct {
	// Kubeconfig is an admin kubeconfig of the host cluster the node joins.
	Kubeconfig string
	// Name is the node's name. The host API server reaches a kubelet by its
	// name first (unless told --kubelet-preferred-address-types), so it must
	// resolve to this machine: default "localhost".
	Name string
	// Kubelet is the kubelet binary (default $GANTRY_TEST_KUBELET, else
	// bin/kubelet of the repository).
	Kubelet string
	// Labels are the node's labels (pods select it by them).
	Labels map[string]string
}

// Node is a running real node.
type Node struct {
	Name string
	dir  string
	sock string
	// cgroupRoot is the node's own cgroup parent (kubelet's cgroupRoot).
	cgroupRoot string
	bridge     string
	// KubeletPort is where the kubelet serves its API (on 127.0.0.1).
	KubeletPort int
	host        kubernetes.Interface
	containerd  *exec.Cmd
	kubelet     *exec.Cmd
}

// KubeletBinary is where the tests find the kubelet.
func KubeletBinary() string {
	if k := os.Getenv(EnvKubelet); k != "" {
		return k
	}
	return filepath.Join(sourceDir(), "..", "..", "bin", "kubelet")
}

// Unavailable says why this machine cannot run a real node ("" when it can):
// the first missing piece and how to get it.
func Unavailable(kubelet string) string {
	if os.Geteuid() != 0 {
		return "a real node needs root (containerd, mounts, cgroups)"
	}
	for _, bin := range []string{"containerd", "containerd-shim-runc-v2", "runc", "ctr"} {
		if _, err := exec.LookPath(bin); err != nil {
			return bin + " is not installed (apt-get install containerd runc)"
		}
	}
	if _, err := os.Stat("/usr/lib/cni/bridge"); err != nil {
		return "the CNI bridge plugin is missing (apt-get install containernetworking-plugins)"
	}
	if _, err := os.Stat(kubelet); err != nil {
		return fmt.Sprintf("no kubelet at %s (build one from tools/kube, or set %s)", kubelet, EnvKubelet)
	}
	if _, err := os.Stat("/sys/fs/cgroup"); err != nil {
		return "no cgroup file system at /sys/fs/cgroup"
	}
	return ""
}

// Start starts containerd and a kubelet joined to the host, imports the
// test images, waits until the node is Ready, and stops and removes
// everything when the test ends. It skips the test, saying why, when the
// machine cannot run a real node.
func Start(t testing.TB, o Options) *Node {
	t.Helper()
	if o.Kubelet == "" {
		o.Kubelet = KubeletBinary()
	}
	if o.Name == "" {
		o.Name = "localhost"
	}
	if why := Unavailable(o.Kubelet); why != "" {
		t.Skipf("no real node on this machine: %s", why)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", o.Kubeconfig)
	must(t, err)
	host, err := kubernetes.NewForConfig(cfg)
	must(t, err)
	dir := t.TempDir()
	id := fmt.Sprintf("%d%02d", os.Getpid()%10000, time.Now().UnixNano()%100)
	n := &Node{Name: o.Name, dir: dir, sock: filepath.Join(dir, "containerd.sock"),
		cgroupRoot: "nodetest-" + id, bridge: "nt" + id, host: host}
	t.Cleanup(func() { n.stop(t) })

	n.writeConfigs(t, o)
	n.containerd = n.run(t, "containerd", "containerd", "--config", filepath.Join(dir, "containerd.toml"))
	waitFor(t, 30*time.Second, "containerd to answer", func() bool {
		return exec.Command("ctr", "-a", n.sock, "version").Run() == nil
	})
	imgDir := filepath.Join(dir, "images")
	must(t, os.MkdirAll(imgDir, 0o755))
	n.Import(t, buildImage(t, imgDir, "pause", PauseImage))
	n.Import(t, buildImage(t, imgDir, "hello", HelloImage, helloLinks...))

	labels := []string{}
	for k, v := range o.Labels {
		labels = append(labels, k+"="+v)
	}
	sort.Strings(labels)
	n.kubelet = n.run(t, "kubelet", o.Kubelet,
		"--config="+filepath.Join(dir, "kubelet.yaml"),
		"--kubeconfig="+o.Kubeconfig,
		"--hostname-override="+o.Name,
		"--node-ip="+nodeIP(t),
		"--root-dir="+filepath.Join(dir, "kubelet"),
		"--node-labels="+strings.Join(labels, ","),
		"--v=1")
	waitFor(t, 90*time.Second, "node "+o.Name+" to be Ready", func() bool {
		node, err := host.CoreV1().Nodes().Get(context.Background(), o.Name, metav1.GetOptions{})
		if err != nil {
			return false
		}
		for _, c := range node.Status.Conditions {
			if c.Type == corev1.NodeReady {
				return c.Status == corev1.ConditionTrue
			}
		}
		return false
	})
	return n
}

// Import loads a docker-save or OCI tarball into the node's containerd,
// where the kubelet finds it (namespace k8s.io).
func (n *Node) Import(t testing.TB, tarball string) {
	t.Helper()
	if out, err := exec.Command("ctr", "-a", n.sock, "-n", "k8s.io", "images", "import", tarball).CombinedOutput(); err != nil {
		t.Fatalf("importing %s: %v\n%s", tarball, err, out)
	}
}

// Log returns the end of a component's log ("kubelet", "containerd").
func (n *Node) Log(component string) string {
	data, _ := os.ReadFile(filepath.Join(n.dir, component+".log"))
	lines := strings.Split(string(data), "\n")
	return strings.Join(lines[max(0, len(lines)-40):], "\n")
}

func (n *Node) run(t testing.TB, name, bin string, args ...string) *exec.Cmd {
	t.Helper()
	log, err := os.Create(filepath.Join(n.dir, name+".log"))
	must(t, err)
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	// Gone with the test binary, whatever happens to it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() { _ = cmd.Wait(); log.Close() }()
	return cmd
}

func (n *Node) writeConfigs(t testing.TB, o Options) {
	t.Helper()
	d := n.dir
	must(t, os.MkdirAll(filepath.Join(d, "cni", "net.d"), 0o755))
	subnet := fmt.Sprintf("10.213.%d.0/24", os.Getpid()%250)
	cni := fmt.Sprintf(`{"cniVersion": "1.0.0", "name": "%s", "plugins": [{"type": "bridge", "bridge": "%s",
  "ipam": {"type": "host-local", "ranges": [[{"subnet": "%s"}]], "dataDir": "%s"}}]}`,
		n.bridge, n.bridge, subnet, filepath.Join(d, "cni", "ipam"))
	must(t, os.WriteFile(filepath.Join(d, "cni", "net.d", "10-bridge.conflist"), []byte(cni), 0o644))
	containerd := fmt.Sprintf(`version = 2
root = %[1]q
state = %[2]q
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = %[3]q
[ttrpc]
  address = %[4]q
[plugins."io.containerd.internal.v1.opt"]
  path = %[5]q
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %[6]q
  # No CAP_SYS_RESOURCE on some machines: clamp oom_score_adj instead of failing.
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = %[7]q
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = %[8]q
`, filepath.Join(d, "containerd", "root"), filepath.Join(d, "containerd", "state"), n.sock, n.sock+".ttrpc",
		filepath.Join(d, "opt"), PauseImage, filepath.Join(d, "runc"), filepath.Join(d, "cni", "net.d"))
	must(t, os.WriteFile(filepath.Join(d, "containerd.toml"), []byte(containerd), 0o644))

	port, healthz := freePort(t), freePort(t)
	n.KubeletPort = port
	n.makeCgroupRoot(t)
	kubelet := fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
containerRuntimeEndpoint: unix://%[1]s
imageServiceEndpoint: unix://%[1]s
cgroupDriver: cgroupfs
cgroupRoot: /%[2]s
failCgroupV1: false
failSwapOn: false
address: 127.0.0.1
port: %[3]d
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: %[4]d
authentication:
  anonymous:
    enabled: true
  webhook:
    enabled: false
authorization:
  mode: AlwaysAllow
podLogsDir: %[5]s
volumePluginDir: %[6]s
staticPodPath: ""
clusterDomain: cluster.local
registerNode: true
resolvConf: /etc/resolv.conf
cgroupsPerQOS: true
enforceNodeAllocatable: ["pods"]
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: "100Mi"
  nodefs.available: "1%%"
  imagefs.available: "1%%"
  nodefs.inodesFree: "1%%"
serializeImagePulls: false
oomScoreAdj: 0
nodeStatusUpdateFrequency: 10s
`, n.sock, n.cgroupRoot, port, healthz, filepath.Join(d, "pods"), filepath.Join(d, "volume-plugins"))
	must(t, os.WriteFile(filepath.Join(d, "kubelet.yaml"), []byte(kubelet), 0o644))
}

// cgroupMounts are the cgroup hierarchies mounted on this machine (v1's, one
// per controller set, and v2's unified one).
func cgroupMounts() []string {
	f, err := os.Open("/proc/self/mounts")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		fs := strings.Fields(s.Text())
		if len(fs) > 2 && (fs[2] == "cgroup" || fs[2] == "cgroup2") {
			out = append(out, fs[1])
		}
	}
	return out
}

// makeCgroupRoot makes the node's cgroup parent in every hierarchy: the
// kubelet refuses a cgroupRoot that does not exist.
func (n *Node) makeCgroupRoot(t testing.TB) {
	t.Helper()
	for _, m := range cgroupMounts() {
		if err := os.Mkdir(filepath.Join(m, n.cgroupRoot), 0o755); err != nil && !os.IsExist(err) {
			t.Fatalf("making cgroup %s: %v", n.cgroupRoot, err)
		}
	}
}

// stop undoes Start: the node cordoned (a syncer would otherwise bring
// back the pods it owns) and its pods deleted while the kubelet runs (it
// tears down their sandboxes and networks), then the kubelet, the node
// object, containerd and the shims it left; whatever still runs in the
// node's cgroups is killed and its network namespace removed; then mounts
// under the node's directory, its cgroups, bridge and log links.
func (n *Node) stop(t testing.TB) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if n.kubelet != nil {
		_, _ = n.host.CoreV1().Nodes().Patch(ctx, n.Name, types.MergePatchType, []byte(`{"spec":{"unschedulable":true}}`), metav1.PatchOptions{})
		sel := fields.OneTermEqualSelector("spec.nodeName", n.Name).String()
		for ctx.Err() == nil {
			pods, err := n.host.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: sel})
			if err != nil || len(pods.Items) == 0 {
				break
			}
			for _, p := range pods.Items {
				if p.DeletionTimestamp == nil {
					_ = n.host.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{})
				}
			}
			time.Sleep(200 * time.Millisecond)
		}
		stopProcess(n.kubelet)
	}
	_ = n.host.CoreV1().Nodes().Delete(ctx, n.Name, metav1.DeleteOptions{})
	if n.containerd != nil {
		stopProcess(n.containerd)
	}
	n.killShims()
	n.killLeftovers(t)
	n.unmount(t)
	for _, m := range cgroupMounts() {
		removeTree(filepath.Join(m, n.cgroupRoot))
	}
	_ = exec.Command("ip", "link", "del", n.bridge).Run()
	if links, err := os.ReadDir("/var/log/containers"); err == nil {
		for _, l := range links {
			p := filepath.Join("/var/log/containers", l.Name())
			if dst, err := os.Readlink(p); err == nil && strings.HasPrefix(dst, n.dir) {
				_ = os.Remove(p)
			}
		}
	}
}

// killLeftovers kills every process still in the node's cgroups (containers
// whose shim is gone) and removes the network namespaces they held, named
// under /run/netns by the CNI plugins: only those, matched by inode.
func (n *Node) killLeftovers(t testing.TB) {
	var pids []int
	for _, m := range cgroupMounts() {
		_ = filepath.WalkDir(filepath.Join(m, n.cgroupRoot), func(p string, d os.DirEntry, err error) error {
			if err != nil || d.Name() != "cgroup.procs" {
				return nil
			}
			data, _ := os.ReadFile(p)
			for f := range strings.FieldsSeq(string(data)) {
				var pid int
				if _, err := fmt.Sscanf(f, "%d", &pid); err == nil && !slices.Contains(pids, pid) {
					pids = append(pids, pid)
				}
			}
			return nil
		})
	}
	netns := map[uint64]bool{}
	for _, pid := range pids {
		var st syscall.Stat_t
		if syscall.Stat(fmt.Sprintf("/proc/%d/ns/net", pid), &st) == nil {
			netns[st.Ino] = true
		}
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	if len(pids) > 0 {
		t.Logf("killed %d processes left in the node's cgroups", len(pids))
	}
	entries, _ := os.ReadDir("/run/netns")
	for _, e := range entries {
		p := filepath.Join("/run/netns", e.Name())
		var st syscall.Stat_t
		if syscall.Stat(p, &st) == nil && netns[st.Ino] {
			_ = syscall.Unmount(p, syscall.MNT_DETACH)
			_ = os.Remove(p)
		}
	}
	for range 50 {
		alive := 0
		for _, pid := range pids {
			if syscall.Kill(pid, 0) == nil {
				alive++
			}
		}
		if alive == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func stopProcess(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	for range 50 {
		if cmd.ProcessState != nil || syscall.Kill(cmd.Process.Pid, 0) != nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
}

// killShims stops the containerd shims that serve this node's containerd
// (they outlive it by design), found by the socket on their command line.
func (n *Node) killShims() {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		args := strings.Split(string(data), "\x00")
		if len(args) == 0 || filepath.Base(args[0]) != "containerd-shim-runc-v2" {
			continue
		}
		if i := slices.Index(args, "-address"); i >= 0 && i+1 < len(args) && args[i+1] == n.sock {
			var pid int
			if _, err := fmt.Sscanf(filepath.Base(filepath.Dir(p)), "%d", &pid); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
				// Killed, it cannot remove its socket, which containerd 1.6
				// names after its own address, namespace and the shim's id.
				ns, id := argAfter(args, "-namespace"), argAfter(args, "-id")
				sum := sha256.Sum256([]byte(filepath.Join(n.sock, ns, id)))
				_ = os.Remove(filepath.Join("/run/containerd/s", hex.EncodeToString(sum[:])))
			}
		}
	}
}

func argAfter(args []string, flag string) string {
	if i := slices.Index(args, flag); i >= 0 && i+1 < len(args) {
		return args[i+1]
	}
	return ""
}

// unmount removes every mount under the node's directory, deepest first.
func (n *Node) unmount(t testing.TB) {
	data, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return
	}
	var mounts []string
	for line := range strings.SplitSeq(string(data), "\n") {
		if fs := strings.Fields(line); len(fs) > 1 && strings.HasPrefix(fs[1], n.dir+"/") {
			mounts = append(mounts, fs[1])
		}
	}
	sort.Slice(mounts, func(i, j int) bool { return len(mounts[i]) > len(mounts[j]) })
	for _, m := range mounts {
		if err := syscall.Unmount(m, 0); err != nil {
			if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil {
				t.Logf("unmounting %s: %v", m, err)
			}
		}
	}
}

// removeTree removes a cgroup directory and its children (rmdir, deepest first).
func removeTree(root string) {
	var dirs []string
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		_ = syscall.Rmdir(dirs[i])
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// nodeIP is this machine's address on its default route (the kubelet refuses
// a loopback node IP).
func nodeIP(t testing.TB) string {
	t.Helper()
	c, err := net.Dial("udp", "192.0.2.1:9")
	must(t, err)
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).IP.String()
}

func waitFor(t testing.TB, within time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
