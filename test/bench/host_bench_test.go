//go:build bench

// Package bench holds gantry's benchmarks: speed and memory figures, printed as
// tables. They run the real gantry binary (make bench) and assert nothing about time.
package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"text/tabwriter"
	"time"
)

var gantryBin, kubeBinDir string

func TestMain(m *testing.M) {
	root, _ := filepath.Abs("../..")
	kubeBinDir = filepath.Join(root, "bin")
	tmp, _ := os.MkdirTemp("", "gantry-bench-bin-")
	gantryBin = filepath.Join(tmp, "gantry")
	build := exec.Command("go", "build", "-o", gantryBin, "./cmd/gantry")
	build.Dir = root
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building gantry:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(tmp)
	os.Exit(code)
}

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// up starts `gantry up` and returns once it prints that it is ready, with the time
// that took and a function that stops it.
func up(b *testing.B, dataDir string) (time.Duration, func()) {
	d, stop, _ := upWith(b, dataDir)
	return d, stop
}

// upWith is up with extra flags; it also returns gantry's pid.
func upWith(b *testing.B, dataDir string, extra ...string) (time.Duration, func(), int) {
	b.Helper()
	args := append([]string{"up", "--data-dir", dataDir, "--http-addr", freeAddr(), "--kube-bin-dir", kubeBinDir}, extra...)
	cmd := exec.Command(gantryBin, args...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	ready := make(chan time.Duration, 1)
	var out strings.Builder
	go func() {
		s := bufio.NewScanner(pr)
		for s.Scan() {
			out.WriteString(s.Text() + "\n")
			if strings.HasPrefix(s.Text(), "gantry is ready") {
				ready <- time.Since(start)
			}
		}
	}()
	exited := make(chan struct{})
	go func() { cmd.Wait(); pw.Close(); close(exited) }()
	stop := func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	}
	select {
	case d := <-ready:
		return d, stop, cmd.Process.Pid
	case <-exited:
		b.Fatalf("gantry exited before ready:\n%s", out.String())
	case <-time.After(2 * time.Minute):
		stop()
		b.Fatalf("gantry not ready after 2 minutes:\n%s", out.String())
	}
	return 0, stop, 0
}

type component struct {
	Name      string `json:"name"`
	Pid       int    `json:"pid"`
	RSSBytes  int64  `json:"rssBytes"`
	InProcess bool   `json:"inProcess"`
}

func jsonUnmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

func statusOf(b *testing.B, dataDir string) []component {
	out, err := exec.Command(gantryBin, "status", "--data-dir", dataDir, "-o", "json").Output()
	if err != nil {
		b.Fatalf("gantry status: %v", err)
	}
	var st struct {
		Components []component `json:"components"`
	}
	if err := json.Unmarshal(out, &st); err != nil {
		b.Fatal(err)
	}
	return st.Components
}

func percentile(ds []time.Duration, p float64) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[int(float64(len(s)-1)*p+0.5)]
}

// BenchmarkHostStart: `gantry up` to ready on a new data directory (cold: keys,
// database and nodes made from nothing) and on an existing one (warm restart).
func BenchmarkHostStart(b *testing.B) {
	const runs = 5
	var cold, warm []time.Duration
	for range runs {
		dir := b.TempDir()
		d, stop := up(b, dir)
		cold = append(cold, d)
		stop()
		d, stop = up(b, dir)
		warm = append(warm, d)
		stop()
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "\ngantry up → ready (%d runs, binaries built)\tp50\tp95\tmax\t\n", runs)
	for _, row := range []struct {
		name string
		ds   []time.Duration
	}{{"new data directory", cold}, {"existing data directory", warm}} {
		fmt.Fprintf(tw, "%s\t%.2fs\t%.2fs\t%.2fs\t\n", row.name, percentile(row.ds, .5).Seconds(), percentile(row.ds, .95).Seconds(), percentile(row.ds, 1).Seconds())
	}
	tw.Flush()
	b.ReportMetric(percentile(cold, .5).Seconds(), "s-cold-p50")
	b.ReportMetric(percentile(warm, .5).Seconds(), "s-warm-p50")
}

// BenchmarkHostIdleRSS: resident memory of each component of an idle embedded host
// with 3 simulated nodes, 30 s after it became ready.
func BenchmarkHostIdleRSS(b *testing.B) {
	dir := b.TempDir()
	_, stop := up(b, dir)
	defer stop()
	time.Sleep(30 * time.Second)
	comps := statusOf(b, dir)
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	// RSS splits into anonymous memory (heaps, stacks: what the process made)
	// and file-backed pages (its binary's code and data, reclaimable page
	// cache). This kernel maps binaries' page cache in large folios, so the
	// file part counts much more than the code actually run.
	fmt.Fprintln(tw, "\nidle embedded host, 3 simulated nodes\tRSS MiB\tanon MiB\tfile MiB\t")
	var total, totalAnon int64
	for _, c := range comps {
		if c.InProcess {
			fmt.Fprintf(tw, "%s\t(in gantry)\t\t\t\n", c.Name)
			continue
		}
		anon, file := rssSplit(c.Pid)
		total += c.RSSBytes
		totalAnon += anon
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.0f\t\n", c.Name, float64(c.RSSBytes)/(1<<20), float64(anon)/(1<<20), float64(file)/(1<<20))
	}
	fmt.Fprintf(tw, "total\t%.0f\t%.0f\t\t\n", float64(total)/(1<<20), float64(totalAnon)/(1<<20))
	tw.Flush()
	b.ReportMetric(float64(totalAnon)/(1<<20), "MiB-anon")
	b.ReportMetric(float64(total)/(1<<20), "MiB-total")
	_ = context.Background
}

// rssSplit returns a process's anonymous and file-backed resident bytes
// (RssAnon and RssFile of /proc/<pid>/status).
func rssSplit(pid int) (anon, file int64) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "RssAnon:":
			anon = kb << 10
		case "RssFile:":
			file = kb << 10
		}
	}
	return anon, file
}
