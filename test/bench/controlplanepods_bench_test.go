//go:build bench

package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/tarball"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"gantry.dev/gantry/internal/kubeconfig"
	"gantry.dev/gantry/internal/realnode"
)

// BenchmarkControlPlanePods: with --control-planes pods on the embedded
// host's real node, virtual cluster create → Running (its control-plane pod
// ready and answering through its Service) p50 of 5, wake from zero replicas
// → first answer through gantry's proxy p50 of 3, and the RSS of one idle
// control-plane pod (gantry controlplane with kine, and kube-controlplane).
// The image is bin/gantry-image.tar (make image) or $GANTRY_IMAGE.
func BenchmarkControlPlanePods(b *testing.B) {
	if _, err := realnode.Preflight(context.Background(), []string{kubeBinDir}, b.TempDir()); err != nil {
		b.Skipf("no real node here: %v", err)
	}
	archive := os.Getenv("GANTRY_IMAGE")
	if archive == "" {
		archive = filepath.Join(kubeBinDir, "gantry-image.tar")
	}
	manifest, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(archive) })
	if err != nil || len(manifest) != 1 {
		b.Fatalf("no image archive at %s (%v): make image", archive, err)
	}
	dataDir := b.TempDir()
	_, stop, _ := upWith(b, dataDir, "--nodes", "1", "--real-nodes", "1", "--control-planes", "pods",
		"--control-plane-image", manifest[0].RepoTags[0])
	defer stop()
	cli := func(args ...string) string {
		b.Helper()
		out, err := exec.Command(gantryBin, append(args, "--data-dir", dataDir)...).CombinedOutput()
		if err != nil {
			b.Fatalf("gantry %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	cli("image", "load", archive)
	cfg, err := kubeconfig.Load(filepath.Join(dataDir, "kubeconfig"))
	if err != nil {
		b.Fatal(err)
	}
	host := kubernetes.NewForConfigOrDie(cfg)
	ctx := context.Background()

	var create []time.Duration
	for i := range 5 {
		start := time.Now()
		cli("vcluster", "create", fmt.Sprintf("cp%d", i), "--timeout", "3m")
		create = append(create, time.Since(start))
	}
	time.Sleep(20 * time.Second) // idle: the start-up's garbage collected
	rss := controlPlanePodRSS(b)

	proxyCfg, err := clientcmd.RESTConfigFromKubeConfig([]byte(cli("vcluster", "connect", "cp0", "--proxy", "--print")))
	if err != nil {
		b.Fatal(err)
	}
	vc := kubernetes.NewForConfigOrDie(proxyCfg)
	var wake []time.Duration
	for range 3 {
		cli("vcluster", "sleep", "cp0")
		for {
			_, err := host.CoreV1().Pods("vc-p-default-cp0").Get(ctx, "gantry-controlplane-0", metav1.GetOptions{})
			if err != nil {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		start := time.Now()
		if _, err := vc.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{}); err != nil {
			b.Fatalf("wake through the proxy: %v", err)
		}
		wake = append(wake, time.Since(start))
	}

	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "control planes as pods (real node)\tp50\truns")
	fmt.Fprintf(w, "create → Running as a pod\t%.2fs\t%s\n", p50(create).Seconds(), secs(create))
	fmt.Fprintf(w, "wake from 0 replicas → answered\t%.2fs\t%s\n", p50(wake).Seconds(), secs(wake))
	fmt.Fprintf(w, "RSS per idle control-plane pod\t%.0f MiB\t%d pods\n", rss, len(create))
	w.Flush()
}

// controlPlanePodRSS is the mean RSS of the processes of the control-plane
// pods: each `gantry controlplane` and its kube-controlplane.
func controlPlanePodRSS(b *testing.B) float64 {
	out, _ := exec.Command("pgrep", "-f", "gantry controlplane --config-dir").Output()
	pids := strings.Fields(string(out))
	if len(pids) == 0 {
		b.Fatal("no control-plane pod's process found")
	}
	var total float64
	for _, p := range pids {
		pid, _ := strconv.Atoi(p)
		total += rssMiB(pid)
		kids, _ := exec.Command("pgrep", "-P", p).Output()
		for _, k := range strings.Fields(string(kids)) {
			kid, _ := strconv.Atoi(k)
			total += rssMiB(kid)
		}
	}
	return total / float64(len(pids))
}

func p50(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func secs(ds []time.Duration) string {
	var parts []string
	for _, d := range ds {
		parts = append(parts, fmt.Sprintf("%.2f", d.Seconds()))
	}
	return strings.Join(parts, " ")
}
