package up

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"

	"gantry.dev/gantry/internal/api"
	"gantry.dev/gantry/internal/datadir"
	"gantry.dev/gantry/internal/host"
	"gantry.dev/gantry/internal/identity/authn"
	"gantry.dev/gantry/internal/idleprocs"
	"gantry.dev/gantry/internal/imageapi"
	"gantry.dev/gantry/internal/kubebin"
	"gantry.dev/gantry/internal/lifecycle"
	"gantry.dev/gantry/internal/pageout"
	"gantry.dev/gantry/internal/platform"
	"gantry.dev/gantry/internal/realnode"
	"gantry.dev/gantry/internal/runstate"
	"gantry.dev/gantry/internal/server"
	"gantry.dev/gantry/internal/syncer"
	"gantry.dev/gantry/internal/vcluster"
	"gantry.dev/gantry/internal/webui"
)

// Options are gantry up's flags, checked by the caller: values a flag would
// refuse (a negative node count, an external URL with a path, a certificate
// without its key) are not checked again here.
type Options struct {
	// DataDir is gantry's data directory, created if missing.
	DataDir string
	// Kubeconfig names an existing cluster to use as the host; empty runs
	// the embedded host.
	Kubeconfig string
	// InCluster uses the cluster gantry runs in as the host, through its
	// pod's service account (the Helm chart's way).
	InCluster bool
	// HostOnly runs the embedded host without gantry's platform: a local
	// cluster (with its real node) to install gantry into by its Helm chart,
	// or anything else.
	HostOnly bool
	// Nodes is how many nodes the embedded host simulates.
	Nodes int
	// RealNodes is how many real nodes the embedded host runs: 0 or 1 (one
	// machine holds one). Where the machine cannot run one, gantry says why
	// and carries on with simulated nodes.
	RealNodes int
	// HTTPAddr is the HTTPS server's address.
	HTTPAddr string
	// KubeBinDir is where the Kubernetes binaries are ("" searches the
	// usual places: kubebin.SearchDirs).
	KubeBinDir string
	// ReadyTimeout bounds each wait for readiness at start-up.
	ReadyTimeout time.Duration
	// GitPollInterval is how often Applications' repositories are asked for
	// new commits.
	GitPollInterval time.Duration
	// GitOpsWorkers is how many Applications are compared and synced at once.
	GitOpsWorkers int
	// NoHostApps refuses Applications that deploy into the host cluster
	// (--host-gitops=false): gantry holds no grant to write there.
	NoHostApps bool
	// ExternalURL is how gantry is reached, without a trailing slash;
	// default the server's own URL.
	ExternalURL string
	// TLSCertFile and TLSKeyFile are a certificate to serve instead of one
	// from gantry's own CA.
	TLSCertFile, TLSKeyFile string
	// Version is gantry's, for /api/v1/settings.
	Version string
	// ControlPlanes is where virtual clusters' control planes run:
	// "process" (children of gantry, the default) or "pods" (of the host:
	// package controlplanepods), in ControlPlaneImage.
	ControlPlanes     string
	ControlPlaneImage string
	// KubeletAddress is an address of this machine where the host's pods
	// reach gantry's kubelet API (ControlPlanes "pods"); empty: the real
	// node's on the embedded host, PodIPEnv's in a cluster.
	KubeletAddress string
	// LeaderElect runs the controllers only while this gantry holds the
	// Lease gantry-system/gantry-leader: several replicas against one host
	// (with ControlPlanes "pods"), each serving HTTP.
	LeaderElect bool
	// Out is the terminal: the first admin password, "ready", "stopping".
	Out io.Writer
}

// errInterrupted is an interrupt before gantry was ready.
var errInterrupted = errors.New("interrupted before gantry was ready; everything it started has stopped")

// Run brings gantry up and runs it until ctx ends, SIGINT or SIGTERM
// arrives, or a part fails; it returns once everything it started has
// stopped, with the failure if there was one.
func Run(ctx context.Context, o Options) error {
	began := time.Now()
	dir, err := datadir.Open(o.DataDir)
	if err != nil {
		return err
	}
	defer dir.Close()
	reapOrphans(dir.Path)
	logDir := filepath.Join(dir.Path, "logs")
	// In a pod, the log also goes to the container's output: its data
	// directory is an emptyDir or a volume nobody reads.
	var also io.Writer
	if o.InCluster {
		also = os.Stderr
	}
	log, closeLogs, err := setUpLogging(logDir, also)
	if err != nil {
		return err
	}
	defer closeLogs()
	c, err := check(ctx, o, dir.Path)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	stopProfiles, err := startProfiles(ctx)
	if err != nil {
		return err
	}
	defer stopProfiles()
	go releaseWhenIdle(ctx)
	// Idle costs a quarter less CPU on one P; a burst, less GC at GOGC=100
	// (unless the user set GOGC).
	busyGC := 100
	if os.Getenv("GOGC") != "" {
		busyGC = 0
	}
	go idleprocs.Run(ctx, busyGC)
	if o.ExternalURL == "" {
		o.ExternalURL = c.srv.URL()
	}
	g := &gantry{opts: o, began: began, log: log, c: c,
		state: runstate.State{Pid: os.Getpid(), StartedAt: began, DataDir: dir.Path, HTTPAddr: c.srv.Addr(), ExternalURL: o.ExternalURL}}
	return g.run(ctx, logDir)
}

// gantry is one run: the checked inputs and what was built from them.
type gantry struct {
	opts  Options
	began time.Time
	log   *slog.Logger
	c     checked
	state runstate.State
	host  *host.Host // nil for an external host
	plat  *platform.Platform
	// realLock is the machine-wide lock of the real node, nil without one.
	realLock *realnode.Lock
	// realEnv is where the real node runs, nil without one.
	realEnv *realnode.Environment
	// kwokLog is closed once everything has stopped: KWOK writes to it until then.
	kwokLog *os.File
}

func (g *gantry) run(ctx context.Context, logDir string) error {
	defer func() {
		if g.kwokLog != nil {
			g.kwokLog.Close()
		}
		g.realLock.Release()
	}()
	if err := g.build(logDir); err != nil {
		return err
	}
	parts := lifecycle.New(ctx)
	// stopped stops what was started and says why it stopped.
	stopped := func(why error) error {
		failed := parts.Stop()
		runstate.Remove(g.state.DataDir)
		switch {
		case failed != nil:
			return failed
		case errors.Is(why, context.Canceled):
			return errInterrupted
		}
		return why
	}

	g.log.Info("starting", "dataDir", g.state.DataDir, "host", g.state.Host)
	// The server first, so that it answers its probes (not ready yet) while
	// the rest starts; so it stops last.
	parts.Go("HTTP server", g.c.srv.Serve)
	if g.host != nil {
		parts.Go("host cluster", g.host.Run)
		// The platform needs only the host's API: it starts while the nodes come up.
		if err := g.host.WaitAPI(parts.Context(), g.opts.ReadyTimeout); err != nil {
			return stopped(err)
		}
		g.log.Info("host API serving", "seconds", time.Since(g.began).Seconds())
	}
	if g.plat != nil {
		parts.Go("platform", g.plat.Run)
	}
	if err := g.waitReady(parts.Context()); err != nil {
		return stopped(err)
	}

	g.publish(true) // also records the real nodes for printReady
	printReady(g.opts.Out, g.state, time.Since(g.began))
	g.log.Info("ready", "seconds", time.Since(g.began).Seconds())
	// Start-up is over once the first reconciles have run: give back the code
	// pages that only start-up read (see package pageout).
	trim := time.AfterFunc(30*time.Second, func() {
		if n, err := pageout.Executable(); err != nil {
			g.log.Info("paging out start-up code failed; RSS stays higher", "err", err)
		} else {
			g.log.Debug("paged out start-up code", "mappedBytes", n)
		}
	})
	defer trim.Stop()
	parts.Go("run state", g.publishEverySecond)

	<-parts.Context().Done()
	fmt.Fprintln(g.opts.Out, "stopping gantry…")
	if err := stopped(nil); err != nil {
		return err
	}
	fmt.Fprintln(g.opts.Out, "gantry stopped")
	return nil
}

// build makes the parts: the embedded host unless an external one was
// given, and the platform on the host.
func (g *gantry) build(logDir string) error {
	hostCfg := g.c.host
	if hostCfg == nil {
		var err error
		if g.kwokLog, err = openLog(logDir, "kwok"); err != nil {
			return err
		}
		g.realEnv = g.realNodeEnv()
		if g.realEnv == nil && g.opts.ControlPlanes == "pods" {
			return fmt.Errorf("--control-planes pods needs a host that runs containers, and this embedded host has no real node " +
				"(see the message above for why): fix that, or give --kubeconfig of a real cluster, or use --control-planes process")
		}
		g.host, err = host.New(host.Options{DataDir: g.state.DataDir, LogDir: logDir, Nodes: g.opts.Nodes,
			Binaries: g.c.bins, KWOKLog: g.kwokLog, RealNode: g.realEnv, Report: g.report,
			Log:             logr.FromSlogHandler(g.log.Handler()),
			TenantNamespace: func(ns *corev1.Namespace) bool { return ns.Labels[vcluster.LabelVCluster] != "" }})
		if err != nil {
			return err
		}
		hostCfg = g.host.RESTConfig()
		g.state.Host, g.state.Kubeconfig, g.state.APIServer, g.state.Nodes = "embedded", host.KubeconfigPath(g.state.DataDir), g.host.Endpoint(), g.opts.Nodes
		g.c.srv.AddCheck("host", func(context.Context) error {
			for _, c := range g.host.Components() {
				if !c.Ready {
					return fmt.Errorf("%s not ready", c.Name)
				}
			}
			return nil
		})
	} else {
		g.state.Host, g.state.Kubeconfig, g.state.APIServer = g.opts.Kubeconfig, g.opts.Kubeconfig, hostCfg.Host
		if g.opts.InCluster {
			g.state.Host, g.state.Kubeconfig = "in-cluster", "(the pod's service account)"
		}
	}
	if g.opts.HostOnly {
		// The server answers its probes only; nobody signs in to anything.
		g.state.HostOnly = true
		g.c.srv.Route(api.NewRouter(nobody{}, nil))
		return nil
	}
	var err error
	dns := g.clusterDNS()
	g.plat, err = platform.New(platform.Options{Host: hostCfg, Server: g.c.srv, UI: webui.Handler(),
		Logger: logr.FromSlogHandler(g.log.Handler()), DataDir: g.state.DataDir, Binaries: g.c.bins,
		GitPollInterval: g.opts.GitPollInterval, GitOpsWorkers: g.opts.GitOpsWorkers, NoHostApps: g.opts.NoHostApps, ExternalURL: g.opts.ExternalURL, ServerCA: g.c.serverCA,
		SimulatedNodes: g.state.Nodes, RealNodes: g.realNodes, RealNode: g.realNode, Version: g.opts.Version,
		Placement: g.podPlacement(), ControlPlanePods: g.controlPlanePods(), ClusterDNS: dns, InClusterAPI: inClusterAPI(dns), InitialPasswordSecret: g.opts.InCluster, PublishServerCA: g.opts.InCluster,
		LeaderElection: g.opts.LeaderElect,
		// To the terminal only, never to a log file: only its hash is kept.
		ShowInitialPassword: func(pw string) {
			fmt.Fprintf(g.opts.Out, "admin password: %s\n  (shown once: gantry keeps only its hash; change it with gantry user set-password admin)\n", pw)
		}})
	return err
}

// realNodes names the host's real nodes that are Ready.
func (g *gantry) realNodes() []string {
	if g.host == nil {
		return nil
	}
	return g.host.RealNodes()
}

// realNode is the Ready real node's image store, nil without one.
func (g *gantry) realNode() imageapi.Store {
	if g.host == nil {
		return nil
	}
	if n := g.host.ReadyRealNode(); n != nil {
		return n
	}
	return nil
}

// PodIPEnv is gantry's own pod IP in a cluster (the chart sets it from
// status.podIP): the control-plane pods reach its kubelet API there.
const PodIPEnv = "GANTRY_POD_IP"

// controlPlanePods says how virtual clusters' control planes run as pods;
// nil runs them as processes. On the embedded host they go to the real
// node (the only one that runs containers), with their volumes in gantry's
// data directory there (see controlplanepods.Options.LocalVolumes).
func (g *gantry) controlPlanePods() *platform.ControlPlanePods {
	if g.opts.ControlPlanes != "pods" {
		return nil
	}
	pods := &platform.ControlPlanePods{Image: g.opts.ControlPlaneImage}
	if p := g.podPlacement(); p != nil {
		pods.NodeSelector, pods.Tolerations = p.NodeSelector, p.Tolerations
		pods.LocalVolumes = filepath.Join(g.state.DataDir, "controlplane-volumes")
	}
	switch {
	case g.opts.KubeletAddress != "":
		pods.KubeletAddress = g.opts.KubeletAddress
	case g.realEnv != nil:
		pods.KubeletAddress = g.realEnv.NodeIP
	case g.opts.InCluster && os.Getenv(PodIPEnv) != "":
		pods.KubeletAddress = os.Getenv(PodIPEnv)
	default:
		g.report("logs, exec and port-forward of virtual clusters' pods, and direct SSO to virtual clusters (connect --sso), are not available: " +
			"the control-plane pods cannot reach gantry's kubelet API (nor the OpenID Connect keys it serves them) on 127.0.0.1 " +
			"(give --kubelet-address, an address of this machine the host's pods reach; in a cluster, set " + PodIPEnv + " to the pod's IP, as the Helm chart does)")
	}
	return pods
}

// podPlacement puts virtual clusters' pods on the real node, where they
// really run; simulated nodes stay for scale tests and host apps.
func (g *gantry) podPlacement() *syncer.Placement {
	if g.realEnv == nil {
		return nil
	}
	return &syncer.Placement{NodeSelector: map[string]string{realnode.RealLabel: "true"}, Tolerations: []corev1.Toleration{realnode.Toleration}}
}

// clusterDNS serves cluster DNS to pods on the real node, on the node's
// address (which its pods reach through kube-proxy and the gantry-dns Service,
// at the address the node's kubelet was given): virtual clusters' pods by
// their cluster, the host's own by the host.
func (g *gantry) clusterDNS() *platform.ClusterDNS {
	if g.realEnv == nil {
		return nil
	}
	ip, err := netip.ParseAddr(g.realEnv.NodeIP)
	if err != nil {
		g.report(fmt.Sprintf("no cluster DNS: the real node's address %q is not an IP address", g.realEnv.NodeIP))
		return nil
	}
	return &platform.ClusterDNS{Listen: ip, ServiceIP: netip.MustParseAddr(host.DNSServiceIP), HostNode: realnode.DefaultName}
}

// inClusterAPI relays pods on the real node to their own virtual cluster's
// API server (their in-cluster configuration), on the node's address as
// cluster DNS, which it needs.
func inClusterAPI(dns *platform.ClusterDNS) *platform.InClusterAPI {
	if dns == nil {
		return nil
	}
	return &platform.InClusterAPI{Listen: dns.Listen}
}

// realNodeEnv checks that this machine can run the real node and takes the
// machine's lock; where it cannot, it says exactly why and returns nil, and
// gantry carries on with simulated nodes.
func (g *gantry) realNodeEnv() *realnode.Environment {
	if g.opts.RealNodes == 0 {
		return nil
	}
	env, err := realnode.Preflight(context.Background(), kubebin.SearchDirs(g.opts.KubeBinDir), g.state.DataDir)
	if err == nil {
		g.realLock, err = realnode.AcquireLock(realnode.LockPath(), g.state.DataDir)
	}
	if err != nil {
		g.report(fmt.Sprintf("no real node: %v; carrying on with simulated nodes only (--real-nodes 0 says so without checking)", err))
		return nil
	}
	return env
}

// report tells the terminal and the log.
func (g *gantry) report(msg string) {
	fmt.Fprintln(g.opts.Out, msg)
	g.log.Warn(msg)
}

// waitReady waits for the host's nodes, the platform's start and then every
// readiness check of the server.
func (g *gantry) waitReady(ctx context.Context) error {
	if g.host != nil {
		if err := g.host.WaitReady(ctx, g.opts.ReadyTimeout); err != nil {
			return err
		}
		g.log.Info("host ready", "seconds", time.Since(g.began).Seconds())
	}
	if g.plat == nil {
		return waitAllReady(ctx, g.c.srv, g.opts.ReadyTimeout)
	}
	select {
	case <-g.plat.Started():
	case <-ctx.Done():
		return ctx.Err()
	}
	g.log.Info("platform started", "seconds", time.Since(g.began).Seconds())
	return waitAllReady(ctx, g.c.srv, g.opts.ReadyTimeout)
}

// waitAllReady waits until every readiness check of the server passes.
func waitAllReady(ctx context.Context, srv *server.Server, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, lines := srv.Ready(ctx)
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("gantry not ready after %s:\n%s\nsee `gantry logs COMPONENT` for why", timeout, strings.Join(lines, "\n"))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// nobody authenticates no caller: with --host-only there is no identity
// to sign in with, and every route but the probes answers 401.
type nobody struct{}

func (nobody) Authenticate(*http.Request) (authn.Identity, error) {
	return authn.Identity{}, errors.New("gantry runs the host only (--host-only): it has no API")
}
