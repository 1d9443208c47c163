package cli

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"gantry.dev/gantry/internal/gitops/application"
	"gantry.dev/gantry/internal/kubebin"
	"gantry.dev/gantry/internal/up"
)

func newUp(g *globals) *cobra.Command {
	var o up.Options
	hostGitOps := true
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start gantry: an embedded host cluster (or --kubeconfig for an existing one) and the platform",
		Long: `Start gantry and keep it running until interrupted.

With no flags, gantry starts a local host cluster: kine on SQLite, kube-apiserver,
kube-controller-manager and kube-scheduler, simulated nodes from KWOK (pods are
scheduled and reported Running, but no container runs) and, where the machine can
run one (root, containerd, runc, CNI plugins, cgroups), one real node whose pods
run as containers: containerd, a kubelet and kube-proxy, labelled gantry.dev/real=true.
Where it cannot, gantry says which check failed and how to fix it, and carries on
with simulated nodes. With --kubeconfig, an existing cluster is the host and nothing
else is started locally.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkUpFlags(&o); err != nil {
				return err
			}
			o.DataDir, o.Version, o.Out, o.NoHostApps = g.dataDir, Version, cmd.OutOrStdout(), !hostGitOps
			return up.Run(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Nodes, "nodes", 3, "number of simulated nodes in the embedded host cluster")
	f.IntVar(&o.RealNodes, "real-nodes", 1, "number of real nodes (containers really run) in the embedded host cluster: 1 where the machine can run one, 0 for simulated nodes only")
	f.StringVar(&o.HTTPAddr, "http-addr", "127.0.0.1:8080", "address of gantry's HTTPS server (loopback unless you say otherwise)")
	f.StringVar(&o.Kubeconfig, "kubeconfig", "", "use the cluster of this kubeconfig as host instead of the embedded one")
	f.BoolVar(&o.HostOnly, "host-only", false, "run the embedded host cluster only (its nodes, real and simulated), without gantry's platform: a local cluster to install gantry into with its Helm chart")
	f.BoolVar(&o.InCluster, "in-cluster", false, "use the cluster gantry runs in as host, through the pod's service account (the Helm chart sets it)")
	f.StringVar(&o.KubeBinDir, "kube-bin-dir", "", "directory of kube-apiserver, kube-controller-manager and kube-scheduler (env "+kubebin.EnvDir+"; default: next to gantry, then ./bin)")
	f.DurationVar(&o.ReadyTimeout, "ready-timeout", 2*time.Minute, "how long to wait for the host cluster to become ready")
	f.StringVar(&o.ExternalURL, "external-url", "", "URL gantry is reached at (the OIDC issuer, proxy URLs, redirects); default https://<http-addr>")
	f.StringVar(&o.TLSCertFile, "tls-cert-file", "", "serve this certificate (PEM) instead of one from gantry's own CA; with --tls-key-file")
	f.StringVar(&o.TLSKeyFile, "tls-key-file", "", "the key of --tls-cert-file (PEM)")
	f.StringVar(&o.ControlPlanes, "control-planes", "process", "where virtual clusters' control planes run: process (children of gantry) or pods (StatefulSets of the host cluster; needs a host that runs containers: the embedded host with a real node, --kubeconfig or --in-cluster)")
	f.StringVar(&o.ControlPlaneImage, "control-plane-image", "", "gantry's image for --control-planes pods (default gantry.local/gantry:<version>, as `make image` names it)")
	f.StringVar(&o.KubeletAddress, "kubelet-address", "", "with --control-planes pods: an address of this machine where the host's pods reach gantry's kubelet API, for logs, exec and port-forward in virtual clusters (default: the real node's on the embedded host, the pod's IP in a cluster, from "+up.PodIPEnv+")")
	f.BoolVar(&o.LeaderElect, "leader-elect", false, "run the controllers only while this gantry holds the Lease gantry-system/gantry-leader, so that several replicas share one host (each serves the API, UI and proxy; the Helm chart sets it for replicas > 1); needs --control-planes pods and an external host (--kubeconfig or --in-cluster)")
	f.DurationVar(&o.GitPollInterval, "git-poll-interval", 60*time.Second, "how often Applications' Git repositories are asked for new commits (webhooks refresh at once)")
	f.IntVar(&o.GitOpsWorkers, "gitops-workers", application.DefaultWorkers, "how many Applications are compared and synced at once (Argo CD's --status-processors and --operation-processors)")
	f.BoolVar(&hostGitOps, "host-gitops", true, "let Applications deploy into the host cluster; false when gantry holds no grant to (the Helm chart's rbac.hostGitOps: false): apps deploy into virtual clusters only")
	return cmd
}

// checkUpFlags refuses flag values that cannot work, before anything is
// opened, and normalises --external-url.
func checkUpFlags(o *up.Options) error {
	if o.GitPollInterval < time.Second {
		return fmt.Errorf("--git-poll-interval %s is too short: use at least 1s (the default is 60s)", o.GitPollInterval)
	}
	if o.GitOpsWorkers < 1 || o.GitOpsWorkers > 256 {
		return fmt.Errorf("--gitops-workers %d: use 1 to 256 (the default is %d)", o.GitOpsWorkers, application.DefaultWorkers)
	}
	if o.Nodes < 0 {
		return fmt.Errorf("--nodes %d: the number of simulated nodes cannot be negative", o.Nodes)
	}
	if o.RealNodes < 0 || o.RealNodes > 1 {
		return fmt.Errorf("--real-nodes %d: a machine runs at most one real node (kube-proxy's iptables rules are the machine's); use --real-nodes 1 (or 0) and --nodes N for simulated ones", o.RealNodes)
	}
	if o.ExternalURL != "" {
		u, err := url.Parse(o.ExternalURL)
		if err != nil || u.Scheme != "https" || u.Host == "" || u.Path != "" && u.Path != "/" {
			return fmt.Errorf("--external-url %q: give an https URL without a path, such as https://gantry.example.com", o.ExternalURL)
		}
		o.ExternalURL = strings.TrimRight(o.ExternalURL, "/")
	}
	if o.HostOnly && (o.Kubeconfig != "" || o.InCluster) {
		return fmt.Errorf("--host-only runs the embedded host: it goes with neither --kubeconfig nor --in-cluster")
	}
	switch o.ControlPlanes {
	case "", "process":
	case "pods":
		if o.RealNodes == 0 && o.Kubeconfig == "" && !o.InCluster {
			return fmt.Errorf("--control-planes pods needs a host that runs containers: keep --real-nodes 1 (the embedded host's real node), or give --kubeconfig or --in-cluster")
		}
		if o.ControlPlaneImage == "" {
			o.ControlPlaneImage = "gantry.local/gantry:" + Version
		}
	default:
		return fmt.Errorf("--control-planes %q: use process (the default) or pods", o.ControlPlanes)
	}
	if o.LeaderElect && o.ControlPlanes != "pods" {
		return fmt.Errorf("--leader-elect (several replicas) needs --control-planes pods: a control plane run as a process lives on one replica's machine and dies with it")
	}
	if o.LeaderElect && o.Kubeconfig == "" && !o.InCluster {
		return fmt.Errorf("--leader-elect (several replicas) needs a host they share: give --kubeconfig or --in-cluster (the embedded host lives and dies with one gantry)")
	}
	if o.KubeletAddress != "" && net.ParseIP(o.KubeletAddress) == nil {
		return fmt.Errorf("--kubelet-address %q: give an IP address of this machine that the host's pods reach", o.KubeletAddress)
	}
	if (o.TLSCertFile == "") != (o.TLSKeyFile == "") {
		return fmt.Errorf("--tls-cert-file and --tls-key-file go together: give both or neither")
	}
	return nil
}
