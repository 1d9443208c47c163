//go:build bench

package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"gantry.dev/gantry/internal/crds"
)

// appsManifest writes the Applications of BenchmarkGitOps1000 into one file,
// as a user would `kubectl apply -f` them: perRepo apps in each repository.
func appsManifest(b *testing.B, urls []string, perRepo int) string {
	var sb strings.Builder
	for r, url := range urls {
		for a := range perRepo {
			name := fmt.Sprintf("r%02d-a%02d", r, a)
			fmt.Fprintf(&sb, `---
apiVersion: gitops.gantry.dev/v1alpha1
kind: Application
metadata: {name: %s, namespace: p-default}
spec:
  project: default
  source: {repoURL: %q, path: app%02d, targetRevision: main}
  destination: {server: "https://kubernetes.default.svc", namespace: %s}
  syncPolicy:
    automated: {prune: true}
    syncOptions: [CreateNamespace=true]
`, name, url, a, name)
		}
	}
	path := filepath.Join(b.TempDir(), "apps.yaml")
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	return path
}

// kubectlApply runs `kubectl apply -f file` against a kubeconfig and returns
// how long it took.
func kubectlApply(b *testing.B, kubeconfig, file string) time.Duration {
	start := time.Now()
	out, err := exec.Command(filepath.Join(kubeBinDir, "kubectl"), "--kubeconfig", kubeconfig, "apply", "-f", file).CombinedOutput()
	if err != nil {
		b.Fatalf("kubectl apply -f %s: %v\n%s", file, err, tail(out, 2000))
	}
	return time.Since(start)
}

func tail(out []byte, n int) []byte {
	if len(out) > n {
		return out[len(out)-n:]
	}
	return out
}

// idleHostApply is the yardstick of "the engine does not crowd out users":
// the same `kubectl apply` on the same embedded host with nothing else at work
// (gantry up --host-only, gantry's CRDs installed, no engine watching). The
// host is stopped afterwards.
func idleHostApply(b *testing.B, file string) time.Duration {
	dir := b.TempDir()
	_, stop, _ := upWith(b, dir, "--host-only", "--nodes", "1")
	defer stop()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := crds.Install(ctx, cfg); err != nil {
		b.Fatalf("installing gantry's CRDs into the idle host: %v", err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "p-default"}}
	if _, err := kubernetes.NewForConfigOrDie(cfg).CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		b.Fatal(err)
	}
	// The API server holds writes of a custom resource for a moment after its
	// CRD is Established; the busy run's CRDs are older than that too.
	time.Sleep(5 * time.Second)
	return kubectlApply(b, kubeconfig, file)
}

// memory is one reading of a process's memory: what the kernel holds for it
// (RSS, the target) and the Go heap in use (go_memstats_heap_inuse_bytes),
// whose difference is mostly garbage and free spans not yet returned.
// goHeld is what the Go runtime holds from the system and has not returned
// (go_memstats_sys_bytes - go_memstats_heap_released_bytes): RSS above it is
// the binary's pages and C memory (SQLite, in gantry's kine).
type memory struct{ rss, heap, goHeld float64 } // MiB

func (m memory) String() string {
	return fmt.Sprintf("%.0f (heap %.0f, Go %.0f)", m.rss, m.heap, m.goHeld)
}

// memoryNow reads gantry's and the host kube-controlplane's memory.
func (e *gitopsEnv) memoryNow(b *testing.B, hostPid int) (gantry, host memory) {
	page := e.metricsPage(b)
	gantry = memoryFrom(rssMiB(e.pid), page)
	body, err := e.host.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(context.Background())
	if err != nil {
		b.Fatalf("the host API server's metrics: %v", err)
	}
	host = memoryFrom(rssMiB(hostPid), string(body))
	return gantry, host
}

func memoryFrom(rss float64, page string) memory {
	const mib = 1 << 20
	return memory{rss, metricIn(page, "go_memstats_heap_inuse_bytes") / mib,
		(metricIn(page, "go_memstats_sys_bytes") - metricIn(page, "go_memstats_heap_released_bytes")) / mib}
}

// metricIn is the value of an unlabelled metric in a Prometheus text page.
func metricIn(page, name string) float64 {
	for _, l := range strings.Split(page, "\n") {
		if strings.HasPrefix(l, name+" ") {
			var v float64
			fmt.Sscan(strings.TrimPrefix(l, name+" "), &v)
			return v
		}
	}
	return 0
}

// refreshAll asks every app for a normal refresh (Argo CD's annotation, as
// `argocd app get --refresh` does) and waits until each recorded its
// comparison (gantry takes the annotation off then) and all are Synced and
// Healthy again.
func (e *gitopsEnv) refreshAll(b *testing.B, want int) time.Duration {
	list, err := e.dyn.Resource(appGVR).Namespace("p-default").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	patch := []byte(`{"metadata":{"annotations":{"argocd.argoproj.io/refresh":"normal"}}}`)
	names := make(chan string)
	var wg sync.WaitGroup
	var failed error
	var mu sync.Mutex
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for name := range names {
				_, err := e.dyn.Resource(appGVR).Namespace("p-default").Patch(context.Background(), name, types.MergePatchType, patch, metav1.PatchOptions{})
				if err != nil {
					mu.Lock()
					failed = err
					mu.Unlock()
				}
			}
		}()
	}
	for _, a := range list.Items {
		names <- a.GetName()
	}
	close(names)
	wg.Wait()
	if failed != nil {
		b.Fatalf("annotating apps for a refresh: %v", failed)
	}
	for {
		list, err := e.dyn.Resource(appGVR).Namespace("p-default").List(context.Background(), metav1.ListOptions{})
		if err != nil {
			b.Fatal(err)
		}
		pending, done := 0, 0
		for _, a := range list.Items {
			if _, ok := a.GetAnnotations()["argocd.argoproj.io/refresh"]; ok {
				pending++
			}
			s, _, _ := unstructured.NestedString(a.Object, "status", "sync", "status")
			h, _, _ := unstructured.NestedString(a.Object, "status", "health", "status")
			if s == "Synced" && h == "Healthy" {
				done++
			}
		}
		if pending == 0 && done >= want {
			return time.Since(start)
		}
		if time.Since(start) > 10*time.Minute {
			b.Fatalf("refresh: %d apps still carry the refresh annotation, %d of %d Synced and Healthy after 10 minutes", pending, done, want)
		}
		time.Sleep(time.Second)
	}
}

// perApp is the requests of a phase divided by the number of apps, by verb
// and resource, largest first, with their total.
func perApp(before, after map[string]float64, apps int) string {
	type part struct {
		key string
		n   float64
	}
	var parts []part
	total := 0.0
	for k, v := range after {
		if d := v - before[k]; d > 0 {
			parts = append(parts, part{k, d / float64(apps)})
			total += d / float64(apps)
		}
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].n > parts[j].n })
	var sb strings.Builder
	fmt.Fprintf(&sb, "%.1f", total)
	for _, p := range parts {
		if p.n < 0.05 {
			break
		}
		fmt.Fprintf(&sb, "; %s %.2f", p.key, p.n)
	}
	return sb.String()
}

// refreshCycle is one refresh of all apps: its wall time, the CPU-seconds of
// gantry and the host's kube-controlplane, and their memory after it.
type refreshCycle struct {
	wall            time.Duration
	cpu, hostCPU    float64
	gantry, hostMem memory
}

// medianRefresh is the refresh of median wall time, with its CPU-seconds.
func medianRefresh(cycles []refreshCycle) string {
	s := append([]refreshCycle(nil), cycles...)
	sort.Slice(s, func(i, j int) bool { return s[i].wall < s[j].wall })
	c := s[len(s)/2]
	return fmt.Sprintf("%.1fs / %.1f + %.1f", c.wall.Seconds(), c.cpu, c.hostCPU)
}
