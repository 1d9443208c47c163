// Package e2e runs the gantry binary end to end against its real embedded host
// cluster (kine, kube-apiserver, kube-controller-manager, kube-scheduler, KWOK).
// It needs the Kubernetes binaries in bin/ (make kube-binaries); `make test` builds them.
// It builds gantry from this tree, or runs $GANTRY_BIN (make test sets it to bin/gantry).
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"gantry.dev/gantry/internal/kubebin"
	"gantry.dev/gantry/internal/kubeconfig"
)

var (
	gantryBin  string
	kubeBinDir string
)

// Which tests run in parallel: all of them, two at a time (e2eSlots,
// -test.parallel or GOMAXPROCS, 2 on CI): each test has its own gantry, data
// directory and free ports, and most of a test's time is waiting for
// reconciles, so two overlap well. The tests of the machine's one real node
// run one after another inside TestRealNodes, the longest chain (about half
// the suite): it takes one of the two slots from the start, and the other
// tests share the other until it ends. Go's own -test.parallel cannot say
// "this one first" (parallel tests start in no set order), so the slots are
// counted here and Go's limit is lifted.
var e2eSlots int

var slots struct {
	mu      sync.Mutex
	cond    *sync.Cond
	running int
	// chain: TestRealNodes runs or is about to (set in the sequential phase,
	// before any parallel test starts).
	chain bool
}

// parallel is t.Parallel for an end-to-end test: it waits for a free slot.
func parallel(t *testing.T) {
	t.Parallel()
	// Go's figure for the test counts this wait too.
	defer func(start time.Time) { t.Logf("waited %s for a slot", time.Since(start).Round(time.Second)) }(time.Now())
	slots.mu.Lock()
	for slots.running+b2i(slots.chain) >= e2eSlots {
		slots.cond.Wait()
	}
	slots.running++
	slots.mu.Unlock()
	t.Cleanup(func() { // registered first, so it runs after the test's own clean-up
		slots.mu.Lock()
		slots.running--
		slots.cond.Broadcast()
		slots.mu.Unlock()
	})
}

// parallelChain is parallel for TestRealNodes: its slot is held from the
// sequential phase on, so it starts at once.
func parallelChain(t *testing.T) {
	slots.mu.Lock()
	slots.chain = true
	slots.mu.Unlock()
	t.Cleanup(func() {
		slots.mu.Lock()
		slots.chain = false
		slots.cond.Broadcast()
		slots.mu.Unlock()
	})
	t.Parallel()
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestMain(m *testing.M) {
	flag.Parse()
	e2eSlots, _ = strconv.Atoi(flag.Lookup("test.parallel").Value.String())
	e2eSlots = max(e2eSlots, 1)
	flag.Set("test.parallel", "1000")
	slots.cond = sync.NewCond(&slots.mu)
	if testing.Short() {
		fmt.Println("end-to-end tests skipped in -short mode")
		os.Exit(0)
	}
	root, _ := filepath.Abs("../..")
	kubeBinDir = os.Getenv(kubebin.EnvDir)
	if kubeBinDir == "" {
		kubeBinDir = filepath.Join(root, "bin")
	}
	tmp, err := os.MkdirTemp("", "gantry-e2e-bin-")
	if err != nil {
		panic(err)
	}
	// The CLI's own config (gantry login SERVER) and server must not come
	// from whoever runs the tests: each test names its gantry.
	os.Setenv("GANTRY_CONFIG", filepath.Join(tmp, "no-such-dir", "config.json"))
	os.Unsetenv("GANTRY_SERVER")
	// make test has just built bin/gantry from this tree and names it in
	// GANTRY_BIN: linking it again costs about 35 CPU-seconds.
	if gantryBin = os.Getenv("GANTRY_BIN"); gantryBin == "" {
		gantryBin = filepath.Join(tmp, "gantry")
		build := exec.Command("go", "build", "-o", gantryBin, "./cmd/gantry")
		build.Dir = root
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building gantry:", err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(tmp)
	os.Exit(code)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// gantry is one running `gantry up`.
type gantry struct {
	t        *testing.T
	dataDir  string
	httpAddr string
	cmd      *exec.Cmd
	mu       sync.Mutex
	out      bytes.Buffer
	ready    chan struct{}
	exited   chan struct{}
	exitErr  error
	// serverCA verifies the server's certificate when it was given
	// (--tls-cert-file); nil: gantry's own CA in the data directory.
	serverCA []byte
}

// startGantry runs `gantry up` with a temporary data directory and a free port, and
// stops it (SIGTERM, then SIGKILL) when the test ends.
func startGantry(t *testing.T, dataDir string, extra ...string) *gantry {
	t.Helper()
	return startGantryEnv(t, dataDir, nil, extra...)
}

// startGantryEnv is startGantry with variables added to gantry's environment
// (a parallel test cannot t.Setenv).
func startGantryEnv(t *testing.T, dataDir string, env []string, extra ...string) *gantry {
	t.Helper()
	g := &gantry{t: t, dataDir: dataDir, httpAddr: freeAddr(t), ready: make(chan struct{}), exited: make(chan struct{})}
	args := append([]string{"up", "--data-dir", dataDir, "--http-addr", g.httpAddr, "--kube-bin-dir", kubeBinDir, "--real-nodes", "0"}, extra...)
	g.cmd = exec.Command(gantryBin, args...)
	if env != nil {
		g.cmd.Env = append(os.Environ(), env...)
	}
	// If the test binary itself is killed, gantry (and through it everything it
	// started) goes too.
	g.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	pr, pw := io.Pipe()
	g.cmd.Stdout, g.cmd.Stderr = pw, pw
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s := bufio.NewScanner(pr)
		once := sync.Once{}
		for s.Scan() {
			g.mu.Lock()
			g.out.WriteString(s.Text() + "\n")
			g.mu.Unlock()
			if strings.HasPrefix(s.Text(), "gantry is ready") {
				once.Do(func() { close(g.ready) })
			}
		}
	}()
	go func() {
		g.exitErr = g.cmd.Wait()
		pw.Close()
		close(g.exited)
	}()
	t.Cleanup(func() {
		g.stop()
		assertNoProcesses(t, dataDir)
		if t.Failed() {
			// What gantry logged is gone with the temporary directory: show its end.
			data, _ := os.ReadFile(filepath.Join(dataDir, "logs", "gantry.log"))
			lines := strings.Split(string(data), "\n")
			t.Logf("last lines of gantry.log:\n%s", strings.Join(lines[max(0, len(lines)-60):], "\n"))
		}
	})
	return g
}

func (g *gantry) output() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.out.String()
}

func (g *gantry) waitReady(timeout time.Duration) {
	g.t.Helper()
	select {
	case <-g.ready:
	case <-g.exited:
		g.t.Fatalf("gantry exited before ready: %v\n%s", g.exitErr, g.output())
	case <-time.After(timeout):
		g.t.Fatalf("gantry not ready after %s:\n%s", timeout, g.output())
	}
}

// stop sends SIGTERM and waits; it fails the test if gantry does not exit cleanly.
func (g *gantry) stop() {
	select {
	case <-g.exited:
		return
	default:
	}
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-g.exited:
		if g.exitErr != nil {
			g.t.Errorf("gantry exited with %v after SIGTERM:\n%s", g.exitErr, g.output())
		}
	case <-time.After(60 * time.Second):
		_ = g.cmd.Process.Kill()
		<-g.exited
		g.t.Errorf("gantry did not stop within 60s of SIGTERM")
	}
}

func (g *gantry) client() *kubernetes.Clientset {
	g.t.Helper()
	return kubernetes.NewForConfigOrDie(g.restConfig(g.t))
}

// restConfig is the host's admin client configuration.
func (g *gantry) restConfig(t *testing.T) *rest.Config {
	t.Helper()
	cfg, err := kubeconfig.Load(filepath.Join(g.dataDir, "kubeconfig"))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// run runs a gantry command to completion and returns its combined output.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, gantryBin, args...).CombinedOutput()
	return string(out), err
}

// runStdin is run with stdin.
func runStdin(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, gantryBin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// processesUsing lists the pids of processes whose command line names dir.
func processesUsing(dir string) []string {
	var pids []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || e.Name() == fmt.Sprint(os.Getpid()) {
			continue
		}
		if strings.Contains(strings.ReplaceAll(string(data), "\x00", " "), dir) {
			if stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil {
				s := string(stat)
				if i := strings.LastIndexByte(s, ')'); i > 0 && i+2 < len(s) && s[i+2] == 'Z' {
					continue
				}
			}
			pids = append(pids, e.Name())
		}
	}
	return pids
}

func assertNoProcesses(t *testing.T, dir string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		pids := processesUsing(dir)
		if len(pids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			for _, p := range pids {
				_ = syscall.Kill(atoi(p), syscall.SIGKILL)
			}
			t.Errorf("processes left running for %s: %v", dir, pids)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func atoi(s string) int {
	var n int
	fmt.Sscan(s, &n)
	return n
}

func eventually(t *testing.T, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		if last = cond(); last == nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s: not true after %s: %v", what, timeout, last)
}

// grantProject merges spec into a project as an administrator would (with the
// host's admin kubeconfig), retrying until gantry has made the project. The
// GitOps tests deploy into host namespaces and read file:// repositories,
// which a project may only do when granted.
func (g *gantry) grantProject(t *testing.T, project, spec string) {
	t.Helper()
	dyn := dynamic.NewForConfigOrDie(g.restConfig(t))
	gvr := schema.GroupVersionResource{Group: "platform.gantry.dev", Version: "v1alpha1", Resource: "projects"}
	eventually(t, 30*time.Second, "granting project "+project, func() error {
		_, err := dyn.Resource(gvr).Patch(context.Background(), project, types.MergePatchType, []byte(`{"spec":`+spec+`}`), metav1.PatchOptions{})
		return err
	})
}

// hostGrant lets a project deploy anywhere on the host (gantry-system and
// kube-* only by name) and read local repositories.
const hostGrant = `{"allowedDestinations":[{"server":"https://kubernetes.default.svc","namespace":"*"}],"localRepositories":true}`
