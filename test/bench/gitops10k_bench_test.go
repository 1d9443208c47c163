//go:build bench

package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"
)

// BenchmarkGitOps10000: issue 20's scale, 10,000 apps over 500 repositories
// (a ConfigMap and a Service each, as BenchmarkGitOps1000), created by eight
// clients at once, to all Synced and Healthy. Meanwhile the host API server's
// /readyz is asked every 2 s (is it healthy throughout?). Then: the whole
// system's CPU-seconds and RSS (gantry and the host's kube-controlplane), the
// host requests per app, and how long gantry's API takes to answer the
// applications list the UI's first paint waits for (the UI's own time with
// 10,000 apps: APPS=10000 node test/bench/ui.mjs).
func BenchmarkGitOps10000(b *testing.B) {
	const repos, perRepo, clients = 500, 20, 8
	host := newGitHost(b)
	env, stop := startGitOps(b)
	defer stop()
	hostPid := hostAPIServerPid(b, env.dir)
	urls := host.appRepos(b, "repo%03d", repos, perRepo)

	// The host's health, asked as a load balancer would, throughout.
	probeCtx, stopProbe := context.WithCancel(context.Background())
	var probes []time.Duration
	var probeFailures int
	var probeMu sync.Mutex
	probeDone := make(chan struct{})
	go func() {
		defer close(probeDone)
		for probeCtx.Err() == nil {
			ctx, cancel := context.WithTimeout(probeCtx, 10*time.Second)
			t0 := time.Now()
			_, err := env.host.CoreV1().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
			cancel()
			probeMu.Lock()
			if err != nil && probeCtx.Err() == nil {
				probeFailures++
			} else if err == nil {
				probes = append(probes, time.Since(t0))
			}
			probeMu.Unlock()
			select {
			case <-probeCtx.Done():
			case <-time.After(2 * time.Second):
			}
		}
	}()

	rss0, hostRSS0 := rssMiB(env.pid), rssMiB(hostPid)
	cpu0, hostCPU0, req0 := cpuSeconds(env.pid), cpuSeconds(hostPid), env.hostRequests(b)
	start := time.Now()
	names := make(chan [2]int)
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for n := range names {
				name := fmt.Sprintf("r%03d-a%02d", n[0], n[1])
				env.createApp(b, name, urls[n[0]], fmt.Sprintf("app%02d", n[1]), name)
			}
		})
	}
	for r := range repos {
		for a := range perRepo {
			names <- [2]int{r, a}
		}
	}
	close(names)
	wg.Wait()
	created := time.Since(start)
	all := env.waitApps(b, repos*perRepo, nil, 30*time.Minute) + created
	cpu, hostCPU := cpuSeconds(env.pid)-cpu0, cpuSeconds(hostPid)-hostCPU0
	reqs := env.hostRequests(b)
	stopProbe()
	<-probeDone
	rss, hostRSS := rssMiB(env.pid), rssMiB(hostPid)

	// The list the UI's first paint waits for, from gantry's API as admin.
	token, _ := os.ReadFile(filepath.Join(env.dir, "admin-token"))
	var lists []time.Duration
	var listBytes int
	for range 5 {
		req, _ := http.NewRequest(http.MethodGet, "https://"+env.addr+"/api/v1/applications", nil)
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
		t0 := time.Now()
		resp, err := env.https.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("GET /api/v1/applications: %s", resp.Status)
		}
		lists, listBytes = append(lists, time.Since(t0)), int(n)
	}
	sort.Slice(probes, func(i, j int) bool { return probes[i] < probes[j] })
	total := 0.0
	for k, v := range reqs {
		total += v - req0[k]
	}

	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\n10,000 apps over 500 repositories\tvalue\ttarget (issue 20)\t")
	fmt.Fprintf(tw, "create 10,000 Applications (%d clients)\t%.1fs\t\t\n", clients, created.Seconds())
	fmt.Fprintf(tw, "all Synced and Healthy (from the first create)\t%.1fs\t≤ 600s\t\n", all.Seconds())
	fmt.Fprintf(tw, "CPU-seconds to get there, gantry + host kube-controlplane = whole system\t%.0f + %.0f = %.0f\t\t\n", cpu, hostCPU, cpu+hostCPU)
	fmt.Fprintf(tw, "host API requests per app (all verbs)\t%.1f\t\t\n", total/float64(repos*perRepo))
	fmt.Fprintf(tw, "gantry RSS before / with 10,000 apps (MiB)\t%.0f / %.0f\t≤ 1024\t\n", rss0, rss)
	fmt.Fprintf(tw, "host kube-controlplane RSS before / with 10,000 apps (MiB)\t%.0f / %.0f\t\t\n", hostRSS0, hostRSS)
	if len(probes) > 0 {
		fmt.Fprintf(tw, "host /readyz during the sync: answered / failed, p50 / max\t%d / %d, %dms / %dms\t0 failed\t\n",
			len(probes), probeFailures, probes[len(probes)/2].Milliseconds(), probes[len(probes)-1].Milliseconds())
	}
	fmt.Fprintf(tw, "GET /api/v1/applications (%.1f MiB), p50 of 5\t%dms\t\t\n", float64(listBytes)/(1<<20), p50(lists).Milliseconds())
	tw.Flush()
	fmt.Println("gantry's CPU and RSS include the embedded host's kine (SQLite), which runs in gantry's process.")

	// GANTRY_BENCH_UI=1: the web UI's first paint with these 10,000 apps, in
	// headless Chromium, as a member of the project sees them (gantry's
	// stream, not a routed list: test/bench/ui.mjs with GANTRY_URL).
	if os.Getenv("GANTRY_BENCH_UI") != "" {
		const user, password = "bench-ui", "bench-ui-password"
		for _, args := range [][]string{
			{"user", "create", user, "--password-stdin"},
			{"project", "add-member", "default", "--user", user, "--role", "project-viewer"},
		} {
			cmd := exec.Command(gantryBin, append(args, "--data-dir", env.dir)...)
			cmd.Stdin = strings.NewReader(password + "\n")
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("gantry %v: %v\n%s", args, err, out)
			}
		}
		root, _ := filepath.Abs("../..")
		ui := exec.Command("node", filepath.Join(root, "test", "bench", "ui.mjs"))
		ui.Env = append(os.Environ(), "GANTRY_URL=https://"+env.addr, "GANTRY_USER="+user, "GANTRY_PASSWORD="+password,
			fmt.Sprintf("APPS=%d", repos*perRepo), "RUNS=5")
		ui.Stdout, ui.Stderr = os.Stdout, os.Stderr
		if err := ui.Run(); err != nil {
			b.Errorf("the web UI's benchmark: %v", err)
		}
	}
	b.ReportMetric(all.Seconds(), "s-10000-apps")
	b.ReportMetric(rss, "gantry-MiB-10000-apps")
}
