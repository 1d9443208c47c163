package controlplane

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/k3s-io/kine/pkg/drivers/sqlite"
	"github.com/k3s-io/kine/pkg/endpoint"
	"k8s.io/client-go/rest"

	"gantry.dev/gantry/internal/kubebin"
	"gantry.dev/gantry/internal/kubeconfig"
	"gantry.dev/gantry/internal/pki"
	"gantry.dev/gantry/internal/supervisor"
)

// ControlPlane is one Kubernetes control plane. New prepares it (keys, port,
// kubeconfigs: fast, no processes); Run runs it until its context ends.
type ControlPlane struct {
	opts    Options
	creds   *credentials
	apiPort int
	admin   kubeconfig.Config
	proc    *supervisor.Process // kube-controlplane: every component, one process
	// componentReady is each component's last probe result.
	readyMu        sync.Mutex
	componentReady map[string]bool
	// healthPorts are the loopback ports where the controller-manager and the
	// scheduler serve /healthz; chosen afresh at each New and each restart of
	// the process (guarded by readyMu).
	healthPorts map[string]int

	ready     chan struct{}
	readyOnce sync.Once
	// serving is closed once the API server serves every API: ready but for
	// the two bootstrap hooks that only clients acting as system:masters can
	// do without (see Serving).
	serving     chan struct{}
	servingOnce sync.Once
	// warm: the storage held a cluster before this run (a restart, not a creation).
	warm    bool
	kineUp  chan struct{}
	kineErr error
}

// persisted is what a control plane keeps between runs besides its keys and data.
type persisted struct {
	APIPort int `json:"apiPort"`
}

// New prepares a control plane in opts.Dir, reusing what an earlier run left there.
func New(opts Options) (*ControlPlane, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	if opts.Binaries[kubebin.ControlPlane] == "" {
		return nil, fmt.Errorf("control plane %s: no %s binary given", opts.Name, kubebin.ControlPlane)
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("control plane %s: %w", opts.Name, err)
	}
	cp := &ControlPlane{opts: opts, ready: make(chan struct{}), serving: make(chan struct{}), kineUp: make(chan struct{})}
	var err error
	if cp.creds, err = cp.loadCredentials(); err != nil {
		return nil, err
	}
	if cp.apiPort, err = cp.choosePort(); err != nil {
		return nil, err
	}
	if err := cp.writeKubeconfigs(); err != nil {
		return nil, err
	}
	if err := cp.pickHealthPorts(); err != nil {
		return nil, err
	}
	cp.proc = cp.process()
	cp.componentReady = map[string]bool{}
	return cp, nil
}

// WriteCredentials makes, or keeps, the keys, certificates and component
// kubeconfigs of the control plane opts describes in opts.Dir (pki/ and
// kubeconfig), as New does, without choosing ports or needing binaries, and
// returns its admin kubeconfig. opts.APIPort must be set: the component
// kubeconfigs name it. For a control plane that runs elsewhere (a pod: see
// package controlplanepods), whose files are copied there; its New, given the
// same options, then finds every certificate still good and issues none.
func WriteCredentials(opts Options) (kubeconfig.Config, error) {
	if err := opts.setDefaults(); err != nil {
		return kubeconfig.Config{}, err
	}
	if opts.APIPort == 0 {
		return kubeconfig.Config{}, fmt.Errorf("control plane %s: credentials need a fixed API port", opts.Name)
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return kubeconfig.Config{}, fmt.Errorf("control plane %s: %w", opts.Name, err)
	}
	cp := &ControlPlane{opts: opts, apiPort: opts.APIPort}
	var err error
	if cp.creds, err = cp.loadCredentials(); err != nil {
		return kubeconfig.Config{}, err
	}
	if err := cp.writeKubeconfigs(); err != nil {
		return kubeconfig.Config{}, err
	}
	return cp.admin, nil
}

// Name returns the control plane's name.
func (cp *ControlPlane) Name() string { return cp.opts.Name }

// Endpoint is the API server's URL.
func (cp *ControlPlane) Endpoint() string {
	return "https://" + net.JoinHostPort(cp.clientHost(), strconv.Itoa(cp.apiPort))
}

// clientHost is the address clients use: the bind address, or loopback when bound to all.
func (cp *ControlPlane) clientHost() string {
	if ip := net.ParseIP(cp.opts.BindAddress); ip.IsUnspecified() {
		return "127.0.0.1"
	}
	return cp.opts.BindAddress
}

// Admin returns the admin kubeconfig (system:masters).
func (cp *ControlPlane) Admin() kubeconfig.Config { return cp.admin }

// KubeconfigPath is where the admin kubeconfig is written.
func (cp *ControlPlane) KubeconfigPath() string { return filepath.Join(cp.opts.Dir, "kubeconfig") }

// RESTConfig returns an admin client configuration.
func (cp *ControlPlane) RESTConfig() *rest.Config {
	cfg, err := cp.admin.RESTConfig()
	if err != nil {
		// The kubeconfig is built in memory from values New validated.
		panic(fmt.Sprintf("control plane %s: admin kubeconfig: %v", cp.opts.Name, err))
	}
	return cfg
}

// CA returns the cluster CA certificate (PEM).
func (cp *ControlPlane) CA() []byte { return cp.creds.ca.CertPEM() }

// Issue loads, or issues with the cluster CA, the certificate dir/name.{crt,key}
// for spec: a real node's kubelet and kube-proxy identities and the kubelet's
// serving certificate, which kube-apiserver verifies against this CA.
func (cp *ControlPlane) Issue(dir, name string, spec pki.CertSpec) (*pki.KeyPair, error) {
	return cp.creds.ca.LoadOrIssue(dir, name, spec)
}

// Ready is closed once the API server has answered /readyz.
func (cp *ControlPlane) Ready() <-chan struct{} { return cp.ready }

// Serving is closed once the API server serves every API, possibly before
// Ready (see WaitServing).
func (cp *ControlPlane) Serving() <-chan struct{} { return cp.serving }

// Components returns the status of each part: kine (in gantry's process), then each
// Kubernetes component with the pid of the process they share and its own readiness.
func (cp *ControlPlane) Components() []supervisor.Status {
	kine := supervisor.Status{Name: "kine", Pid: os.Getpid()}
	select {
	case <-cp.kineUp:
		kine.Ready = cp.kineErr == nil
	default:
	}
	out := []supervisor.Status{kine}
	st := cp.proc.Status()
	cp.readyMu.Lock()
	defer cp.readyMu.Unlock()
	for _, c := range cp.opts.components() {
		cs := st
		cs.Name = c
		cs.Ready = st.Pid > 0 && cp.componentReady[c]
		out = append(out, cs)
	}
	return out
}

// Run starts kine and the components' process, keeps them running and, when ctx
// ends, stops the process (the API server drains first) and then kine. It returns
// only when everything it started has stopped.
func (cp *ControlPlane) Run(ctx context.Context) error {
	defer cp.releasePorts()
	cp.warm = cp.opts.Storage == "" && fileExists(filepath.Join(cp.opts.Dir, "kine", "state.db"))
	etcdURL, stopKine, err := cp.startKine()
	cp.kineErr = err
	close(cp.kineUp)
	if err != nil {
		return err
	}
	defer stopKine()
	if want := cp.etcdURL(); etcdURL != want {
		return fmt.Errorf("control plane %s: kine listens at %s, expected %s", cp.opts.Name, etcdURL, want)
	}

	if err := cp.proc.Start(); err != nil {
		return fmt.Errorf("control plane %s: %w", cp.opts.Name, err)
	}
	// The process's own context: it is stopped only after the probe, below.
	pctx, stopProc := context.WithCancel(context.Background())
	procDone := make(chan struct{})
	go func() {
		defer close(procDone)
		_ = cp.proc.Run(pctx)
	}()
	probeCtx, stopProbe := context.WithCancel(ctx)
	probed := make(chan struct{})
	go func() {
		defer close(probed)
		cp.probe(probeCtx)
	}()
	<-ctx.Done()
	stopProbe()
	<-probed
	stopProc()
	<-procDone
	return nil
}

// WaitReady waits until the API server is ready, ctx ends, or timeout passes; the
// error then quotes the end of the API server's log, where the reason usually is.
func (cp *ControlPlane) WaitReady(ctx context.Context, timeout time.Duration) error {
	return cp.wait(ctx, cp.ready, timeout)
}

// WaitServing is WaitReady without the API server's two slowest bootstrap
// hooks: the default RBAC roles and the system priority classes. On a first
// start they take a second or two after everything else is served (the
// priority-class hook polls once a second); a client with the admin
// credentials (system:masters, which RBAC does not consult) that creates no
// pod of a system priority class can start that much sooner. The embedded
// host's platform does: its CRDs and first writes overlap the hooks.
func (cp *ControlPlane) WaitServing(ctx context.Context, timeout time.Duration) error {
	return cp.wait(ctx, cp.serving, timeout)
}

func (cp *ControlPlane) wait(ctx context.Context, done <-chan struct{}, timeout time.Duration) error {
	select {
	case <-cp.kineUp:
		if cp.kineErr != nil {
			return cp.kineErr
		}
	case <-ctx.Done():
		return ctx.Err()
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		log := cp.LogPath()
		return fmt.Errorf("control plane %s: kube-apiserver not ready after %s; the end of %s says:\n%s",
			cp.opts.Name, timeout, log, tail(log, 15))
	}
}

func (cp *ControlPlane) startKine() (etcdURL string, stop func(), err error) {
	dsn := cp.opts.Storage
	if err := checkStorage(dsn); err != nil {
		return "", nil, fmt.Errorf("control plane %s: %w", cp.opts.Name, err)
	}
	if dsn == "" {
		dbDir := filepath.Join(cp.opts.Dir, "kine")
		if err := os.MkdirAll(dbDir, 0o700); err != nil {
			return "", nil, err
		}
		dsn = "sqlite://" + filepath.Join(dbDir, "state.db") + "?" + sqlite.DefaultParams
	}
	sock := strings.TrimPrefix(cp.etcdURL(), "unix://")
	if err := os.MkdirAll(filepath.Dir(sock), 0o700); err != nil {
		return "", nil, err
	}
	var wg sync.WaitGroup
	kctx, cancel := context.WithCancel(context.Background())
	etcd, err := endpoint.Listen(kctx, endpoint.Config{
		Listener:  "unix://" + sock,
		Endpoint:  dsn,
		WaitGroup: &wg,
		// Progress notifications to each watch: every 30 s, not kine's 5.
		// The API server asks for one when it needs it (a consistent read
		// from its cache), so these only keep idle watches' revisions
		// fresh; at 5 s they were a tenth of an idle gantry's CPU (kine's
		// sends) and of the host's (their receipt), with nothing changing.
		NotifyInterval:      30 * time.Second,
		EmulatedETCDVersion: "3.6.11",
		CompactTimeout:      5 * time.Second,
		CompactMinRetain:    1000,
		CompactBatchSize:    1000,
		PollBatchSize:       500,
		PollInterval:        time.Second,
	})
	if err != nil {
		cancel()
		wg.Wait()
		return "", nil, fmt.Errorf("control plane %s: storage (kine) did not start: %w; check the storage DSN or the SQLite file under %s",
			cp.opts.Name, err, cp.opts.Dir)
	}
	return etcd.Endpoints[0], func() { cancel(); wg.Wait() }, nil
}

// etcdURL is kine's unix socket, a file in the data directory: no TCP port, and only
// the owner may connect. Unix socket paths are limited to 107 bytes; a deep data
// directory gets a short path in a private directory under the temporary directory.
func (cp *ControlPlane) etcdURL() string {
	p := filepath.Join(cp.opts.Dir, "kine.sock")
	if len(p) >= 100 {
		sum := sha256.Sum256([]byte(cp.opts.Dir))
		p = filepath.Join(os.TempDir(), fmt.Sprintf("gantry-%d", os.Getuid()), hex.EncodeToString(sum[:8])+".sock")
	}
	return "unix://" + p
}

func (cp *ControlPlane) statePath() string { return filepath.Join(cp.opts.Dir, "controlplane.json") }
func (cp *ControlPlane) pkiDir() string    { return filepath.Join(cp.opts.Dir, "pki") }

// choosePort keeps the API port of earlier runs, so kubeconfigs handed out stay valid.
// If that port has been taken meanwhile, a new one is picked and the kubeconfigs are
// rewritten (New always rewrites them).
func (cp *ControlPlane) choosePort() (int, error) {
	var st persisted
	if data, err := os.ReadFile(cp.statePath()); err == nil {
		_ = json.Unmarshal(data, &st)
	}
	port := cp.opts.APIPort
	if port == 0 && st.APIPort != 0 && portFree(cp.opts.BindAddress, st.APIPort) && reserve(st.APIPort) {
		port = st.APIPort
	}
	if port == 0 {
		var err error
		if port, err = freePort(cp.opts.BindAddress); err != nil {
			return 0, fmt.Errorf("control plane %s: no free port on %s: %w", cp.opts.Name, cp.opts.BindAddress, err)
		}
	} else if !portFree(cp.opts.BindAddress, port) && port != st.APIPort {
		return 0, fmt.Errorf("control plane %s: API port %d on %s is already in use; choose another port or stop what uses it",
			cp.opts.Name, port, cp.opts.BindAddress)
	}
	data, _ := json.Marshal(persisted{APIPort: port})
	if err := os.WriteFile(cp.statePath(), data, 0o600); err != nil {
		return 0, err
	}
	return port, nil
}

// handedOut are the ports freePort gave to control planes of this process that
// have not bound them yet or still run: the kernel may offer a closed probe's
// port again at once, and two control planes starting together then got the
// same port (one's API server, the other's controller-manager health port), and
// the API server never started. A control plane returns its ports when Run ends.
var (
	handedOutMu sync.Mutex
	handedOut   = map[int]bool{}
)

func freePort(host string) (int, error) {
	handedOutMu.Lock()
	defer handedOutMu.Unlock()
	for range 100 {
		l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !handedOut[port] {
			handedOut[port] = true
			return port, nil
		}
	}
	return 0, fmt.Errorf("no free port on %s that is not already handed out", host)
}

// reserve marks a port kept from an earlier run as handed out; false if another
// control plane of this process holds it.
func reserve(port int) bool {
	handedOutMu.Lock()
	defer handedOutMu.Unlock()
	if handedOut[port] {
		return false
	}
	handedOut[port] = true
	return true
}

// releasePorts returns the control plane's ports.
func (cp *ControlPlane) releasePorts() {
	cp.readyMu.Lock()
	defer cp.readyMu.Unlock()
	handedOutMu.Lock()
	defer handedOutMu.Unlock()
	delete(handedOut, cp.apiPort)
	for _, p := range cp.healthPorts {
		delete(handedOut, p)
	}
}

// pickHealthPorts chooses the controller-manager's and the scheduler's health
// ports, returning the ones it replaces. Another process (another test
// package, another program) may bind a port between its choice here and the
// component's bind seconds later, once the API server is ready; the
// component then fails, the whole process exits, and the supervisor's restart
// (process's BeforeRestart) comes here for new ones rather than failing again.
func (cp *ControlPlane) pickHealthPorts() error {
	ports := map[string]int{}
	for _, c := range []string{kubebin.ControllerManager, kubebin.Scheduler} {
		p, err := freePort("127.0.0.1")
		if err != nil {
			return fmt.Errorf("control plane %s: no free port for %s: %w", cp.opts.Name, c, err)
		}
		ports[c] = p
	}
	cp.readyMu.Lock()
	old := cp.healthPorts
	cp.healthPorts = ports
	cp.readyMu.Unlock()
	handedOutMu.Lock()
	for _, p := range old {
		delete(handedOut, p)
	}
	handedOutMu.Unlock()
	return nil
}

// healthPort is component's current health port.
func (cp *ControlPlane) healthPort(component string) int {
	cp.readyMu.Lock()
	defer cp.readyMu.Unlock()
	return cp.healthPorts[component]
}

func portFree(host string, port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

func (cp *ControlPlane) writeKubeconfigs() error {
	mk := func(kp interface {
		CertPEM() []byte
		KeyPEM() ([]byte, error)
	}) (kubeconfig.Config, error) {
		key, err := kp.KeyPEM()
		return kubeconfig.Config{Name: "gantry", Server: cp.Endpoint(), CA: cp.creds.ca.CertPEM(), CertPEM: kp.CertPEM(), KeyPEM: key}, err
	}
	var err error
	if cp.admin, err = mk(cp.creds.admin); err != nil {
		return err
	}
	if err := cp.admin.Write(cp.KubeconfigPath()); err != nil {
		return err
	}
	for name, kp := range map[string]interface {
		CertPEM() []byte
		KeyPEM() ([]byte, error)
	}{"controller-manager": cp.creds.kcm, "scheduler": cp.creds.scheduler} {
		cfg, err := mk(kp)
		if err != nil {
			return err
		}
		if err := cfg.Write(filepath.Join(cp.pkiDir(), name+".kubeconfig")); err != nil {
			return err
		}
	}
	return nil
}

// probe keeps each component's readiness up to date: quickly until the API server is
// first ready, then every two seconds. The API server is asked /readyz with admin
// credentials; the controller-manager and scheduler /healthz on their loopback port.
func (cp *ControlPlane) probe(ctx context.Context) {
	cfg := cp.RESTConfig()
	cfg.Timeout = 2 * time.Second
	adminClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return
	}
	anon := rest.AnonymousClientConfig(cfg)
	anonClient, err := rest.HTTPClientFor(anon)
	if err != nil {
		return
	}
	const slowHooks = "?exclude=poststarthook/rbac/bootstrap-roles&exclude=poststarthook/scheduling/bootstrap-system-priority-classes"
	urls := map[string]string{kubebin.APIServer: cp.Endpoint() + "/readyz"}
	if cp.warm {
		// On a restart (or a wake) the bootstrap objects exist already: these two
		// hooks only re-check them, and the priority-class one polls once a second.
		// Skipping them makes a restarted API server ready about a second sooner.
		urls[kubebin.APIServer] += slowHooks
	}
	serving := func() bool {
		select {
		case <-cp.serving:
			return true
		default:
			return false
		}
	}
	for {
		for _, c := range []string{kubebin.ControllerManager, kubebin.Scheduler} {
			urls[c] = fmt.Sprintf("https://127.0.0.1:%d/healthz", cp.healthPort(c))
		}
		allReady := true
		running := cp.proc.Status().Pid > 0
		for _, c := range cp.opts.components() {
			client := anonClient
			if c == kubebin.APIServer {
				client = adminClient
			}
			if c == kubebin.APIServer && running && !serving() && !cp.warm && get200(client, cp.Endpoint()+"/readyz"+slowHooks) {
				cp.servingOnce.Do(func() { close(cp.serving) })
			}
			ready := running && get200(client, urls[c])
			cp.readyMu.Lock()
			cp.componentReady[c] = ready
			cp.readyMu.Unlock()
			allReady = allReady && ready
			if c == kubebin.APIServer && ready {
				cp.servingOnce.Do(func() { close(cp.serving) })
				cp.readyOnce.Do(func() { close(cp.ready) })
			}
		}
		cp.proc.SetReady(allReady)
		// Fast while something is not ready (start-up, a restart), slow after:
		// every probe costs both processes a request (an etcd read for
		// /readyz), which adds up for a host and many virtual clusters that
		// are otherwise idle. A crash is heard at once through Exited.
		interval := 50 * time.Millisecond
		var exited <-chan struct{}
		if allReady {
			interval = steadyProbeInterval
			exited = cp.proc.Exited()
		}
		select {
		case <-ctx.Done():
			return
		case <-exited:
		case <-time.After(interval):
		}
	}
}

// steadyProbeInterval is how often a control plane that is ready is probed.
const steadyProbeInterval = 10 * time.Second

func get200(client *http.Client, url string) bool {
	resp, err := client.Get(url)
	if err != nil {
		return false
	}
	// Read to the end, so that the connection is kept for the next probe:
	// closed unread, it goes, and each probe paid a TLS handshake on both sides.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
