package realnode

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"

	"sigs.k8s.io/yaml"
)

// bridgePrefix starts every bridge a gantry real node makes ("gty" + 8 hex).
const bridgePrefix = "gty"

// SandboxImage is the pause image containerd's sandbox_image names; gantry
// imports it at node start from bin/gantry-pause, so it is never pulled.
const SandboxImage = "gantry.local/pause:1"

// layout is where everything of one node lives, and its machine-unique names.
type layout struct {
	dir string
	id  string // 8 hex digits of the directory's hash: unique per gantry
}

func newLayout(dir string) layout {
	sum := sha256.Sum256([]byte(dir))
	return layout{dir: dir, id: hex.EncodeToString(sum[:4])}
}

func (l layout) path(p ...string) string { return filepath.Join(append([]string{l.dir}, p...)...) }
func (l layout) pki() string             { return l.path("pki") }
func (l layout) containerdDir() string   { return l.path("containerd") }
func (l layout) socket() string          { return l.path("containerd", "containerd.sock") }
func (l layout) kubeletDir() string      { return l.path("kubelet") }
func (l layout) podLogsDir() string      { return l.path("pod-logs") }
func (l layout) cniConfDir() string      { return l.path("cni", "net.d") }
func (l layout) savedPath() string       { return l.path("saved.json") }
func (l layout) bridge() string          { return bridgePrefix + l.id }
func (l layout) network() string         { return "gantry-" + l.id }

// cgroupRoot is the kubelet's cgroupRoot: kubepods lives under it, never at
// the top of the hierarchy, so two kubelets on one machine do not share one.
func (l layout) cgroupRoot() string { return "/gantry-" + l.id }

// saved is what a node changed on the machine, written before the change so
// that a stop (or the next start, after a crash) can put it back.
type saved struct {
	IPForward string `json:"ipForward"`
	// Chains are the KUBE-*/CNI-* iptables chains present before the node ran,
	// per "command table": those are someone else's and stay.
	Chains map[string][]string `json:"chains"`
	Subnet string              `json:"subnet"`
}

func loadSaved(path string) (*saved, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s saved
	return &s, json.Unmarshal(data, &s)
}

func (s *saved) write(path string) error {
	data, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o600)
}

// containerdConfig is containerd 1.6's configuration: every path under the
// node's directory (runc's state too), CRI with the local sandbox image, the
// node's own CNI directory and, where CAP_SYS_RESOURCE is missing, clamped
// oom_score_adj.
func containerdConfig(l layout, env *Environment) string {
	c := l.containerdDir()
	return fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]

[grpc]
  address = %q

[plugins."io.containerd.internal.v1.opt"]
  path = %q

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %q
  restrict_oom_score_adj = %t
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = %q
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = %q
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %q
    conf_dir = %q
`, filepath.Join(c, "root"), filepath.Join(c, "state"), l.socket(), filepath.Join(c, "opt"),
		SandboxImage, env.RestrictOOMScoreAdj, env.Snapshotter, filepath.Join(c, "runc"), env.CNIBinDir, l.cniConfDir())
}

// cniConfig is a bridge network with the node's own bridge name and subnet.
func cniConfig(l layout, subnet string) ([]byte, error) {
	return json.MarshalIndent(map[string]any{
		"cniVersion": "1.0.0",
		"name":       l.network(),
		"plugins": []any{
			map[string]any{
				"type": "bridge", "bridge": l.bridge(), "isGateway": true, "ipMasq": true, "hairpinMode": true,
				"ipam": map[string]any{
					"type":    "host-local",
					"ranges":  [][]map[string]string{{{"subnet": subnet}}},
					"routes":  []map[string]string{{"dst": "0.0.0.0/0"}},
					"dataDir": l.path("cni", "ipam"),
				},
			},
			map[string]any{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}},
		},
	}, "", "  ")
}

// chooseSubnet picks a /24 in 10.90.0.0/16 that no address or route of the
// machine overlaps, starting from one derived from the node's id.
func chooseSubnet(l layout) (string, error) {
	var used []netip.Prefix
	ifaces, err := net.Interfaces()
	if err != nil {
		return "", err
	}
	for _, i := range ifaces {
		addrs, _ := i.Addrs()
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil {
				used = append(used, p.Masked())
			}
		}
	}
	start, _ := strconv.ParseUint(l.id[:2], 16, 8)
	for k := range 256 {
		p := netip.MustParsePrefix(fmt.Sprintf("10.90.%d.0/24", (int(start)+k)%256))
		free := true
		for _, u := range used {
			if u.Overlaps(p) && u.Bits() > 8 { // a /8 on some interface is not a reason to give up
				free = false
				break
			}
		}
		if free {
			return p.String(), nil
		}
	}
	return "", fmt.Errorf("no free /24 in 10.90.0.0/16 for the pod network")
}

// ports are the node's listeners, all chosen free at start.
type ports struct {
	kubelet, kubeletHealthz, proxyHealthz, proxyMetrics int
}

// kubeletConfig: webhook authentication and authorization against the host
// (never anonymous), serving and client CA from gantry's, the settings this
// kind of machine needs (cgroup v1, no systemd, no CAP_SYS_RESOURCE, swap) and
// no image garbage collection: locally loaded images are the only copies.
// clusterDNS, when set, is the nameserver of pods with dnsPolicy ClusterFirst.
func kubeletConfig(l layout, env *Environment, p ports, clusterDNS string) ([]byte, error) {
	cfg := map[string]any{
		"apiVersion":               "kubelet.config.k8s.io/v1beta1",
		"kind":                     "KubeletConfiguration",
		"containerRuntimeEndpoint": "unix://" + l.socket(),
		"cgroupDriver":             "cgroupfs",
		"cgroupRoot":               l.cgroupRoot(),
		"cgroupsPerQOS":            true,
		"enforceNodeAllocatable":   []string{"pods"},
		"failCgroupV1":             false,
		"failSwapOn":               false,
		"address":                  env.NodeIP,
		"port":                     p.kubelet,
		"readOnlyPort":             0,
		"healthzBindAddress":       "127.0.0.1",
		"healthzPort":              p.kubeletHealthz,
		"tlsCertFile":              filepath.Join(l.pki(), "kubelet-serving.crt"),
		"tlsPrivateKeyFile":        filepath.Join(l.pki(), "kubelet-serving.key"),
		"authentication": map[string]any{
			"anonymous": map[string]bool{"enabled": false},
			"webhook":   map[string]any{"enabled": true},
			"x509":      map[string]string{"clientCAFile": filepath.Join(l.pki(), "ca.crt")},
		},
		"authorization":                 map[string]string{"mode": "Webhook"},
		"staticPodPath":                 "",
		"podLogsDir":                    l.podLogsDir(),
		"clusterDomain":                 "cluster.local",
		"resolvConf":                    "/etc/resolv.conf",
		"registerNode":                  true,
		"localStorageCapacityIsolation": true,
		"imageGCHighThresholdPercent":   100,
		"imageGCLowThresholdPercent":    99,
		"imageMinimumGCAge":             "876000h",
		"evictionHard": map[string]string{
			"memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%", "nodefs.inodesFree": "1%",
		},
		"serializeImagePulls":       false,
		"oomScoreAdj":               0,
		"syncFrequency":             "10s",
		"nodeStatusUpdateFrequency": "10s",
	}
	if clusterDNS != "" {
		cfg["clusterDNS"] = []string{clusterDNS}
	}
	return yaml.Marshal(cfg)
}

// kubeProxyConfig: iptables mode; no machine-wide sysctls touched (conntrack
// limits left alone, no route_localnet for localhost NodePorts).
func kubeProxyConfig(l layout, nodeName, clusterCIDR string, p ports) ([]byte, error) {
	return yaml.Marshal(map[string]any{
		"apiVersion":         "kubeproxy.config.k8s.io/v1alpha1",
		"kind":               "KubeProxyConfiguration",
		"mode":               "iptables",
		"clientConnection":   map[string]string{"kubeconfig": l.path("kube-proxy.kubeconfig")},
		"hostnameOverride":   nodeName,
		"clusterCIDR":        clusterCIDR,
		"healthzBindAddress": "127.0.0.1:" + strconv.Itoa(p.proxyHealthz),
		"metricsBindAddress": "127.0.0.1:" + strconv.Itoa(p.proxyMetrics),
		"conntrack":          map[string]any{"maxPerCore": 0, "min": 0, "tcpEstablishedTimeout": "0s", "tcpCloseWaitTimeout": "0s"},
		"iptables":           map[string]any{"localhostNodePorts": false},
	})
}

func freePort(host string) (int, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
