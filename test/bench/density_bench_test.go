//go:build bench

package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// BenchmarkVClusterDensity: how many virtual clusters run at once on this machine
// before any of them takes more than 2 s to answer. It first defines 180 sleeping
// VirtualClusters (objects only: a sleeping cluster holds no process), then starts
// clusters one by one; after each, every running cluster is asked for a namespace
// and the slowest answer is recorded. It stops at the first answer over 2 s, or
// at the cap (GANTRY_DENSITY_MAX, default 25) to keep the run bounded.
func BenchmarkVClusterDensity(b *testing.B) {
	limit := 25
	if v := os.Getenv("GANTRY_DENSITY_MAX"); v != "" {
		fmt.Sscan(v, &limit)
	}
	dir := b.TempDir()
	_, stop := up(b, dir)
	defer stop()
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(dir, "kubeconfig"))
	if err != nil {
		b.Fatal(err)
	}
	host := kubernetes.NewForConfigOrDie(cfg)
	dyn := dynamic.NewForConfigOrDie(cfg)
	ctx := context.Background()
	if _, err := host.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "p-default"}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		b.Fatal(err)
	}
	gvr := schema.GroupVersionResource{Group: "platform.gantry.dev", Version: "v1alpha1", Resource: "virtualclusters"}
	const sleeping = 180
	for i := range sleeping {
		vc := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "platform.gantry.dev/v1alpha1", "kind": "VirtualCluster",
			"metadata": map[string]any{"name": fmt.Sprintf("asleep%d", i), "namespace": "p-default",
				"annotations": map[string]any{"platform.gantry.dev/sleeping": "true"}},
		}}
		if _, err := dyn.Resource(gvr).Namespace("p-default").Create(ctx, vc, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}

	type row struct {
		running  int
		create   time.Duration
		slowest  time.Duration
		availMiB uint64
	}
	var rows []row
	var clients []*kubernetes.Clientset
	for n := 1; n <= limit; n++ {
		name := fmt.Sprintf("vc%d", n)
		start := time.Now()
		gantryCmd(b, "vcluster", "create", name, "--data-dir", dir)
		created := time.Since(start)
		out := gantryCmd(b, "vcluster", "connect", name, "--print", "--data-dir", dir)
		vcfg, err := clientcmd.RESTConfigFromKubeConfig([]byte(out))
		if err != nil {
			b.Fatal(err)
		}
		vcfg.Timeout = 10 * time.Second
		clients = append(clients, kubernetes.NewForConfigOrDie(vcfg))
		time.Sleep(3 * time.Second) // the new cluster's start-up settles
		slowest := probeAll(clients)
		rows = append(rows, row{n, created, slowest, memAvailableMiB()})
		if slowest > 2*time.Second {
			break
		}
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "\nvirtual clusters (%d more defined, asleep)\tcreate → Running\tslowest answer of all running\tMemAvailable MiB\t\n", sleeping)
	for _, r := range rows {
		fmt.Fprintf(tw, "%d running\t%.2fs\t%.0fms\t%d\t\n", r.running, r.create.Seconds(), float64(r.slowest.Microseconds())/1000, r.availMiB)
	}
	tw.Flush()
	last := rows[len(rows)-1]
	ok := last.running
	if last.slowest > 2*time.Second {
		ok--
	}
	fmt.Printf("\n%d virtual clusters ran at once with every answer under 2 s (cap %d), %d VirtualCluster objects defined\n", ok, limit, ok+sleeping)
	b.ReportMetric(float64(ok), "vclusters-under-2s")
}

// probeAll asks every cluster for the default namespace at once and returns the
// slowest answer (a failure counts as 10 s).
func probeAll(clients []*kubernetes.Clientset) time.Duration {
	var mu sync.Mutex
	var slowest time.Duration
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			_, err := c.CoreV1().Namespaces().Get(context.Background(), "default", metav1.GetOptions{})
			d := time.Since(start)
			if err != nil {
				d = 10 * time.Second
			}
			mu.Lock()
			slowest = max(slowest, d)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return slowest
}

func memAvailableMiB() uint64 {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	var kb uint64
	for _, line := range strings.Split(string(data), "\n") {
		if n, _ := fmt.Sscanf(line, "MemAvailable: %d kB", &kb); n == 1 {
			return kb / 1024
		}
	}
	return 0
}
