// Package kubetest starts a real Kubernetes control plane (kube-apiserver and
// kube-controller-manager on kine, through package controlplane) for a test
// package, once, and stops it when the package's tests end. Test support
// only: imported by _test files, never by gantry itself.
//
//	func TestMain(m *testing.M) { os.Exit(kubetest.Main(m)) }
//	func TestX(t *testing.T) { env := kubetest.Shared(t, kubetest.Options{CRDs: true}); ... }
//
// Tests that need it are skipped with -short (make test-unit).
package kubetest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/controlplane"
	"gantry.dev/gantry/internal/crds"
	"gantry.dev/gantry/internal/kubebin"
)

// Options shape the shared control plane; the first caller's win.
type Options struct {
	// Controllers is kube-controller-manager's --controllers (default the tenant set).
	Controllers []string
	// CRDs installs gantry's CRDs.
	CRDs bool
}

// Env is a running control plane.
type Env struct {
	CP     *controlplane.ControlPlane
	Config *rest.Config
	Kube   kubernetes.Interface
	// Client knows the core, platform and gitops types.
	Client client.Client
	stop   func()
}

var (
	once   sync.Once
	shared *Env
	err    error
)

// Main runs the package's tests and then stops the shared control plane.
func Main(m *testing.M) int {
	code := m.Run()
	if shared != nil {
		shared.stop()
	}
	return code
}

// Shared returns the package's control plane, starting it on first use.
func Shared(t testing.TB, opts Options) *Env {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the Kubernetes binaries; runs without -short")
	}
	once.Do(func() { shared, err = start(opts) })
	if err != nil {
		t.Fatal(err)
	}
	return shared
}

// Scheme has the types gantry's controllers use.
func Scheme() *k8sruntime.Scheme {
	s := k8sruntime.NewScheme()
	for _, add := range []func(*k8sruntime.Scheme) error{clientgoscheme.AddToScheme, apiextensionsv1.AddToScheme,
		platformv1alpha1.AddToScheme, gitopsv1alpha1.AddToScheme} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return s
}

// binDir is where `make` puts the Kubernetes binaries: <repo>/bin, or
// $GANTRY_KUBE_BIN_DIR.
func binDir() string {
	if d := os.Getenv(kubebin.EnvDir); d != "" {
		return d
	}
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "bin")
}

func start(opts Options) (*Env, error) {
	bins, err := kubebin.Find(context.Background(), []string{binDir()}, kubebin.All...)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "gantry-kubetest-")
	if err != nil {
		return nil, err
	}
	cp, err := controlplane.New(controlplane.Options{Name: "kubetest", Dir: dir, Binaries: bins, Controllers: opts.Controllers})
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cp.Run(ctx) }()
	stop := func() { cancel(); <-done; os.RemoveAll(dir) }
	if err := cp.WaitReady(ctx, 90*time.Second); err != nil {
		stop()
		return nil, err
	}
	// Every part, not only the API server: the controller-manager starts after
	// it, and a failure there (its port taken by another test package meanwhile)
	// restarts the whole process under the first test's feet.
	if err := allReady(ctx, cp, 90*time.Second); err != nil {
		stop()
		return nil, err
	}
	cfg := cp.RESTConfig()
	// Tests make many requests in a row: no client-side throttling.
	cfg.QPS, cfg.Burst = 500, 1000
	if opts.CRDs {
		ictx, icancel := context.WithTimeout(ctx, time.Minute)
		err := crds.Install(ictx, cfg)
		icancel()
		if err != nil {
			stop()
			return nil, fmt.Errorf("installing gantry's CRDs: %w", err)
		}
	}
	c, err := client.New(cfg, client.Options{Scheme: Scheme()})
	if err != nil {
		stop()
		return nil, err
	}
	return &Env{CP: cp, Config: cfg, Kube: kubernetes.NewForConfigOrDie(cfg), Client: c, stop: stop}, nil
}

func allReady(ctx context.Context, cp *controlplane.ControlPlane, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var waiting []string
		for _, c := range cp.Components() {
			if !c.Ready {
				waiting = append(waiting, c.Name)
			}
		}
		if len(waiting) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("kubetest: %s not ready after %s; see %s", strings.Join(waiting, ", "), timeout, cp.LogPath())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Manager starts a controller manager on the control plane for the test
// (gantry's types, no metrics or probe ports, controller names reusable
// across tests) after setup has registered its reconcilers, and stops it
// when the test ends.
func (e *Env) Manager(t testing.TB, setup func(ctrl.Manager) error) ctrl.Manager {
	t.Helper()
	skip := true
	mgr, err := ctrl.NewManager(e.Config, ctrl.Options{
		Scheme:                 Scheme(),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{SkipNameValidation: &skip},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := setup(mgr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return mgr
}

// Namespace creates a namespace named after the test, deleted when it ends.
func (e *Env) Namespace(t testing.TB) string {
	t.Helper()
	return e.namespace(t, testName(t, "t-"))
}

func (e *Env) namespace(t testing.TB, name string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := e.Kube.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Kube.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{}) })
	return name
}

// testName is a DNS label made of prefix and the test's name.
func testName(t testing.TB, prefix string) string {
	name := prefix + strings.Trim(regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(name) > 50 {
		name = strings.TrimRight(name[:50], "-")
	}
	return name
}

// Project creates a Project named after the test with spec, and its
// namespace p-<name> (as the project reconciler would), both deleted when the
// test ends. It returns the project and its namespace, where Applications and
// ApplicationSets of the project live.
func (e *Env) Project(t testing.TB, spec platformv1alpha1.ProjectSpec) (name, namespace string) {
	t.Helper()
	name = testName(t, "")
	p := &platformv1alpha1.Project{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}
	if err := e.Client.Create(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Client.Delete(context.Background(), p) })
	return name, e.namespace(t, "p-"+name)
}
