package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"

	"gantry.dev/gantry/internal/datadir"
	"gantry.dev/gantry/internal/host"
	"gantry.dev/gantry/internal/kubebin"
	"gantry.dev/gantry/internal/kubeconfig"
	"gantry.dev/gantry/internal/pageout"
	"gantry.dev/gantry/internal/platform"
	"gantry.dev/gantry/internal/runstate"
	"gantry.dev/gantry/internal/server"
	"gantry.dev/gantry/internal/supervisor"
	"gantry.dev/gantry/internal/webui"
)

type upOptions struct {
	*globals
	nodes       int
	httpAddr    string
	kubeconfig  string
	kubeBinDir  string
	readyTimout time.Duration
	gitPoll     time.Duration
	externalURL string
	tlsCert     string
	tlsKey      string
}

func newUp(g *globals) *cobra.Command {
	o := &upOptions{globals: g}
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start gantry: an embedded host cluster (or --kubeconfig for an existing one) and the platform",
		Long: `Start gantry and keep it running until interrupted.

With no flags, gantry starts a local host cluster: kine on SQLite, kube-apiserver,
kube-controller-manager and kube-scheduler, and simulated nodes from KWOK (pods are
scheduled and reported Running, but no container runs). With --kubeconfig, an existing
cluster is the host and nothing else is started locally.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd.Context(), cmd.OutOrStdout()) },
	}
	f := cmd.Flags()
	f.IntVar(&o.nodes, "nodes", 3, "number of simulated nodes in the embedded host cluster")
	f.StringVar(&o.httpAddr, "http-addr", "127.0.0.1:8080", "address of gantry's HTTPS server (loopback unless you say otherwise)")
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "use the cluster of this kubeconfig as host instead of the embedded one")
	f.StringVar(&o.kubeBinDir, "kube-bin-dir", "", "directory of kube-apiserver, kube-controller-manager and kube-scheduler (env "+kubebin.EnvDir+"; default: next to gantry, then ./bin)")
	f.DurationVar(&o.readyTimout, "ready-timeout", 2*time.Minute, "how long to wait for the host cluster to become ready")
	f.StringVar(&o.externalURL, "external-url", "", "URL gantry is reached at (the OIDC issuer, proxy URLs, redirects); default https://<http-addr>")
	f.StringVar(&o.tlsCert, "tls-cert-file", "", "serve this certificate (PEM) instead of one from gantry's own CA; with --tls-key-file")
	f.StringVar(&o.tlsKey, "tls-key-file", "", "the key of --tls-cert-file (PEM)")
	f.DurationVar(&o.gitPoll, "git-poll-interval", 60*time.Second, "how often Applications' Git repositories are asked for new commits (webhooks refresh at once)")
	return cmd
}

// runner is one long-lived part of gantry; all of them stop together.
type runner struct {
	name string
	run  func(context.Context) error
}

func (o *upOptions) run(parent context.Context, out io.Writer) error {
	began := time.Now()
	if o.gitPoll < time.Second {
		return fmt.Errorf("--git-poll-interval %s is too short: use at least 1s (the default is 60s)", o.gitPoll)
	}
	if o.nodes < 0 {
		return fmt.Errorf("--nodes %d: the number of simulated nodes cannot be negative", o.nodes)
	}
	dir, err := datadir.Open(o.dataDir)
	if err != nil {
		return err
	}
	defer dir.Close()
	reapOrphans(dir.Path)

	logDir := filepath.Join(dir.Path, "logs")
	log, closeLogs, err := setUpLogging(logDir)
	if err != nil {
		return err
	}
	defer closeLogs()

	// Everything that can be checked is checked before anything starts, so that bad
	// input leaves nothing running.
	var hostCfg *rest.Config
	if o.kubeconfig != "" {
		if hostCfg, err = loadExternalHost(parent, o.kubeconfig); err != nil {
			return err
		}
	}
	// Virtual clusters run their control planes here whatever the host.
	bins, err := kubebin.Find(parent, kubebin.SearchDirs(o.kubeBinDir), kubebin.All...)
	if err != nil {
		return err
	}
	var extHost string
	if o.externalURL != "" {
		u, err := url.Parse(o.externalURL)
		if err != nil || u.Scheme != "https" || u.Host == "" || u.Path != "" && u.Path != "/" {
			return fmt.Errorf("--external-url %q: give an https URL without a path, such as https://gantry.example.com", o.externalURL)
		}
		o.externalURL = strings.TrimRight(o.externalURL, "/")
		extHost = u.Hostname()
	}
	var tlsConfig *tls.Config
	switch {
	case o.tlsCert != "" && o.tlsKey != "":
		tlsConfig, err = server.FileTLS(o.tlsCert, o.tlsKey)
	case o.tlsCert != "" || o.tlsKey != "":
		return fmt.Errorf("--tls-cert-file and --tls-key-file go together: give both or neither")
	default:
		tlsConfig, err = server.SelfSignedTLS(dir.Path, o.httpAddr, extHost)
	}
	if err != nil {
		return err
	}
	var serverCA []byte // nil: the given certificate is verified by the system's roots
	if o.tlsCert == "" {
		if serverCA, err = os.ReadFile(server.CAPath(dir.Path)); err != nil {
			return err
		}
	}
	srv, err := server.Listen(o.httpAddr, tlsConfig)
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
	defer stop()
	stopProfiles, err := startProfiles(ctx)
	if err != nil {
		return err
	}
	defer stopProfiles()
	if o.externalURL == "" {
		o.externalURL = srv.URL()
	}
	state := runstate.State{Pid: os.Getpid(), StartedAt: began, DataDir: dir.Path, HTTPAddr: srv.Addr(), ExternalURL: o.externalURL}
	var runners []runner
	var components func() []supervisor.Status
	// waitAPI waits for the host's API, waitHost for all of the host (its
	// simulated nodes too): the platform starts on the first, in parallel with
	// the nodes, as it needs only the API.
	var waitAPI, waitHost func(context.Context) error

	if hostCfg == nil {
		kwokLog, err := openLog(logDir, "kwok")
		if err != nil {
			return err
		}
		defer kwokLog.Close()
		h, err := host.New(host.Options{DataDir: dir.Path, LogDir: logDir, Nodes: o.nodes, Binaries: bins, KWOKLog: kwokLog})
		if err != nil {
			return err
		}
		hostCfg = h.RESTConfig()
		runners = append(runners, runner{"host cluster", h.Run})
		components = h.Components
		waitAPI = func(ctx context.Context) error { return h.WaitAPI(ctx, o.readyTimout) }
		waitHost = func(ctx context.Context) error { return h.WaitReady(ctx, o.readyTimout) }
		state.Host, state.Kubeconfig, state.APIServer, state.Nodes = "embedded", host.KubeconfigPath(dir.Path), h.Endpoint(), o.nodes
		srv.AddCheck("host", func(context.Context) error {
			for _, c := range h.Components() {
				if !c.Ready {
					return fmt.Errorf("%s not ready", c.Name)
				}
			}
			return nil
		})
	} else {
		components = func() []supervisor.Status { return nil }
		waitAPI = func(context.Context) error { return nil }
		waitHost = waitAPI
		state.Host, state.Kubeconfig, state.APIServer = o.kubeconfig, o.kubeconfig, hostCfg.Host
	}

	plat, err := platform.New(platform.Options{Host: hostCfg, Server: srv, UI: webui.Handler(), Logger: logr.FromSlogHandler(log.Handler()),
		DataDir: dir.Path, Binaries: bins, GitPollInterval: o.gitPoll, ExternalURL: o.externalURL, ServerCA: serverCA,
		SimulatedNodes: state.Nodes, Version: Version,
		// To the terminal only, never to a log file: only its hash is kept.
		ShowInitialPassword: func(pw string) {
			fmt.Fprintf(out, "admin password: %s\n  (shown once: gantry keeps only its hash; change it with gantry user set-password admin)\n", pw)
		}})
	if err != nil {
		return err
	}
	runners = append(runners, runner{"HTTP server", srv.Serve})

	// Start the runners; the first to fail stops all.
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, len(runners)+1)
	start := func(r runner) {
		wg.Go(func() {
			if err := r.run(rctx); err != nil && rctx.Err() == nil {
				errs <- fmt.Errorf("%s: %w", r.name, err)
				cancel()
			}
		})
	}
	for _, r := range runners {
		start(r)
	}
	shutdown := func() {
		cancel()
		wg.Wait()
		runstate.Remove(dir.Path)
	}

	log.Info("starting", "dataDir", dir.Path, "host", state.Host)
	if err := waitAPI(rctx); err != nil {
		shutdown()
		return firstErr(errs, err)
	}
	start(runner{"platform", plat.Run})
	if err := waitHost(rctx); err != nil {
		shutdown()
		return firstErr(errs, err)
	}
	log.Info("host ready", "seconds", time.Since(began).Seconds())
	select {
	case <-plat.Started():
	case <-rctx.Done():
		shutdown()
		return firstErr(errs, ctx.Err())
	}
	log.Info("platform started", "seconds", time.Since(began).Seconds())
	if err := waitAllReady(rctx, srv, o.readyTimout); err != nil {
		shutdown()
		return firstErr(errs, err)
	}

	publish := func(ready bool) {
		state.Ready = ready
		state.Components = components()
		state.VClusters = map[string][]supervisor.Status{}
		for k, v := range plat.VClusters() {
			state.VClusters[k.String()] = v
		}
		if err := runstate.Write(dir.Path, state); err != nil {
			log.Error("writing run state", "err", err)
		}
	}
	publish(true)
	printReady(out, state, time.Since(began))
	log.Info("ready", "seconds", time.Since(began).Seconds())
	// Start-up is over once the first reconciles have run: give back the code
	// pages that only start-up read (see package pageout).
	trim := time.AfterFunc(30*time.Second, func() {
		if n, err := pageout.Executable(); err != nil {
			log.Info("paging out start-up code failed; RSS stays higher", "err", err)
		} else {
			log.Debug("paged out start-up code", "mappedBytes", n)
		}
	})
	defer trim.Stop()

	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			ok, _ := srv.Ready(rctx)
			publish(ok)
		case <-rctx.Done():
			fmt.Fprintln(out, "stopping gantry…")
			shutdown()
			if err := firstErr(errs, nil); err != nil {
				return err
			}
			fmt.Fprintln(out, "gantry stopped")
			return nil
		}
	}
}

// firstErr returns the first runner error, or fallback; an interruption is not an error.
func firstErr(errs chan error, fallback error) error {
	select {
	case err := <-errs:
		return err
	default:
	}
	if errors.Is(fallback, context.Canceled) {
		return errors.New("interrupted before gantry was ready; everything it started has stopped")
	}
	return fallback
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

func loadExternalHost(ctx context.Context, path string) (*rest.Config, error) {
	cfg, err := kubeconfig.Load(path)
	if err != nil {
		return nil, fmt.Errorf("%w; fix the file or point --kubeconfig at another one", err)
	}
	probe := rest.CopyConfig(cfg)
	probe.Timeout = 10 * time.Second
	dc, err := discovery.NewDiscoveryClientForConfig(probe)
	if err != nil {
		return nil, err
	}
	if _, err := dc.ServerVersion(); err != nil {
		return nil, fmt.Errorf("the host cluster of kubeconfig %s (%s) does not answer: %w; check that it runs and that the kubeconfig is current", path, cfg.Host, err)
	}
	return cfg, nil
}

func printReady(out io.Writer, st runstate.State, took time.Duration) {
	fmt.Fprintf(out, "gantry is ready (%.1fs)\n\n", took.Seconds())
	if st.Host == "embedded" {
		fmt.Fprintf(out, "  host cluster  embedded, Kubernetes %s at %s\n", kubebin.Version, st.APIServer)
		fmt.Fprintf(out, "  nodes         %d simulated by KWOK: pods are scheduled and reported Running, no container runs\n", st.Nodes)
	} else {
		fmt.Fprintf(out, "  host cluster  %s (from %s)\n", st.APIServer, st.Host)
	}
	fmt.Fprintf(out, "  kubeconfig    %s\n  HTTPS         %s (listening on %s, CA %s)\n  OIDC issuer   %s/oidc\n  data          %s\n\n", st.Kubeconfig, st.ExternalURL, st.HTTPAddr, server.CAPath(st.DataDir), st.ExternalURL, st.DataDir)
	fmt.Fprintf(out, "Next:\n  export KUBECONFIG=%s\n  kubectl get nodes\n  gantry login --data-dir %s\n  gantry vcluster create dev --data-dir %s\n  gantry status --data-dir %s\n\nPress Ctrl-C to stop.\n",
		st.Kubeconfig, st.DataDir, st.DataDir, st.DataDir)
}

// reapOrphans kills component processes that a gantry killed without cleanup left
// behind (the parent-death signal normally makes this a no-op). Only processes whose
// command line names this data directory are touched.
func reapOrphans(dataDir string) {
	st, err := runstate.Read(dataDir)
	if err != nil {
		return
	}
	for _, c := range st.Components {
		if c.Pid > 0 && c.Pid != os.Getpid() && supervisor.Alive(c.Pid) && strings.Contains(supervisor.Cmdline(c.Pid), dataDir) {
			_ = syscall.Kill(-c.Pid, syscall.SIGKILL)
			_ = syscall.Kill(c.Pid, syscall.SIGKILL)
		}
	}
	runstate.Remove(dataDir)
}

func openLog(dir, name string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return os.OpenFile(filepath.Join(dir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
}

// setUpLogging sends gantry's log to stderr and logs/gantry.log, the Kubernetes client
// libraries' log to logs/gantry.log, and kine's to logs/kine.log. These loggers are
// process-wide by their libraries' design; this is the one place that sets them.
func setUpLogging(dir string) (*slog.Logger, func(), error) {
	gantryLog, err := openLog(dir, "gantry")
	if err != nil {
		return nil, nil, fmt.Errorf("opening the log directory %s: %w", dir, err)
	}
	kineLog, err := openLog(dir, "kine")
	if err != nil {
		gantryLog.Close()
		return nil, nil, err
	}
	fileHandler := slog.NewTextHandler(gantryLog, &slog.HandlerOptions{Level: slog.LevelInfo})
	log := slog.New(fileHandler)
	klog.SetLogger(logr.FromSlogHandler(fileHandler))
	ctrl.SetLogger(logr.FromSlogHandler(fileHandler))
	logrus.SetOutput(kineLog)
	logrus.SetLevel(logrus.WarnLevel)
	return log, func() { gantryLog.Close(); kineLog.Close() }, nil
}
