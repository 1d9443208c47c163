package argocdtest

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"gantry.dev/gantry/internal/kubebin"
)

// Argo CD's components, as its binary's names select them.
const (
	Server      = "argocd-server"
	RepoServer  = "argocd-repo-server"
	Controller  = "argocd-application-controller"
	redisServer = "redis-server"
)

// BuildHint says how to get the binaries.
const BuildHint = "run `make argocd-binaries` in gantry's source tree (builds Argo CD from tools/argocd into bin/, " +
	"about 8 minutes on 2 cores the first time; `make test` does it)"

// Options say where Argo CD runs.
type Options struct {
	// Kubeconfig is the admin kubeconfig of the cluster Argo CD is installed
	// in (its namespace, CRDs, and the in-cluster destination). Required.
	Kubeconfig string
	// Namespace is Argo CD's namespace (default argocd).
	Namespace string
	// BinDir holds argocd-server, argocd-repo-server and
	// argocd-application-controller (default $GANTRY_KUBE_BIN_DIR, else
	// gantry's bin/).
	BinDir string
}

// ArgoCD is a running Argo CD.
type ArgoCD struct {
	// URL is the API server's (and UI's) address, http://127.0.0.1:<port>.
	URL           string
	Namespace     string
	AdminPassword string

	t     testing.TB
	dir   string
	env   []string
	procs map[string]*process
}

// process is one component: how it is started, how it is known to be up.
type process struct {
	name, bin string
	args      []string
	ready     func(context.Context) error

	// life orders a restart after a crash with stop: never a process
	// started after stop took the last one. mu guards the fields below.
	life     sync.Mutex
	mu       sync.Mutex
	cmd      *exec.Cmd
	exited   chan struct{}
	stopping bool // stop asked for this exit: no restart
	crashes  int
}

// running is p's process and the channel closed when it exits.
func (p *process) running() (*exec.Cmd, chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd, p.exited
}

// Start installs Argo CD into the cluster of opts.Kubeconfig and runs it
// until the test ends. It fails the test with the fix when a binary is
// missing.
func Start(t testing.TB, opts Options) *ArgoCD {
	t.Helper()
	if opts.Namespace == "" {
		opts.Namespace = "argocd"
	}
	if opts.BinDir == "" {
		opts.BinDir = os.Getenv(kubebin.EnvDir)
	}
	if opts.BinDir == "" {
		opts.BinDir = filepath.Join(repoRoot(), "bin")
	}
	bins := map[string]string{}
	for _, c := range []string{Server, RepoServer, Controller} {
		p := filepath.Join(opts.BinDir, c)
		if fi, err := os.Stat(p); err != nil || fi.Mode()&0o111 == 0 {
			t.Fatalf("Argo CD's %s is not in %s: %s", c, opts.BinDir, BuildHint)
		}
		bins[c] = p
	}
	redis, err := exec.LookPath(redisServer)
	if err != nil {
		t.Fatalf("redis-server is not installed (Argo CD needs it): run hack/test-deps.sh, or apt-get install redis-server")
	}
	a := &ArgoCD{Namespace: opts.Namespace, AdminPassword: randomString(12), t: t, dir: t.TempDir(), procs: map[string]*process{}}
	// Argo CD gets its own copy of the kubeconfig: nothing of the caller's
	// directories appears on its command lines.
	kcfg := filepath.Join(a.dir, "kubeconfig")
	data, err := os.ReadFile(opts.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kcfg, data, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kcfg)
	if err != nil {
		t.Fatalf("kubeconfig %s: %v", opts.Kubeconfig, err)
	}
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	modDir, err := moduleDir(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := install(ctx, cfg, modDir, a.Namespace, a.AdminPassword); err != nil {
		t.Fatalf("installing Argo CD's CRDs and configuration: %v", err)
	}
	t.Cleanup(a.stopAll)

	redisPassword := randomString(16)
	// What Argo CD's redis-secret-init job makes; the components read the
	// password from the environment, as the Deployments pass it.
	kube := kubernetes.NewForConfigOrDie(cfg)
	redisSecret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "argocd-redis", Namespace: a.Namespace},
		StringData: map[string]string{"auth": redisPassword}}
	if _, err := kube.CoreV1().Secrets(a.Namespace).Create(ctx, redisSecret, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	for _, d := range []string{"home", "tmp", "static"} {
		if err := os.Mkdir(filepath.Join(a.dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	a.env = append(os.Environ(),
		"HOME="+filepath.Join(a.dir, "home"), "TMPDIR="+filepath.Join(a.dir, "tmp"),
		// The in-cluster destination is the kubeconfig's cluster.
		"KUBECONFIG="+kcfg, "ARGOCD_FAKE_IN_CLUSTER=true",
		"REDIS_PASSWORD="+redisPassword, "ARGOCD_GPG_ENABLED=false")

	redisPort, repoPort, repoMetrics, ctrlMetrics, serverPort, serverMetrics := freePort(t), freePort(t), freePort(t), freePort(t), freePort(t), freePort(t)
	redisAddr := fmt.Sprintf("127.0.0.1:%d", redisPort)
	repoAddr := fmt.Sprintf("127.0.0.1:%d", repoPort)
	a.URL = fmt.Sprintf("http://127.0.0.1:%d", serverPort)
	common := []string{"--redis", redisAddr, "--loglevel", "info"}
	a.procs[redisServer] = &process{name: redisServer, bin: redis,
		args:  []string{"--bind", "127.0.0.1", "--port", fmt.Sprint(redisPort), "--requirepass", redisPassword, "--save", "", "--appendonly", "no", "--dir", a.dir},
		ready: func(ctx context.Context) error { return pingRedis(ctx, redisAddr, redisPassword) }}
	a.procs[RepoServer] = &process{name: RepoServer, bin: bins[RepoServer],
		args: append([]string{"--address", "127.0.0.1", "--port", fmt.Sprint(repoPort), "--disable-tls",
			"--metrics-address", "127.0.0.1", "--metrics-port", fmt.Sprint(repoMetrics)}, common...),
		ready: httpReady(fmt.Sprintf("http://127.0.0.1:%d/healthz", repoMetrics))}
	a.procs[Controller] = &process{name: Controller, bin: bins[Controller],
		args: append([]string{"--kubeconfig", kcfg, "--namespace", a.Namespace, "--repo-server", repoAddr, "--repo-server-plaintext",
			"--metrics-port", fmt.Sprint(ctrlMetrics)}, common...),
		ready: httpReady(fmt.Sprintf("http://127.0.0.1:%d/healthz", ctrlMetrics))}
	a.procs[Server] = &process{name: Server, bin: bins[Server],
		args: append([]string{"--insecure", "--kubeconfig", kcfg, "--namespace", a.Namespace,
			"--address", "127.0.0.1", "--port", fmt.Sprint(serverPort), "--metrics-address", "127.0.0.1", "--metrics-port", fmt.Sprint(serverMetrics),
			"--repo-server", repoAddr, "--repo-server-plaintext", "--staticassets", filepath.Join(a.dir, "static")}, common...),
		ready: httpReady(a.URL + "/healthz")}

	if err := waitCRDs(ctx, cfg, a.Namespace); err != nil {
		t.Fatal(err)
	}
	installed := time.Since(began)
	// redis and the repo-server first: the others connect to them.
	for _, group := range [][]string{{redisServer}, {RepoServer}, {Controller, Server}} {
		for _, name := range group {
			if err := a.start(a.procs[name]); err != nil {
				t.Fatal(err)
			}
		}
		for _, name := range group {
			if err := a.waitReady(ctx, a.procs[name]); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Logf("Argo CD is up at %s: installed in %s, its processes ready %s later", a.URL,
		installed.Round(time.Millisecond), (time.Since(began) - installed).Round(time.Millisecond))
	return a
}

// Restart stops a component (Server, RepoServer or Controller) and starts it
// again with the same flags, as a rollout restart of its Deployment would.
func (a *ArgoCD) Restart(t testing.TB, component string) {
	t.Helper()
	p := a.procs[component]
	if p == nil || component == redisServer {
		t.Fatalf("Restart(%q): not an Argo CD component (%s, %s or %s)", component, Server, RepoServer, Controller)
	}
	a.stop(p)
	p.mu.Lock()
	p.stopping = false
	p.mu.Unlock()
	if err := a.start(p); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := a.waitReady(ctx, p); err != nil {
		t.Fatal(err)
	}
}

// Log is what a component has written so far.
func (a *ArgoCD) Log(component string) string {
	data, _ := os.ReadFile(filepath.Join(a.dir, component+".log"))
	return string(data)
}

func (a *ArgoCD) start(p *process) error {
	logFile, err := os.OpenFile(filepath.Join(a.dir, p.name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(p.bin, p.args...)
	cmd.Env = a.env
	cmd.Dir = a.dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Gone with the test binary, whatever ends it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", p.name, err)
	}
	exited := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.exited = cmd, exited
	p.mu.Unlock()
	go func() {
		_ = cmd.Wait()
		close(exited)
		a.restartCrashed(p, cmd)
	}()
	return nil
}

// restartCrashed starts p again when cmd ended without stop asking, as the
// kubelet restarts a crashed container of Argo CD's Deployments
// (restartPolicy Always). Argo CD v3.3.10's argocd-server can panic ("send on
// closed channel" in settings.notifySubscribers) when argocd-cm and
// argocd-rbac-cm change together while it restarts for a new oidc.config; in
// a cluster that costs a pod restart, and here it must too. The crash stays
// in the component's log.
func (a *ArgoCD) restartCrashed(p *process, cmd *exec.Cmd) {
	p.mu.Lock()
	if p.stopping || p.cmd != cmd || p.crashes >= 5 {
		p.mu.Unlock()
		return
	}
	p.crashes++
	p.mu.Unlock()
	if f, err := os.OpenFile(filepath.Join(a.dir, p.name+".log"), os.O_WRONLY|os.O_APPEND, 0o600); err == nil {
		fmt.Fprintf(f, "argocdtest: %s exited (%v) unasked; restarting it as the kubelet would\n", p.name, cmd.ProcessState)
		f.Close()
	}
	time.Sleep(time.Second) // the kubelet's first back-off is 10 s; a test has less time
	p.life.Lock()
	defer p.life.Unlock()
	p.mu.Lock()
	stopping := p.stopping
	p.mu.Unlock()
	if !stopping {
		_ = a.start(p)
	}
}

func (a *ArgoCD) waitReady(ctx context.Context, p *process) error {
	cmd, exited := p.running()
	for {
		err := p.ready(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("%s exited while starting (%v); its log:\n%s", p.name, cmd.ProcessState, tail(a.Log(p.name), 40))
		case <-ctx.Done():
			return fmt.Errorf("%s is not ready: %v; its log:\n%s", p.name, err, tail(a.Log(p.name), 40))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stop ends p by its pid: SIGTERM, then SIGKILL after 20 s.
func (a *ArgoCD) stop(p *process) {
	p.life.Lock()
	p.mu.Lock()
	p.stopping = true
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	p.life.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	select {
	case <-exited:
		return
	default:
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
}

// stopAll stops the components, then redis; a failed test shows the end of
// every log.
func (a *ArgoCD) stopAll() {
	for _, name := range []string{Server, Controller, RepoServer, redisServer} {
		if p := a.procs[name]; p != nil {
			a.stop(p)
		}
	}
	if a.t.Failed() {
		names := make([]string, 0, len(a.procs))
		for n := range a.procs {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			a.t.Logf("last lines of Argo CD's %s log:\n%s", n, tail(a.Log(n), 30))
		}
	}
}

func httpReady(url string) func(context.Context) error {
	return func(ctx context.Context) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s answered %s", url, resp.Status)
		}
		return nil
	}
}

// pingRedis authenticates and pings, in redis's own protocol.
func pingRedis(ctx context.Context, addr, password string) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := fmt.Fprintf(c, "AUTH %s\r\nPING\r\n", password); err != nil {
		return err
	}
	r := bufio.NewReader(c)
	for _, want := range []string{"+OK", "+PONG"} {
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		if strings.TrimSpace(line) != want {
			return fmt.Errorf("redis answered %q, want %s", strings.TrimSpace(line), want)
		}
	}
	return nil
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
