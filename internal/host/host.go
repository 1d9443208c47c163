// Package host is gantry's embedded host cluster: one control plane (with a
// scheduler) from package controlplane, simulated nodes from package simnodes
// and, where the machine can run one, a real node from package realnode.
// It is what `gantry up` runs when no --kubeconfig names an existing cluster.
package host

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-logr/logr"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"gantry.dev/gantry/internal/controlplane"
	"gantry.dev/gantry/internal/hostapi"
	"gantry.dev/gantry/internal/kubebin"
	"gantry.dev/gantry/internal/realnode"
	"gantry.dev/gantry/internal/simnodes"
	"gantry.dev/gantry/internal/supervisor"
)

// Options configure the embedded host.
type Options struct {
	// DataDir is gantry's data directory; the host keeps its state in DataDir/host
	// and writes the admin kubeconfig to DataDir/kubeconfig.
	DataDir string
	// LogDir receives the components' logs.
	LogDir string
	// Nodes is the number of simulated nodes.
	Nodes    int
	Binaries kubebin.Set
	// KWOKLog receives the node simulator's log.
	KWOKLog io.Writer
	// RealNode, when set, is the environment a real node runs in (preflight
	// passed and the machine's lock is held); nil runs simulated nodes only.
	RealNode *realnode.Environment
	// Report tells the user why the real node stopped or could not start;
	// the host carries on with its simulated nodes.
	Report func(msg string)
	// TenantNamespace says whether a host namespace holds a virtual
	// cluster's pods: they may not reach the host's API server (hostapi).
	TenantNamespace func(ns *corev1.Namespace) bool
	// Log receives what the host's API relay for pods refuses.
	Log logr.Logger
}

// ServiceCIDR is the host's Service range.
const ServiceCIDR = "10.96.0.0/16"

// DNSServiceIP is the ClusterIP reserved for the host's DNS Service
// (platform.DNSService), as kubeadm reserves .10 for kube-dns: the real node's
// kubelet is configured with it before the Service exists.
const DNSServiceIP = "10.96.0.10"

// Host is the embedded host cluster.
type Host struct {
	opts      Options
	cp        *controlplane.ControlPlane
	nodesUp   chan struct{}
	nodesErr  error
	nodeReady chan struct{}
	real      *realnode.Node // nil without a real node
	// realDone is closed when the real node has stopped (or failed to start).
	realDone chan struct{}
}

// New prepares the host (no process starts until Run).
func New(opts Options) (*Host, error) {
	cp, err := controlplane.New(controlplane.Options{
		Name:        "host",
		Dir:         filepath.Join(opts.DataDir, "host"),
		LogDir:      opts.LogDir,
		Binaries:    opts.Binaries,
		Scheduler:   true,
		Controllers: controlplane.HostControllers,
		ServiceCIDR: ServiceCIDR,
		// Always: the flags cost nothing, and the real node may join on any start.
		Kubelets: true,
		// The host keeps the API server's watch cache (virtual clusters run
		// without it, for memory). Without it every client watch that
		// restarts (each informer's, every five to ten minutes) makes kine
		// read every row written since the watch's revision, which for a
		// type that rarely changes is nearly the whole store: with 1,000
		// apps that was most of gantry's CPU while nothing changed. With it,
		// kine serves one long watch per type, kept current by progress
		// notifications, and restarts are answered from memory.
		//
		// DetectCacheInconsistency (beta, on since 1.34) lists every object
		// of every type from kine and from the cache every five to seven and
		// a half minutes, to compare digests: with 1,000 apps, about 3,000
		// objects decoded twice per round whether or not anything changed
		// (issue 20: idle must be nearly free). It guards
		// the watch cache against its own bugs; an API server restart,
		// which gantry's supervisor does on any crash, rebuilds the cache.
		// SizeBasedListCostEstimate (beta, on) lists every key of every
		// type from the cache each minute, to estimate list costs for
		// priority and fairness, which the host runs without
		// (enable-priority-and-fairness=false): a tenth of the idle host's
		// CPU in its profile with 1,000 apps.
		APIServerFlags: controlplane.Flags{"watch-cache": "true",
			"feature-gates": "DetectCacheInconsistency=false,SizeBasedListCostEstimate=false"},
		// While busy (a burst of syncs, a kubectl apply of a thousand
		// objects) the host collects garbage at GOGC=150, not 50: in a
		// 1,000-app sync its collector took a quarter of its CPU, the CPU
		// the whole system waits for. Idle, it is back to 50 and returns
		// the pages (kube-controlplane's idleProcs). GANTRY_HOST_BUSY_GOGC
		// sets another value; 0 keeps 50 throughout.
		Env: []string{"GANTRY_BUSY_GOGC=" + cmp.Or(os.Getenv("GANTRY_HOST_BUSY_GOGC"), "150")},
	})
	if err != nil {
		return nil, err
	}
	if err := cp.Admin().Write(KubeconfigPath(opts.DataDir)); err != nil {
		return nil, fmt.Errorf("writing the admin kubeconfig: %w", err)
	}
	h := &Host{opts: opts, cp: cp, nodesUp: make(chan struct{}), nodeReady: make(chan struct{}), realDone: make(chan struct{})}
	if opts.RealNode != nil {
		client, err := kubernetes.NewForConfig(cp.RESTConfig())
		if err != nil {
			return nil, err
		}
		h.real, err = realnode.New(realnode.Options{Dir: filepath.Join(opts.DataDir, "realnode"), LogDir: opts.LogDir,
			Env: opts.RealNode, Server: cp.Endpoint(), CA: cp.CA(), Issuer: cp, Client: client,
			// Serving, not Ready: its binding to system:node may precede the role,
			// which RBAC honours once the bootstrap hook creates it; the kubelet
			// retries its registration until then, and starting it a second
			// sooner is most of what a first start with a real node waits for.
			APIReady:   cp.Serving(),
			ClusterDNS: DNSServiceIP})
		if err != nil {
			return nil, err
		}
	}
	return h, nil
}

// runReal runs the real node until ctx ends; a failure is reported, not
// returned: the host carries on with its simulated nodes.
func (h *Host) runReal(ctx context.Context) {
	defer close(h.realDone)
	if h.real == nil {
		return
	}
	if err := h.real.Run(ctx); err != nil && ctx.Err() == nil && h.opts.Report != nil {
		h.opts.Report(fmt.Sprintf("real node %s stopped: %v; carrying on with simulated nodes only", h.real.Name(), err))
	}
}

// serveAPIToPods runs the relay that makes the API server reachable from
// the real node's pods; without a real node no pod runs, and nothing is
// needed. A failure is reported: the host works on, and only in-cluster
// clients in pods miss their API server.
func (h *Host) serveAPIToPods(ctx context.Context) {
	if h.real == nil {
		return
	}
	ip, err := netip.ParseAddr(h.opts.RealNode.NodeIP)
	if err == nil {
		var kube kubernetes.Interface
		if kube, err = kubernetes.NewForConfig(h.cp.RESTConfig()); err == nil {
			tenant := h.opts.TenantNamespace
			if tenant == nil {
				tenant = func(*corev1.Namespace) bool { return false }
			}
			_, err = hostapi.Start(ctx, hostapi.Options{Listen: ip, APIServer: strings.TrimPrefix(h.cp.Endpoint(), "https://"),
				Kube: kube, Tenant: tenant, Log: h.opts.Log.WithName("hostapi")})
		}
	}
	if err != nil && ctx.Err() == nil && h.opts.Report != nil {
		h.opts.Report(fmt.Sprintf("pods on the real node cannot reach the host's API server (the kubernetes Service): %v", err))
	}
}

// RealNodes names the real nodes that are Ready.
func (h *Host) RealNodes() []string {
	if h.real == nil {
		return nil
	}
	select {
	case <-h.real.Ready():
		select {
		case <-h.realDone:
			return nil
		default:
			return []string{h.real.Name()}
		}
	default:
		return nil
	}
}

// ReadyRealNode is the real node while it is Ready, else nil (images are
// loaded through it).
func (h *Host) ReadyRealNode() *realnode.Node {
	if len(h.RealNodes()) == 0 {
		return nil
	}
	return h.real
}

// KubeconfigPath is where the host's admin kubeconfig lives.
func KubeconfigPath(dataDir string) string { return filepath.Join(dataDir, "kubeconfig") }

// RESTConfig returns an admin client configuration for the host.
func (h *Host) RESTConfig() *rest.Config { return h.cp.RESTConfig() }

// Endpoint is the host API server's URL.
func (h *Host) Endpoint() string { return h.cp.Endpoint() }

// Run runs the control plane and, once its API answers, the simulated nodes,
// until ctx ends; then it stops the nodes (KWOK) first and the control plane
// after them, so that KWOK never loses its API server while it stops. It
// returns when everything has stopped.
func (h *Host) Run(ctx context.Context) error {
	// The control plane's own context: cancelled only once the nodes are down.
	cpCtx, stopCP := context.WithCancel(context.WithoutCancel(ctx))
	defer stopCP()
	cpDone := make(chan error, 1)
	go func() { cpDone <- h.cp.Run(cpCtx) }()
	// The real node's pods reach the API server through the kubernetes
	// Service (hostapi) from the first ready until the host stops.
	go func() {
		select {
		case <-h.cp.Ready():
			h.serveAPIToPods(cpCtx)
		case <-cpCtx.Done():
		}
	}()
	// The real node starts at once (containerd needs no API server; the
	// kubelet waits for it) and stops first (it drains its pods through the
	// API server): its context is cancelled by stopReal, never by ctx directly.
	realCtx, cancelReal := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelReal()
	go h.runReal(realCtx)
	stopReal := func() {
		cancelReal()
		<-h.realDone
	}
	select {
	case <-h.cp.Ready():
	case err := <-cpDone:
		h.nodesErr = err
		close(h.nodesUp)
		stopReal()
		return err
	case <-ctx.Done():
		h.nodesErr = ctx.Err()
		close(h.nodesUp)
		stopReal()
		stopCP()
		return <-cpDone
	}
	nodesCtx, stopNodes := context.WithCancel(ctx)
	defer stopNodes()
	nodesDone := make(chan error, 1)
	go func() {
		nodesDone <- simnodes.Run(nodesCtx, simnodes.Options{
			Kubeconfig: KubeconfigPath(h.opts.DataDir),
			Count:      h.opts.Nodes,
			Log:        h.opts.KWOKLog,
		})
	}()
	go h.watchNodesReady(nodesCtx)
	close(h.nodesUp)
	select {
	case err := <-nodesDone:
		if err != nil && ctx.Err() == nil {
			h.nodesErr = err
			fmt.Fprintf(os.Stderr, "simulated nodes stopped: %v\n", err)
		}
		// The cluster keeps serving without its nodes until told to stop.
		select {
		case err := <-cpDone:
			stopReal()
			return err
		case <-ctx.Done():
		}
	case err := <-cpDone:
		stopReal()
		stopNodes()
		<-nodesDone
		return err
	case <-ctx.Done():
		<-nodesDone // nodesCtx ended with ctx
	}
	stopReal()
	stopCP()
	return <-cpDone
}

// watchNodesReady closes nodeReady once every simulated node reports Ready.
func (h *Host) watchNodesReady(ctx context.Context) {
	client, err := kubernetes.NewForConfig(h.RESTConfig())
	if err != nil {
		return
	}
	for ctx.Err() == nil {
		list, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: simnodes.SimulatedLabel + "=true"})
		if err == nil && countReady(list.Items) >= h.opts.Nodes {
			close(h.nodeReady)
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func countReady(nodes []corev1.Node) int {
	n := 0
	for _, node := range nodes {
		for _, c := range node.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				n++
			}
		}
	}
	return n
}

// WaitAPI waits until the API server serves every API, not for its nodes nor
// for its slowest bootstrap hooks (controlplane.WaitServing): what the
// platform, which writes as system:masters, needs to start.
func (h *Host) WaitAPI(ctx context.Context, timeout time.Duration) error {
	return h.cp.WaitServing(ctx, timeout)
}

// WaitReady waits for the API server and then for every simulated node to be Ready.
func (h *Host) WaitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	if err := h.cp.WaitReady(ctx, timeout); err != nil {
		return err
	}
	select {
	case <-h.nodesUp:
		if h.nodesErr != nil {
			return h.nodesErr
		}
	case <-ctx.Done():
		return ctx.Err()
	}
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-h.nodeReady:
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return fmt.Errorf("the %d simulated nodes were not Ready after %s; see `gantry logs kwok`", h.opts.Nodes, timeout)
	}
	if h.real != nil {
		// Ready, or failed and reported: either way gantry goes on.
		select {
		case <-h.real.Ready():
		case <-h.realDone:
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// Components reports the host's parts: kine, the Kubernetes components and KWOK.
func (h *Host) Components() []supervisor.Status {
	kwok := supervisor.Status{Name: "kwok", Pid: os.Getpid()}
	select {
	case <-h.nodeReady:
		kwok.Ready = true
	default:
	}
	out := append(h.cp.Components(), kwok)
	if h.real != nil {
		select {
		case <-h.realDone: // failed or stopped: nothing of it runs
		default:
			out = append(out, h.real.Components()...)
		}
	}
	return out
}
