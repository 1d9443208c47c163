package syncer

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"gantry.dev/gantry/internal/controlplane"
	"gantry.dev/gantry/internal/kubebin"
	"gantry.dev/gantry/internal/simnodes"
)

// The real-API-server tests share one environment, started by the first test that
// needs it and stopped after all: a host control plane (scheduler, host controllers,
// two KWOK-simulated nodes) and a virtual one (tenant controllers), with a syncer
// between them for vcluster "vc1" into host namespace "vc1-host".
const (
	testVCluster = "vc1"
	testHostNS   = "vc1-host"
	testProject  = "p-team"
)

type testEnv struct {
	dir             string
	host, virtual   *controlplane.ControlPlane
	hostKube, vKube kubernetes.Interface
	log             *syncBuffer
	syncerMu        sync.Mutex
	stopSyncer      context.CancelFunc
	syncerDone      chan error
	stopAll         []func() // in reverse start order
}

var (
	envOnce   sync.Once
	sharedEnv *testEnv
	envErr    error
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if sharedEnv != nil {
		if code != 0 {
			fmt.Fprintf(os.Stderr, "--- end of the syncer's log (all of it: %s):\n%s\n",
				filepath.Join(os.TempDir(), "gantry-syncer-test.log"), sharedEnv.log.tail(40))
		}
		sharedEnv.shutdown()
	}
	os.Exit(code)
}

// env returns the shared environment, starting it on first use. With -short the
// tests that need it are skipped.
func env(t *testing.T) *testEnv {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the Kubernetes binaries; runs without -short")
	}
	envOnce.Do(func() { sharedEnv, envErr = startEnv() })
	if envErr != nil {
		t.Fatal(envErr)
	}
	return sharedEnv
}

func startEnv() (*testEnv, error) {
	binDir := os.Getenv(kubebin.EnvDir)
	if binDir == "" {
		binDir, _ = filepath.Abs("../../bin")
	}
	bins, err := kubebin.Find(context.Background(), []string{binDir}, kubebin.All...)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "gantry-syncer-test-")
	if err != nil {
		return nil, err
	}
	e := &testEnv{dir: dir, log: &syncBuffer{}}
	e.stopAll = append(e.stopAll, func() { os.RemoveAll(dir) })
	if f, err := os.Create(filepath.Join(os.TempDir(), "gantry-syncer-test.log")); err == nil {
		e.log.file = f
		e.stopAll = append(e.stopAll, func() { f.Close() })
	}
	ok := false
	defer func() {
		if !ok {
			e.shutdown()
		}
	}()

	began := time.Now()
	if e.host, err = e.startControlPlane(controlplane.Options{Name: "host", Dir: filepath.Join(dir, "host"), Binaries: bins,
		Scheduler: true, Controllers: controlplane.HostControllers}); err != nil {
		return nil, err
	}
	// A different Service range inside shows that virtual Services keep their own ClusterIPs.
	if e.virtual, err = e.startControlPlane(controlplane.Options{Name: testVCluster, Dir: filepath.Join(dir, testVCluster), Binaries: bins,
		ServiceCIDR: "10.97.0.0/16"}); err != nil {
		return nil, err
	}
	e.hostKube = kubernetes.NewForConfigOrDie(e.host.RESTConfig())
	e.vKube = kubernetes.NewForConfigOrDie(e.virtual.RESTConfig())

	nodesCtx, stopNodes := context.WithCancel(context.Background())
	nodesDone := make(chan error, 1)
	go func() {
		nodesDone <- simnodes.Run(nodesCtx, simnodes.Options{Kubeconfig: e.host.KubeconfigPath(), Count: 2, Log: io.Discard})
	}()
	e.stopAll = append(e.stopAll, func() { stopNodes(); <-nodesDone })

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err = wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		nodes, err := e.hostKube.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: simnodes.SimulatedLabel + "=true"})
		if err != nil {
			return false, nil
		}
		ready := 0
		for _, n := range nodes.Items {
			for _, c := range n.Status.Conditions {
				if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
					ready++
				}
			}
		}
		return ready == 2, nil
	})
	if err != nil {
		return nil, fmt.Errorf("simulated nodes not ready: %w", err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: testHostNS}}
	if _, err := e.hostKube.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "syncer tests: two control planes and 2 simulated nodes ready in %s (%s)\n", time.Since(began).Round(time.Millisecond), dir)
	if err := e.startSyncer(); err != nil {
		return nil, err
	}
	e.stopAll = append(e.stopAll, func() { e.stopSyncerNow() })
	ok = true
	return e, nil
}

func (e *testEnv) startControlPlane(opts controlplane.Options) (*controlplane.ControlPlane, error) {
	cp, err := controlplane.New(opts)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cp.Run(ctx) }()
	e.stopAll = append(e.stopAll, func() { cancel(); <-done })
	return cp, cp.WaitReady(ctx, 90*time.Second)
}

func (e *testEnv) syncerOptions() Options {
	return Options{
		VCluster: testVCluster, Namespace: testProject, HostNamespace: testHostNS,
		Virtual: e.virtual.RESTConfig(), Host: e.host.RESTConfig(),
		SyncEvents: true,
		Logger: funcr.New(func(prefix, args string) { e.log.line(prefix + " " + args) },
			funcr.Options{Verbosity: 1, LogTimestamp: true}),
	}
}

// startSyncer runs the syncer in the background, with options changed by tweak;
// stopSyncerNow stops it and waits.
func (e *testEnv) startSyncer(tweak ...func(*Options)) error {
	e.syncerMu.Lock()
	defer e.syncerMu.Unlock()
	if e.stopSyncer != nil {
		return fmt.Errorf("syncer already running")
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.stopSyncer, e.syncerDone = cancel, make(chan error, 1)
	opts := e.syncerOptions()
	for _, f := range tweak {
		f(&opts)
	}
	go func() { e.syncerDone <- Run(ctx, opts) }()
	return nil
}

func (e *testEnv) stopSyncerNow() error {
	e.syncerMu.Lock()
	defer e.syncerMu.Unlock()
	if e.stopSyncer == nil {
		return nil
	}
	e.stopSyncer()
	err := <-e.syncerDone
	e.stopSyncer = nil
	return err
}

func (e *testEnv) shutdown() {
	for i := len(e.stopAll) - 1; i >= 0; i-- {
		e.stopAll[i]()
	}
}

// syncBuffer collects the syncer's log so tests can wait for what it says.
type syncBuffer struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	file io.Writer // a copy, for reading after the run
}

func (b *syncBuffer) line(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.WriteString(s + "\n")
	if b.file != nil {
		io.WriteString(b.file, s+"\n")
	}
}

func (b *syncBuffer) contains(parts ...string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, l := range strings.Split(b.buf.String(), "\n") {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(l, p)
		}
		if all {
			return true
		}
	}
	return false
}

func (b *syncBuffer) tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	lines := strings.Split(strings.TrimRight(b.buf.String(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// eventually waits until cond holds, failing the test after timeout with what.
func eventually(t *testing.T, timeout time.Duration, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last error
	err := wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		ok, err := cond(ctx)
		if err != nil {
			last = err
			return false, nil
		}
		return ok, nil
	})
	if err != nil {
		t.Fatalf("timed out after %s waiting for %s (last error: %v)", timeout, what, last)
	}
}
