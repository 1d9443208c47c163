package controlplane

import (
	"path/filepath"
	"strconv"
	"strings"

	"gantry.dev/gantry/internal/kubebin"
	"gantry.dev/gantry/internal/supervisor"
)

// apiServerFlags are kube-apiserver's defaults. Memory-minded choices, each keeping
// the API complete for users:
//   - priority-and-fairness off: one tenant per control plane, and its queues cost
//     memory and goroutines;
//   - profiling off; the endpoint reconciler off (endpoints of the kubernetes Service
//     cannot be a loopback address, and nothing runs in-cluster that would use them).
//
// shutdown-send-retry-after bounds a stop: without it the API server's HTTP server
// waits up to --request-timeout (60 s) for connections that carry watches (its own
// controller-manager's among them) to go idle, so every stop, sleep or restart ran
// into the supervisor's 10 s SIGKILL. With it, requests in flight finish, new ones
// get 429 with Retry-After (client-go retries), and the server closes within 2 s.
func (cp *ControlPlane) apiServerFlags() Flags {
	pki := cp.pkiDir()
	f := Flags{
		"advertise-address":            cp.clientHost(),
		"allow-privileged":             "true",
		"anonymous-auth":               "true",
		"api-audiences":                "https://kubernetes.default.svc.cluster.local",
		"authorization-mode":           "RBAC",
		"bind-address":                 cp.opts.BindAddress,
		"client-ca-file":               filepath.Join(pki, "ca.crt"),
		"enable-priority-and-fairness": "false",
		"endpoint-reconciler-type":     "none",
		"etcd-servers":                 cp.etcdURL(),
		// The object counts (apiserver_storage_objects) are not read by
		// anything of gantry's; counting every type once a minute is a
		// query per type into kine, idle or not.
		"etcd-count-metric-poll-period":      "0",
		"profiling":                          "false",
		"proxy-client-cert-file":             filepath.Join(pki, "front-proxy-client.crt"),
		"proxy-client-key-file":              filepath.Join(pki, "front-proxy-client.key"),
		"requestheader-allowed-names":        frontProxyUser,
		"requestheader-client-ca-file":       filepath.Join(pki, "front-proxy-ca.crt"),
		"requestheader-extra-headers-prefix": "X-Remote-Extra-",
		"requestheader-group-headers":        "X-Remote-Group",
		"requestheader-username-headers":     "X-Remote-User",
		"secure-port":                        strconv.Itoa(cp.apiPort),
		"service-account-issuer":             "https://kubernetes.default.svc.cluster.local",
		"service-account-key-file":           filepath.Join(pki, "sa.pub"),
		"service-account-signing-key-file":   filepath.Join(pki, "sa.key"),
		"service-cluster-ip-range":           cp.opts.ServiceCIDR,
		"shutdown-send-retry-after":          "true",
		"tls-cert-file":                      filepath.Join(pki, "apiserver.crt"),
		"tls-private-key-file":               filepath.Join(pki, "apiserver.key"),
		"watch-cache":                        "false",
	}
	if cp.opts.Kubelets {
		f = f.With(Flags{
			"kubelet-certificate-authority":   filepath.Join(pki, "ca.crt"),
			"kubelet-client-certificate":      filepath.Join(pki, "apiserver-kubelet-client.crt"),
			"kubelet-client-key":              filepath.Join(pki, "apiserver-kubelet-client.key"),
			"kubelet-preferred-address-types": "InternalIP,Hostname",
		})
	}
	return f.With(cp.opts.APIServerFlags)
}

// controllerManagerFlags: each controller gets its own service-account credentials,
// as kubeadm sets it up, and no leader election (exactly one controller-manager per
// control plane). Its client-side rate limit is raised from client-go's 20
// requests/s (bursts of 30): at start each of some forty controllers gets or creates
// its ServiceAccount and then requests a token, a couple of hundred requests that
// at 20/s held back a new virtual cluster's first ReplicaSet by about four seconds.
// The API server is its own, local, and serves one tenant.
func (cp *ControlPlane) controllerManagerFlags() Flags {
	pki := cp.pkiDir()
	return Flags{
		"cluster-signing-cert-file":        filepath.Join(pki, "ca.crt"),
		"cluster-signing-key-file":         filepath.Join(pki, "ca.key"),
		"controllers":                      strings.Join(cp.opts.Controllers, ","),
		"kube-api-burst":                   "400",
		"kube-api-qps":                     "200",
		"kubeconfig":                       filepath.Join(pki, "controller-manager.kubeconfig"),
		"leader-elect":                     "false",
		"profiling":                        "false",
		"root-ca-file":                     filepath.Join(pki, "ca.crt"),
		"service-account-private-key-file": filepath.Join(pki, "sa.key"),
		"service-cluster-ip-range":         cp.opts.ServiceCIDR,
		"use-service-account-credentials":  "true",
	}.With(cp.servingFlags(kubebin.ControllerManager)).With(cp.opts.ControllerManagerFlags)
}

// servingFlags give the controller-manager and the scheduler a loopback HTTPS port
// with a certificate from the cluster CA, only so that gantry can probe their
// /healthz (served to anonymous clients; everything else there is refused, as no
// delegated authentication is configured).
func (cp *ControlPlane) servingFlags(component string) Flags {
	pki := cp.pkiDir()
	return Flags{
		"bind-address":         "127.0.0.1",
		"secure-port":          strconv.Itoa(cp.healthPort(component)),
		"tls-cert-file":        filepath.Join(pki, component+"-serving.crt"),
		"tls-private-key-file": filepath.Join(pki, component+"-serving.key"),
	}
}

func (cp *ControlPlane) schedulerFlags() Flags {
	return Flags{
		"kubeconfig":   filepath.Join(cp.pkiDir(), "scheduler.kubeconfig"),
		"leader-elect": "false",
		"profiling":    "false",
	}.With(cp.servingFlags(kubebin.Scheduler)).With(cp.opts.SchedulerFlags)
}

// defaultEnv tunes the Go runtime: a lower GOGC trades a little CPU for a smaller
// heap, which is what an idle control plane mostly is. No GOMEMLIMIT: set below the
// live heap (about 100 MiB for kube-apiserver) it makes the garbage collector run
// without pause, measured here at a quarter of a core per idle apiserver.
var defaultEnv = []string{"GOGC=50"}

// process is the one supervised process of the control plane: kube-controlplane
// runs each component in its section of the command line, in start order.
func (cp *ControlPlane) process() *supervisor.Process {
	return supervisor.New(supervisor.Spec{
		Name:    kubebin.ControlPlane,
		Path:    cp.opts.Binaries[kubebin.ControlPlane],
		Args:    cp.args(),
		Env:     append(append([]string{}, defaultEnv...), cp.opts.Env...),
		LogPath: cp.LogPath(),
		Nice:    cp.opts.Nice,
		BeforeRestart: func() []string {
			// Without a free loopback port the old ones are kept and tried again.
			_ = cp.pickHealthPorts()
			return cp.args()
		},
	})
}

// args is kube-controlplane's command line: a section per component, "---" between.
func (cp *ControlPlane) args() []string {
	flags := map[string]Flags{
		kubebin.APIServer:         cp.apiServerFlags(),
		kubebin.ControllerManager: cp.controllerManagerFlags(),
		kubebin.Scheduler:         cp.schedulerFlags(),
	}
	var args []string
	for i, c := range cp.opts.components() {
		if i > 0 {
			args = append(args, "---")
		}
		args = append(append(args, c), flags[c].Args()...)
	}
	return args
}

// LogPath is the file where all the components log (they share one process and
// klog's one output).
func (cp *ControlPlane) LogPath() string {
	return filepath.Join(cp.opts.LogDir, kubebin.ControlPlane+".log")
}
