package up

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gantry.dev/gantry/internal/datadir"
	"gantry.dev/gantry/internal/kubebin"
	"gantry.dev/gantry/internal/kubetest"
	"gantry.dev/gantry/internal/runstate"
)

func TestMain(m *testing.M) { os.Exit(kubetest.Main(m)) }

// syncBuffer is the terminal, written by Run while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// options runs gantry on the package's API server as an external host, on a
// free port, in a temporary data directory.
func options(t *testing.T, out io.Writer) Options {
	t.Helper()
	env := kubetest.Shared(t, kubetest.Options{})
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := env.CP.Admin().Write(kc); err != nil {
		t.Fatal(err)
	}
	bins := os.Getenv(kubebin.EnvDir)
	if bins == "" {
		_, file, _, _ := runtime.Caller(0)
		bins = filepath.Join(filepath.Dir(file), "..", "..", "bin")
	}
	return Options{DataDir: filepath.Join(t.TempDir(), "data"), Kubeconfig: kc, HTTPAddr: "127.0.0.1:0", KubeBinDir: bins,
		ReadyTimeout: time.Minute, GitPollInterval: time.Hour, Version: "test", Out: out}
}

// gantry up on an external host, then an interrupt: ready, run.json
// published and the data directory locked while it runs; a clean stop that
// removes run.json and releases the lock.
func TestRunUntilInterrupted(t *testing.T) {
	out := &syncBuffer{}
	o := options(t, out)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- Run(ctx, o) }()

	deadline := time.Now().Add(90 * time.Second)
	for !strings.Contains(out.String(), "gantry is ready") {
		select {
		case err := <-done:
			t.Fatalf("Run returned before ready: %v\n%s", err, out)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready after 90s:\n%s", out)
		}
	}
	st, err := runstate.Read(o.DataDir)
	if err != nil || !st.Ready || st.Pid != os.Getpid() || st.Host != o.Kubeconfig || st.ExternalURL == "" {
		t.Errorf("run.json while ready: %+v, %v", st, err)
	}
	if holder := datadir.Holder(o.DataDir); holder != os.Getpid() {
		t.Errorf("the data directory's lock is held by %d, want this process", holder)
	}
	if !strings.Contains(out.String(), "admin password: ") {
		t.Errorf("the first start did not show the admin password:\n%s", out)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after an interrupt: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("Run did not return within 60s of the interrupt")
	}
	if !strings.HasSuffix(out.String(), "stopping gantry…\ngantry stopped\n") {
		t.Errorf("the terminal's last lines:\n%s", out)
	}
	if _, err := runstate.Read(o.DataDir); err == nil {
		t.Error("run.json is left after the stop")
	}
	if holder := datadir.Holder(o.DataDir); holder != 0 {
		t.Errorf("the data directory is still locked by %d", holder)
	}
}

// SIGTERM before gantry is ready: it says so, exits non-zero, and stops
// what had started, lock and run.json included. In a process of its own
// (this test binary, run again as TestChild), for the signal is
// process-wide, and so is the registry of controller names that one
// platform per process fills.
func TestSIGTERMBeforeReady(t *testing.T) {
	o := options(t, nil)
	spec, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd := exec.Command(os.Args[0], "-test.run=^TestChild$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(spec))
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	// Past the checks and into the start: the platform is starting.
	deadline := time.Now().Add(60 * time.Second)
	for {
		log, _ := os.ReadFile(filepath.Join(o.DataDir, "logs", "gantry.log"))
		if strings.Contains(string(log), "msg=starting") {
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("gantry exited before starting: %v\n%s", err, &stderr)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("gantry did not start within 60s")
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err == nil || !strings.Contains(stderr.String(), "interrupted before gantry was ready; everything it started has stopped") {
			t.Errorf("after SIGTERM: %v\n%s", err, &stderr)
		}
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("gantry did not stop within 60s of SIGTERM")
	}
	if _, err := runstate.Read(o.DataDir); err == nil {
		t.Error("run.json is left")
	}
}

// childEnv carries the Options of TestChild.
const childEnv = "GANTRY_UP_TEST_CHILD"

// TestChild is gantry up in a process of its own, for TestSIGTERMBeforeReady.
func TestChild(t *testing.T) {
	spec := os.Getenv(childEnv)
	if spec == "" {
		t.Skip("run by TestSIGTERMBeforeReady only")
	}
	var o Options
	if err := json.Unmarshal([]byte(spec), &o); err != nil {
		t.Fatal(err)
	}
	o.Out = os.Stdout
	if err := Run(context.Background(), o); err != nil {
		fmt.Fprintln(os.Stderr, "gantry:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// --in-cluster outside a pod, or beside --kubeconfig, is refused before
// anything starts, naming the fix.
func TestInClusterOutsideAPod(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	for _, c := range []struct {
		o    Options
		want string
	}{
		{Options{InCluster: true}, "gantry runs in-cluster only as a pod"},
		{Options{InCluster: true, Kubeconfig: "/x"}, "give one"},
	} {
		_, err := check(context.Background(), c.o, t.TempDir())
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v; want %q", c.o, err, c.want)
		}
	}
}
