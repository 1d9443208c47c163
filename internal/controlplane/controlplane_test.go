package controlplane

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"gantry.dev/gantry/internal/kubebin"
	"gantry.dev/gantry/internal/supervisor"
)

// binaries finds the real Kubernetes binaries; `make test` builds them first. With
// -short the tests that need them are skipped (unit tests only).
func binaries(t *testing.T) kubebin.Set {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the Kubernetes binaries; runs without -short")
	}
	root, _ := filepath.Abs("../../bin")
	dir := os.Getenv(kubebin.EnvDir)
	if dir == "" {
		dir = root
	}
	set, err := kubebin.Find(context.Background(), []string{dir}, kubebin.All...)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func start(t *testing.T, opts Options) (*ControlPlane, context.CancelFunc, chan error) {
	t.Helper()
	cp, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cp.Run(ctx) }()
	if err := cp.WaitReady(ctx, 60*time.Second); err != nil {
		cancel()
		<-done
		t.Fatal(err)
	}
	return cp, cancel, done
}

func TestControlPlaneServesAndKeepsStateAcrossRestart(t *testing.T) {
	bins := binaries(t)
	dir := t.TempDir()
	opts := Options{Name: "test", Dir: dir, Binaries: bins}
	cp, stop, done := start(t, opts)
	client := kubernetes.NewForConfigOrDie(cp.RESTConfig())
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kept"}}
	if _, err := client.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, c := range cp.Components() {
		if c.Name != "kine" {
			pids = append(pids, c.Pid)
		}
	}
	endpoint := cp.Endpoint()
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		if supervisor.Alive(pid) {
			t.Fatalf("pid %d alive after stop", pid)
		}
	}

	cp2, stop2, done2 := start(t, opts)
	defer func() { stop2(); <-done2 }()
	if cp2.Endpoint() != endpoint {
		t.Errorf("endpoint changed across restart: %s -> %s", endpoint, cp2.Endpoint())
	}
	client2 := kubernetes.NewForConfigOrDie(cp2.RESTConfig())
	if _, err := client2.CoreV1().Namespaces().Get(context.Background(), "kept", metav1.GetOptions{}); err != nil {
		t.Fatalf("namespace lost across restart: %v", err)
	}
}

// Another process binds the controller-manager's health port between gantry's
// choice of it and the controller-manager's own bind (seconds later, once the
// API server is ready): CI saw the process exit right after the API server
// answered, and every test of a package failed with "connection refused". The
// supervisor's restart must come back with a new port and all parts ready.
func TestHealthPortTakenMeanwhileIsReplacedOnRestart(t *testing.T) {
	bins := binaries(t)
	cp, err := New(Options{Name: "taken", Dir: t.TempDir(), Binaries: bins})
	if err != nil {
		t.Fatal(err)
	}
	taken := cp.healthPort(kubebin.ControllerManager)
	squatter, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(taken)))
	if err != nil {
		t.Fatal(err)
	}
	defer squatter.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cp.Run(ctx) }()
	defer func() { cancel(); <-done }()
	if err := cp.WaitReady(ctx, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		all := true
		for _, c := range cp.Components() {
			all = all && c.Ready
		}
		if all {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not every component ready a minute after the port was taken: %+v; log:\n%s", cp.Components(), tail(cp.LogPath(), 15))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := cp.healthPort(kubebin.ControllerManager); got == taken {
		t.Fatalf("the controller-manager still has the taken port %d", taken)
	}
	if st := cp.proc.Status(); st.Restarts < 1 {
		t.Fatalf("the process never restarted (%+v): the port was not taken in time, and the test proved nothing", st)
	}
}
