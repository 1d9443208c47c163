//go:build bench

// Package bench holds gantry's benchmarks: speed and memory figures, printed as
// tables. They run the real gantry binary (make bench) and assert nothing about time.
package bench

import (
	"bufio"
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

	"golang.org/x/sys/unix"
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
	// Simulated nodes only unless extra says otherwise: the figures of the
	// platform are not to include a real node's start-up (BenchmarkRealNode has its own).
	args := append([]string{"up", "--data-dir", dataDir, "--http-addr", freeAddr(), "--kube-bin-dir", kubeBinDir, "--real-nodes", "0"}, extra...)
	cmd := exec.Command(gantryBin, args...)
	// A benchmark stopped from outside (a timeout, ^C) takes gantry and
	// everything it started with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
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
		// The whole system's cost, for every benchmark (short-lived starts,
		// as BenchmarkHostStart's, say nothing worth a line).
		if time.Since(start) > 20*time.Second {
			printWholeSystem(dataDir, cmd.Process.Pid, start)
		}
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		// GANTRY_BENCH_LOGS=DIR keeps gantry's logs of each run (the data
		// directory is a temporary one): where the time went, afterwards.
		if keep := os.Getenv("GANTRY_BENCH_LOGS"); keep != "" {
			dst := filepath.Join(keep, filepath.Base(dataDir))
			if err := os.CopyFS(dst, os.DirFS(filepath.Join(dataDir, "logs"))); err != nil {
				b.Logf("keeping the logs: %v", err)
			}
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
	Name              string `json:"name"`
	Pid               int    `json:"pid"`
	RSSBytes          int64  `json:"rssBytes"`
	InProcess         bool   `json:"inProcess"`
	SharesProcessWith string `json:"sharesProcessWith"`
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
// with 3 simulated nodes, 30 s after it became ready. It runs twice: with the
// binaries' page cache as the build left it, and with it dropped first, as after a
// reboot. The difference is the file-backed part: this kernel (ext4 with large
// folios) keeps a binary the linker just wrote in folios of up to 2 MiB and maps
// them whole, so untouched code counts; read back from disk, it is cached page by
// page as it runs.
func BenchmarkHostIdleRSS(b *testing.B) {
	for _, dropCache := range []bool{false, true} {
		if dropCache {
			for _, f := range []string{gantryBin, filepath.Join(kubeBinDir, "kube-controlplane")} {
				if err := dropPageCache(f); err != nil {
					b.Fatal(err)
				}
			}
		}
		total, anon := idleRSS(b, dropCache)
		suffix := ""
		if dropCache {
			suffix = "-cold-cache"
		}
		b.ReportMetric(anon/(1<<20), "MiB-anon"+suffix)
		b.ReportMetric(total/(1<<20), "MiB-total"+suffix)
	}
}

func idleRSS(b *testing.B, dropCache bool) (total, totalAnon float64) {
	dir := b.TempDir()
	_, stop := up(b, dir)
	defer stop()
	time.Sleep(30 * time.Second)
	comps := statusOf(b, dir)
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	title := "page cache as the build left it"
	if dropCache {
		title = "binaries read from disk afresh"
	}
	fmt.Fprintf(tw, "\nidle embedded host, 3 simulated nodes (%s)\tRSS MiB\tanon MiB\tfile MiB\t\n", title)
	for _, c := range comps {
		switch {
		case c.InProcess:
			fmt.Fprintf(tw, "%s\t(in gantry)\t\t\t\n", c.Name)
			continue
		case c.SharesProcessWith != "":
			fmt.Fprintf(tw, "%s\t(with %s)\t\t\t\n", c.Name, c.SharesProcessWith)
			continue
		}
		anon, file := rssSplit(c.Pid)
		total += float64(c.RSSBytes)
		totalAnon += float64(anon)
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.0f\t\n", c.Name, float64(c.RSSBytes)/(1<<20), float64(anon)/(1<<20), float64(file)/(1<<20))
	}
	fmt.Fprintf(tw, "total\t%.0f\t%.0f\t\t\n", total/(1<<20), totalAnon/(1<<20))
	tw.Flush()
	return total, totalAnon
}

// dropPageCache asks the kernel to forget a file's cached pages
// (POSIX_FADV_DONTNEED); pages that a running process maps stay.
func dropPageCache(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
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
