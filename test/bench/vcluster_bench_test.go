//go:build bench

package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

func gantryCmd(b *testing.B, args ...string) string {
	b.Helper()
	out, err := exec.Command(gantryBin, args...).CombinedOutput()
	if err != nil {
		b.Fatalf("gantry %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func proxyClient(b *testing.B, dataDir, name string) *kubernetes.Clientset {
	out := gantryCmd(b, "vcluster", "connect", name, "--proxy", "--print", "--data-dir", dataDir)
	cfg, err := clientcmd.RESTConfigFromKubeConfig([]byte(out))
	if err != nil {
		b.Fatal(err)
	}
	return kubernetes.NewForConfigOrDie(cfg)
}

// BenchmarkVClusterCreate: `gantry vcluster create` to API ready, 10 times, one after
// the other; then RSS per running virtual cluster and wake latency.
func BenchmarkVClusterCreate(b *testing.B) {
	// Memory is measured with kube-controlplane read from disk afresh, as after a
	// reboot or an install; a binary the linker just wrote sits in the page cache
	// in 2 MiB folios, which inflates the file part of RSS (BenchmarkHostIdleRSS
	// shows both).
	if err := dropPageCache(filepath.Join(kubeBinDir, "kube-controlplane")); err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	// gantry and every kube-controlplane write heap profiles there on SIGUSR1,
	// to split the memory by component (see heapProfile).
	profiles := b.TempDir()
	b.Setenv("GANTRY_HEAP_PROFILE_DIR", profiles)
	_, stop, gantryPid := upWith(b, dir)
	defer stop()
	time.Sleep(20 * time.Second)
	gantryBefore := processRSS(gantryPid)
	gantryHeapBefore := splitHeap(heapProfile(b, profiles, "gantry", gantryPid), gantryComponents)
	// Spaced creations (a user making one now and then: gantry has had time to
	// prepare spare control planes) and back-to-back ones (a script making many,
	// faster than spares are made).
	const spaced, burst = 10, 5
	const n = spaced + burst
	var create, backToBack []time.Duration
	for i := range n {
		name := fmt.Sprintf("vc%d", i)
		if i < spaced {
			time.Sleep(6 * time.Second)
		}
		start := time.Now()
		gantryCmd(b, "vcluster", "create", name, "--data-dir", dir)
		if i < spaced {
			create = append(create, time.Since(start))
		} else {
			backToBack = append(backToBack, time.Since(start))
		}
	}
	// Idle is after kube-controlplane's settle step, 30 s after its start (it
	// frees start-up garbage and unmaps start-up code then).
	time.Sleep(40 * time.Second)
	gantryGrowth := processRSS(gantryPid) - gantryBefore
	// One kube-controlplane process per virtual cluster runs its API server and
	// controller-manager; status lists both with that one pid.
	var cpRSS, cpPSS, cpAnon int64
	var pids []int
	for _, c := range vclusterComponents(b, dir) {
		if c.InProcess || c.SharesProcessWith != "" || c.Pid == 0 {
			continue
		}
		cpRSS += c.RSSBytes
		cpPSS += pssBytes(c.Pid)
		anon, _ := rssSplit(c.Pid)
		cpAnon += anon
		pids = append(pids, c.Pid)
	}
	// The split by component comes from heap profiles, taken after the RSS
	// figures above (writing one runs a GC). kine and the syncer run inside
	// gantry: their share is what gantry's heap grew by.
	cpHeap := heapShare{}
	for _, pid := range pids {
		for k, v := range splitHeap(heapProfile(b, profiles, "kube-controlplane", pid), controlPlaneComponents) {
			cpHeap[k] += v
		}
	}
	gantryHeap := splitHeap(heapProfile(b, profiles, "gantry", gantryPid), gantryComponents).minus(gantryHeapBefore)
	var wake []time.Duration
	for i := range 5 {
		name := fmt.Sprintf("vc%d", i)
		gantryCmd(b, "vcluster", "sleep", name, "--data-dir", dir)
		c := proxyClient(b, dir, name)
		start := time.Now()
		if _, err := c.CoreV1().Namespaces().Get(context.Background(), "default", metav1.GetOptions{}); err != nil {
			b.Fatal(err)
		}
		wake = append(wake, time.Since(start))
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\nvirtual clusters\tp50\tp95\tmax\t")
	fmt.Fprintf(tw, "create → Running, spaced 6 s apart (%d, CLI wall time)\t%.2fs\t%.2fs\t%.2fs\t\n", spaced, percentile(create, .5).Seconds(), percentile(create, .95).Seconds(), percentile(create, 1).Seconds())
	fmt.Fprintf(tw, "create → Running, back to back (%d)\t%.2fs\t%.2fs\t%.2fs\t\n", burst, percentile(backToBack, .5).Seconds(), percentile(backToBack, .95).Seconds(), percentile(backToBack, 1).Seconds())
	fmt.Fprintf(tw, "wake: request held → answered (%d)\t%.2fs\t%.2fs\t%.2fs\t\n", len(wake), percentile(wake, .5).Seconds(), percentile(wake, .95).Seconds(), percentile(wake, 1).Seconds())
	tw.Flush()
	tw = tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\nper running virtual cluster (idle, mean of 15)\tRSS MiB\tanon MiB\tPSS MiB\t")
	fmt.Fprintf(tw, "kube-controlplane (API server + controller-manager)\t%.0f\t%.0f\t%.0f\t\n", float64(cpRSS)/n/(1<<20), float64(cpAnon)/n/(1<<20), float64(cpPSS)/n/(1<<20))
	fmt.Fprintf(tw, "gantry's growth per cluster (kine, syncer, runtime)\t%.0f\t\t\t\n", float64(gantryGrowth)/n/(1<<20))
	fmt.Fprintf(tw, "total\t%.0f\t\t\t\n", float64(cpRSS+gantryGrowth)/n/(1<<20))
	tw.Flush()
	mib := func(v int64) string { return fmt.Sprintf("%.1f", float64(v)/n/(1<<20)) }
	tw = tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\nthe same, by component (live Go heap from heap profiles)\tMiB\t")
	fmt.Fprintf(tw, "kube-controlplane: API server\t%s\t\n", mib(cpHeap["API server"]))
	fmt.Fprintf(tw, "kube-controlplane: controller-manager\t%s\t\n", mib(cpHeap["controller-manager"]))
	fmt.Fprintf(tw, "kube-controlplane: both (informer caches, client libraries, runtime)\t%s\t\n", mib(cpHeap["other"]))
	fmt.Fprintf(tw, "kube-controlplane: stacks, free heap, runtime (anon - live heap)\t%s\t\n", mib(cpAnon-cpHeap.total()))
	fmt.Fprintf(tw, "kube-controlplane: code, read from its binary (RSS - anon)\t%s\t\n", mib(cpRSS-cpAnon))
	fmt.Fprintf(tw, "gantry: kine\t%s\t\n", mib(gantryHeap["kine"]))
	fmt.Fprintf(tw, "gantry: syncer\t%s\t\n", mib(gantryHeap["syncer"]))
	fmt.Fprintf(tw, "gantry: other Go heap (informer caches, controllers)\t%s\t\n", mib(gantryHeap["other"]))
	fmt.Fprintf(tw, "gantry: outside the Go heap (SQLite's C memory, stacks, runtime)\t%s\t\n", mib(gantryGrowth-gantryHeap.total()))
	tw.Flush()
	b.ReportMetric(percentile(create, .5).Seconds(), "s-create-p50")
	b.ReportMetric(percentile(wake, .5).Seconds(), "s-wake-p50")
	b.ReportMetric(float64(cpRSS+gantryGrowth)/n/(1<<20), "MiB/vcluster")
}

// processRSS is a process's resident set (RssAnon + RssFile + RssShmem).
func processRSS(pid int) int64 {
	anon, file := rssSplit(pid)
	return anon + file
}

func vclusterComponents(b *testing.B, dir string) []component {
	out, err := exec.Command(gantryBin, "status", "--data-dir", dir, "-o", "json").Output()
	if err != nil {
		b.Fatal(err)
	}
	var st struct {
		VClusters map[string][]component `json:"vclusters"`
	}
	if err := jsonUnmarshal(out, &st); err != nil {
		b.Fatal(err)
	}
	var all []component
	for _, cs := range st.VClusters {
		all = append(all, cs...)
	}
	return all
}

// pssBytes is a process's proportional set size: shared pages (the binaries' text,
// mapped by every virtual cluster's processes) divided among those sharing them.
func pssBytes(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(data), "\n") {
		var kb int64
		if n, _ := fmt.Sscanf(l, "Pss: %d kB", &kb); n == 1 {
			return kb << 10
		}
	}
	return 0
}
