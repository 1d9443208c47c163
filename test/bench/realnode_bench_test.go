//go:build bench

package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"gantry.dev/gantry/internal/binimage"
	"gantry.dev/gantry/internal/kubeconfig"
	"gantry.dev/gantry/internal/realnode"
	"gantry.dev/gantry/internal/supervisor"
)

// BenchmarkRealNode: `gantry up` to ready with one real node (new data
// directories, beside the same with --real-nodes 0), pod create → Running on
// the real node with the image present (20 pods, one after the other), and
// the RSS the real node adds: containerd, kubelet, kube-proxy, idle and with
// one pod (its shim). Skips where the machine cannot run a real node.
func BenchmarkRealNode(b *testing.B) {
	if _, err := realnode.Preflight(context.Background(), []string{kubeBinDir}, b.TempDir()); err != nil {
		b.Skipf("no real node here: %v", err)
	}
	const runs = 3
	var real, sim []time.Duration
	for range runs {
		d, stop, _ := upWith(b, b.TempDir(), "--nodes", "1")
		stop()
		sim = append(sim, d)
		d, stop, _ = upWith(b, b.TempDir(), "--nodes", "1", "--real-nodes", "1")
		stop()
		real = append(real, d)
	}

	dataDir := b.TempDir()
	_, stop, _ := upWith(b, dataDir, "--nodes", "1", "--real-nodes", "1")
	defer stop()
	cfg, err := kubeconfig.Load(filepath.Join(dataDir, "kubeconfig"))
	if err != nil {
		b.Fatal(err)
	}
	c := kubernetes.NewForConfigOrDie(cfg)
	loadHello(b, dataDir)

	ctx := context.Background()
	var toRunning []time.Duration
	for i := range 20 {
		name := fmt.Sprintf("bench-%d", i)
		pod := helloPod(name)
		start := time.Now()
		if _, err := c.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		for {
			p, err := c.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
			if err == nil && p.Status.Phase == corev1.PodRunning {
				break
			}
			if time.Since(start) > time.Minute {
				b.Fatalf("pod %s not Running after a minute", name)
			}
			time.Sleep(10 * time.Millisecond)
		}
		toRunning = append(toRunning, time.Since(start))
		if err := c.CoreV1().Pods("default").Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: new(int64(1))}); err != nil {
			b.Fatal(err)
		}
	}
	// Idle: every pod gone, then a while for start-up garbage to be returned.
	for {
		l, err := c.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
		if err == nil && len(l.Items) == 0 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(30 * time.Second)
	idle := nodeRSS(b, dataDir)
	breakdown := nodeRSSBreakdown(b, dataDir)
	// And with one pod running: its shim, and what the kubelet and containerd add for it.
	pod := helloPod("bench-rss")
	if _, err := c.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	for {
		p, err := c.CoreV1().Pods("default").Get(ctx, pod.Name, metav1.GetOptions{})
		if err == nil && p.Status.Phase == corev1.PodRunning {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(10 * time.Second)
	withPod := nodeRSS(b, dataDir)

	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "\nreal node\tp50\tmax")
	fmt.Fprintf(w, "gantry up → ready, 1 real + 1 simulated node (%d runs)\t%s\t%s\n", runs, percentile(real, 0.5).Round(10*time.Millisecond), percentile(real, 1).Round(10*time.Millisecond))
	fmt.Fprintf(w, "gantry up → ready, 1 simulated node only (%d runs)\t%s\t%s\n", runs, percentile(sim, 0.5).Round(10*time.Millisecond), percentile(sim, 1).Round(10*time.Millisecond))
	fmt.Fprintf(w, "pod create → Running on the real node, image present (%d pods)\t%s\t%s\n", len(toRunning), percentile(toRunning, 0.5).Round(time.Millisecond), percentile(toRunning, 1).Round(time.Millisecond))
	fmt.Fprintf(w, "RSS added by the real node, idle (containerd + kubelet + kube-proxy, start-up code paged out)\t%d MiB\t\n", idle>>20)
	fmt.Fprintf(w, "the same with one pod running (+ its shim)\t%d MiB\t\n", withPod>>20)
	w.Flush()
	fmt.Println(breakdown)
}

func helloPod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.PodSpec{
			NodeSelector:                 map[string]string{realnode.RealLabel: "true"},
			Tolerations:                  []corev1.Toleration{realnode.Toleration},
			AutomountServiceAccountToken: new(false),
			Containers:                   []corev1.Container{{Name: "hello", Image: "example.local/hello:bench", ImagePullPolicy: corev1.PullIfNotPresent}},
		},
	}
}

// loadHello builds the test HTTP image and loads it with gantry image load.
func loadHello(b *testing.B, dataDir string) {
	dir := b.TempDir()
	src, _ := filepath.Abs("../../internal/realnode/testdata/hello")
	bin := filepath.Join(dir, "hello")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, ".")
	build.Dir, build.Env = src, append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("go build hello: %v\n%s", err, out)
	}
	var archive bytes.Buffer
	if err := binimage.Write(&archive, bin, "example.local/hello:bench", "hello"); err != nil {
		b.Fatal(err)
	}
	load := exec.Command(gantryBin, "image", "load", "-", "--data-dir", dataDir)
	load.Stdin = &archive
	if out, err := load.CombinedOutput(); err != nil {
		b.Fatalf("gantry image load: %v\n%s", err, out)
	}
}

// nodeRSS sums the RSS of the real node's processes (and its shims).
func nodeRSS(b *testing.B, dataDir string) int64 {
	var total int64
	for _, c := range statusOf(b, dataDir) {
		if c.Name == realnode.Containerd || c.Name == realnode.Kubelet || c.Name == realnode.KubeProxy {
			total += c.RSSBytes
		}
	}
	{
		for _, pid := range realnode.Shims(filepath.Join(dataDir, "realnode", "containerd", "containerd.sock")) {
			rss, _ := supervisor.RSS(pid)
			total += rss
		}
	}
	return total
}

func nodeRSSBreakdown(b *testing.B, dataDir string) string {
	var parts []string
	for _, c := range statusOf(b, dataDir) {
		if c.Name == realnode.Containerd || c.Name == realnode.Kubelet || c.Name == realnode.KubeProxy {
			parts = append(parts, fmt.Sprintf("%s %d MiB", c.Name, c.RSSBytes>>20))
		}
	}
	return "idle real node: " + strings.Join(parts, ", ")
}
