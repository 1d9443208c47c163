package realnode

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"gantry.dev/gantry/internal/binimage"
	"gantry.dev/gantry/internal/kubebin"
	"gantry.dev/gantry/internal/kubeconfig"
	"gantry.dev/gantry/internal/pageout"
	"gantry.dev/gantry/internal/pki"
	"gantry.dev/gantry/internal/supervisor"
)

// RealLabel marks a node that runs containers (simulated ones carry
// gantry.dev/simulated=true). The node is also tainted RealLabel=true:NoSchedule:
// until virtual clusters' pods are meant to run for real, a pod lands there only
// when it asks (Toleration), so that an image no registry serves never stalls a
// pod that ran "simulated" before.
const RealLabel = "gantry.dev/real"

// Toleration lets a pod onto the real node; with nodeSelector RealLabel: "true"
// it goes nowhere else.
var Toleration = corev1.Toleration{Key: RealLabel, Operator: corev1.TolerationOpEqual, Value: "true", Effect: corev1.TaintEffectNoSchedule}

// Component names, as `gantry status` and `gantry logs` show them.
const (
	Containerd = "containerd"
	Kubelet    = kubebin.Kubelet
	KubeProxy  = kubebin.KubeProxy
)

// Issuer issues certificates with the host cluster's CA (controlplane.ControlPlane).
type Issuer interface {
	Issue(dir, name string, spec pki.CertSpec) (*pki.KeyPair, error)
}

// Options configure one real node.
type Options struct {
	// Name is the node's name (default real-node-1).
	Name string
	// Dir holds all the node's state; it must be the node's own.
	Dir    string
	LogDir string
	Env    *Environment
	// Server and CA reach the host's kube-apiserver; Client is an admin client
	// of it (RBAC for the node, cordon and drain at stop).
	Server string
	CA     []byte
	Issuer Issuer
	Client kubernetes.Interface
	// PauseBinary is bin/gantry-pause, packed into the sandbox image
	// (default Env.PauseBinary).
	PauseBinary string
	// ReadyTimeout bounds the wait for the node to be Ready (default 90s).
	ReadyTimeout time.Duration
	// APIReady, when set, is closed once the API server answers: containerd
	// starts (and the sandbox image is imported) before, the kubelet after.
	APIReady <-chan struct{}
	// ClusterDNS is the address of the host's DNS Service, the kubelet's
	// clusterDNS for pods with dnsPolicy ClusterFirst; empty leaves them the
	// node's resolvers (and the kubelet's MissingClusterDNS warning). A fixed
	// address: the kubelet starts before the Service exists.
	ClusterDNS string
}

// DefaultName is the real node's name unless Options.Name says otherwise.
const DefaultName = "real-node-1"

// Node is one real node. New prepares nothing on the machine; Run does it all.
type Node struct {
	opts  Options
	l     layout
	ports ports
	procs []*supervisor.Process // containerd, kubelet, kube-proxy

	ready     chan struct{}
	readyOnce sync.Once
}

// New checks the options and chooses the node's ports.
func New(opts Options) (*Node, error) {
	if opts.Name == "" {
		opts.Name = DefaultName
	}
	if opts.PauseBinary == "" && opts.Env != nil {
		opts.PauseBinary = opts.Env.PauseBinary
	}
	if opts.ReadyTimeout == 0 {
		opts.ReadyTimeout = 90 * time.Second
	}
	if opts.Env == nil || opts.Issuer == nil || opts.Client == nil || opts.Dir == "" {
		return nil, errors.New("real node: environment, issuer, client and directory are required")
	}
	abs, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	opts.Dir = abs
	if opts.LogDir == "" {
		opts.LogDir = filepath.Join(abs, "logs")
	}
	n := &Node{opts: opts, l: newLayout(abs), ready: make(chan struct{})}
	for _, p := range []struct {
		into *int
		host string
	}{{&n.ports.kubelet, opts.Env.NodeIP}, {&n.ports.kubeletHealthz, "127.0.0.1"}, {&n.ports.proxyHealthz, "127.0.0.1"}, {&n.ports.proxyMetrics, "127.0.0.1"}} {
		if *p.into, err = freePort(p.host); err != nil {
			return nil, fmt.Errorf("real node: no free port on %s: %w", p.host, err)
		}
	}
	n.procs = []*supervisor.Process{
		supervisor.New(supervisor.Spec{Name: Containerd, Path: opts.Env.Tools["containerd"],
			Args: []string{"--config", n.l.path("containerd", "config.toml")}, LogPath: n.logPath(Containerd)}),
		supervisor.New(supervisor.Spec{Name: Kubelet, Path: opts.Env.Binaries[kubebin.Kubelet], Args: n.kubeletArgs(),
			LogPath: n.logPath(Kubelet), StopTimeout: 20 * time.Second}),
		supervisor.New(supervisor.Spec{Name: KubeProxy, Path: opts.Env.Binaries[kubebin.KubeProxy],
			Args: []string{"--config=" + n.l.path("kube-proxy.yaml"), "--v=1"}, LogPath: n.logPath(KubeProxy)}),
	}
	return n, nil
}

// Name is the node's name.
func (n *Node) Name() string { return n.opts.Name }

// Ready is closed once the node is Ready and kube-proxy runs.
func (n *Node) Ready() <-chan struct{} { return n.ready }

// Socket is containerd's socket (`gantry image load` imports through it).
func (n *Node) Socket() string { return n.l.socket() }

// Components reports containerd, the kubelet and kube-proxy.
func (n *Node) Components() []supervisor.Status {
	ready := false
	select {
	case <-n.ready:
		ready = true
	default:
	}
	out := make([]supervisor.Status, len(n.procs))
	for i, p := range n.procs {
		out[i] = p.Status()
		out[i].Ready = ready && out[i].Pid > 0
	}
	return out
}

func (n *Node) logPath(c string) string { return filepath.Join(n.opts.LogDir, c+".log") }

func (n *Node) kubeletArgs() []string {
	return []string{
		"--config=" + n.l.path("kubelet-config.yaml"),
		"--kubeconfig=" + n.l.path("kubelet.kubeconfig"),
		"--hostname-override=" + n.opts.Name,
		"--node-ip=" + n.opts.Env.NodeIP,
		"--root-dir=" + n.l.kubeletDir(),
		"--node-labels=" + RealLabel + "=true",
		"--register-with-taints=" + RealLabel + "=true:NoSchedule",
		"--v=1",
	}
}

// Run starts the node, keeps it running until ctx ends, then stops it and
// removes what it put on the machine. It returns once all of that is done: an
// error before the node was Ready means it never ran (and was cleaned up).
func (n *Node) Run(ctx context.Context) error {
	// Left over by a run that was killed: clean it up before starting afresh.
	n.cleanup(context.WithoutCancel(ctx))
	runCtx, stopAll := context.WithCancel(context.WithoutCancel(ctx))
	stops := make([]context.CancelFunc, len(n.procs))
	done := make([]chan struct{}, len(n.procs))
	defer func() {
		stopAll()
		for _, d := range done {
			if d != nil {
				<-d
			}
		}
		n.cleanup(context.WithoutCancel(ctx))
	}()
	run := func(i int) error {
		pctx, stop := context.WithCancel(runCtx)
		stops[i] = stop
		if err := n.procs[i].Start(); err != nil {
			return err
		}
		done[i] = make(chan struct{})
		go func() {
			defer close(done[i])
			_ = n.procs[i].Run(pctx) // returns once the process has exited
		}()
		return nil
	}
	if err := n.prepare(ctx); err != nil {
		return err
	}
	if err := run(0); err != nil {
		return err
	}
	if err := n.waitContainerd(ctx); err != nil {
		return err
	}
	if err := n.importPause(ctx); err != nil {
		return err
	}
	if n.opts.APIReady != nil {
		select {
		case <-n.opts.APIReady:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := n.bindNodeRole(ctx); err != nil {
		return err
	}
	if err := run(1); err != nil {
		return err
	}
	if err := n.waitNodeReady(ctx); err != nil {
		return err
	}
	if err := run(2); err != nil {
		return err
	}
	n.readyOnce.Do(func() { close(n.ready) })
	trim := time.AfterFunc(30*time.Second, n.pageOut)
	defer trim.Stop()
	<-ctx.Done()

	// In order: pods first while the kubelet still runs (it stops their
	// sandboxes, which tears their network down), then kube-proxy, the
	// kubelet and containerd.
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 60*time.Second)
	defer cancel()
	n.drain(stopCtx)
	for i := len(n.procs) - 1; i >= 0; i-- {
		if i == 0 {
			n.removeContainers(stopCtx)
		}
		stops[i]()
		<-done[i]
	}
	return nil
}

// pageOut gives back the code pages that the start-up of containerd, the
// kubelet and kube-proxy read and their idle loops do not (package pageout):
// measured here, the kubelet went from 87 to 57 MiB and kube-proxy from 62 to
// 22. What they run again faults back in from the page cache.
func (n *Node) pageOut() {
	for _, p := range n.procs {
		if pid := p.Status().Pid; pid > 0 {
			_, _ = pageout.Process(pid) // only RSS is at stake
		}
	}
}

// prepare writes the node's certificates, kubeconfigs and configuration,
// records what it is about to change on the machine and creates its cgroups;
// it needs no API server.
func (n *Node) prepare(ctx context.Context) error {
	l, o := n.l, n.opts
	for _, d := range []string{l.pki(), l.cniConfDir(), l.kubeletDir(), l.podLogsDir(), l.containerdDir()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(l.pki(), "ca.crt"), o.CA, 0o600); err != nil {
		return err
	}
	nodeUser := "system:node:" + o.Name
	client, err := o.Issuer.Issue(l.pki(), "kubelet-client", pki.CertSpec{CommonName: nodeUser, Organization: []string{"system:nodes"}, Client: true})
	if err != nil {
		return err
	}
	if _, err := o.Issuer.Issue(l.pki(), "kubelet-serving", pki.CertSpec{CommonName: nodeUser, Organization: []string{"system:nodes"},
		DNSNames: []string{o.Name}, IPs: []net.IP{net.ParseIP(o.Env.NodeIP)}, Server: true}); err != nil {
		return err
	}
	proxy, err := o.Issuer.Issue(l.pki(), "kube-proxy", pki.CertSpec{CommonName: "system:kube-proxy", Client: true})
	if err != nil {
		return err
	}
	for name, kp := range map[string]*pki.KeyPair{"kubelet": client, "kube-proxy": proxy} {
		key, err := kp.KeyPEM()
		if err != nil {
			return err
		}
		if err := (kubeconfig.Config{Name: name, Server: o.Server, CA: o.CA, CertPEM: kp.CertPEM(), KeyPEM: key}).Write(l.path(name + ".kubeconfig")); err != nil {
			return err
		}
	}
	st, err := n.record(ctx)
	if err != nil {
		return err
	}
	conflist, err := cniConfig(l, st.Subnet)
	if err != nil {
		return err
	}
	kubelet, err := kubeletConfig(l, o.Env, n.ports, o.ClusterDNS)
	if err != nil {
		return err
	}
	proxyCfg, err := kubeProxyConfig(l, o.Name, st.Subnet, n.ports)
	if err != nil {
		return err
	}
	for path, data := range map[string][]byte{
		filepath.Join(l.cniConfDir(), "10-gantry.conflist"): conflist,
		l.path("containerd", "config.toml"):                 []byte(containerdConfig(l, o.Env)),
		l.path("kubelet-config.yaml"):                       kubelet,
		l.path("kube-proxy.yaml"):                           proxyCfg,
	} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return err
		}
	}
	if err := createCgroups(l.cgroupRoot()); err != nil {
		return fmt.Errorf("real node: creating cgroup %s: %w", l.cgroupRoot(), err)
	}
	return nil
}

// bindNodeRole lets the node act as itself: kube-apiserver authorizes by RBAC
// only (the Node authorizer's graph of every pod would cost the host memory),
// so its identity gets system:node through a binding of its own.
func (n *Node) bindNodeRole(ctx context.Context) error {
	o, nodeUser := n.opts, "system:node:"+n.opts.Name
	crb := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: n.bindingName(), Labels: map[string]string{RealLabel: "true"}},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:node"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: nodeUser}},
	}
	if _, err := o.Client.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("real node: binding %s to system:node: %w", nodeUser, err)
	}
	return nil
}

func (n *Node) bindingName() string { return "gantry:real-node:" + n.opts.Name }

// record saves, before anything changes, what the node will change: ip_forward
// (the bridge plugin turns it on), the iptables chains that are not its own,
// and its subnet. A saved record from a killed run is kept: it holds the state
// from before that run.
func (n *Node) record(ctx context.Context) (*saved, error) {
	if st, err := loadSaved(n.l.savedPath()); err == nil && st.Subnet != "" {
		return st, nil
	}
	fwd, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	if err != nil {
		return nil, err
	}
	subnet, err := chooseSubnet(n.l)
	if err != nil {
		return nil, err
	}
	st := &saved{IPForward: strings.TrimSpace(string(fwd)), Chains: Chains(ctx), Subnet: subnet}
	return st, st.write(n.l.savedPath())
}

func (n *Node) ctr(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, n.opts.Env.Tools["ctr"], append([]string{"--address", n.l.socket(), "--namespace", "k8s.io"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("ctr %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// Ctr runs ctr against the node's containerd in the kubelet's namespace.
func (n *Node) Ctr(ctx context.Context, args ...string) ([]byte, error) { return n.ctr(ctx, args...) }

// Snapshotter is the snapshotter images are unpacked for.
func (n *Node) Snapshotter() string { return n.opts.Env.Snapshotter }

func (n *Node) waitContainerd(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		if _, err := n.ctr(ctx, "version"); err == nil {
			return nil
		}
		if n.procs[0].Status().Pid == 0 && n.procs[0].Status().LastExit != "" {
			return fmt.Errorf("real node: containerd exited (%s); see `gantry logs containerd`", n.procs[0].Status().LastExit)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("real node: containerd did not answer on %s within 30s; see `gantry logs containerd`", n.l.socket())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// importPause packs bin/gantry-pause as the sandbox image and imports it.
func (n *Node) importPause(ctx context.Context) error {
	if n.opts.PauseBinary == "" {
		return errors.New("real node: gantry-pause not found beside gantry (build it with `make build`)")
	}
	tar := n.l.path("pause.tar")
	f, err := os.Create(tar)
	if err != nil {
		return err
	}
	err = binimage.Write(f, n.opts.PauseBinary, SandboxImage, "pause")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("real node: packing the sandbox image: %w", err)
	}
	defer os.Remove(tar)
	_, err = n.ctr(ctx, "images", "import", "--snapshotter", n.opts.Env.Snapshotter, tar)
	return err
}

func (n *Node) waitNodeReady(ctx context.Context) error {
	deadline := time.Now().Add(n.opts.ReadyTimeout)
	for time.Now().Before(deadline) {
		if st := n.procs[1].Status(); st.LastExit != "" {
			// The kubelet's own words, rather than a timeout a minute later.
			return fmt.Errorf("real node: the kubelet exited (%s): %s; see `gantry logs kubelet`", st.LastExit, lastError(n.logPath(Kubelet)))
		}
		node, err := n.opts.Client.CoreV1().Nodes().Get(ctx, n.opts.Name, metav1.GetOptions{})
		if err == nil {
			for _, c := range node.Status.Conditions {
				if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("real node %s was not Ready after %s; see `gantry logs kubelet`", n.opts.Name, n.opts.ReadyTimeout)
}

// lastError is the last error line of a klog log ("E1206 ... msg"), for saying
// why a component stopped.
func lastError(logPath string) string {
	data, err := os.ReadFile(logPath)
	if err != nil {
		return "no log"
	}
	last := ""
	for line := range strings.SplitSeq(string(data), "\n") {
		if strings.HasPrefix(line, "E") {
			last = line
		}
	}
	if i := strings.Index(last, "] "); i >= 0 {
		last = last[i+2:]
	}
	if last == "" {
		return "no error in its log"
	}
	return last
}
