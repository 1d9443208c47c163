//go:build bench

package bench

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	watchtools "k8s.io/client-go/tools/watch"
)

var (
	appGVR     = schema.GroupVersionResource{Group: "gitops.gantry.dev", Version: "v1alpha1", Resource: "applications"}
	projectGVR = schema.GroupVersionResource{Group: "platform.gantry.dev", Version: "v1alpha1", Resource: "projects"}
)

// gitHost serves bare repositories with git http-backend, as the e2e tests do.
type gitHost struct {
	root string
	srv  *httptest.Server
}

func newGitHost(b *testing.B) *gitHost {
	h := &gitHost{root: b.TempDir()}
	h.srv = httptest.NewServer(&cgi.Handler{Path: "/usr/lib/git-core/git-http-backend",
		Env: []string{"GIT_PROJECT_ROOT=" + h.root, "GIT_HTTP_EXPORT_ALL=1"}})
	b.Cleanup(h.srv.Close)
	return h
}

type benchRepo struct {
	b        *testing.B
	dir, URL string
}

func (h *gitHost) repo(b *testing.B, name string) *benchRepo {
	bare := filepath.Join(h.root, name+".git")
	r := &benchRepo{b: b, dir: b.TempDir(), URL: h.srv.URL + "/" + name + ".git"}
	r.git("init", "-q", "--bare", "-b", "main", bare)
	r.git("init", "-q", "-b", "main")
	r.git("remote", "add", "origin", bare)
	return r
}

func (r *benchRepo) git(args ...string) string {
	cmd := exec.Command("git", args...)
	cmd.Dir = r.dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=b", "GIT_AUTHOR_EMAIL=b@b", "GIT_COMMITTER_NAME=b", "GIT_COMMITTER_EMAIL=b@b", "HOME="+r.dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.b.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func (r *benchRepo) commit(files map[string]string) string {
	for name, content := range files {
		p := filepath.Join(r.dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			r.b.Fatal(err)
		}
	}
	r.git("add", "-A")
	r.git("commit", "-q", "-m", "c")
	r.git("push", "-q", "origin", "HEAD:main")
	return r.git("rev-parse", "HEAD")
}

type gitopsEnv struct {
	dir   string
	pid   int
	host  kubernetes.Interface
	dyn   dynamic.Interface
	https *http.Client
	addr  string
}

func startGitOps(b *testing.B, extra ...string) (*gitopsEnv, func()) {
	dir := b.TempDir()
	addr := freeAddr()
	_, stop, pid := upWith(b, dir, append([]string{"--http-addr", addr, "--nodes", "1"}, extra...)...)
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(dir, "kubeconfig"))
	if err != nil {
		b.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 500, 1000
	ca, _ := os.ReadFile(filepath.Join(dir, "pki", "ca.crt"))
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	env := &gitopsEnv{dir: dir, pid: pid, host: kubernetes.NewForConfigOrDie(cfg), dyn: dynamic.NewForConfigOrDie(cfg), addr: addr,
		https: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "p-default"}}
	if _, err := env.host.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		b.Fatal(err)
	}
	env.grantHost(b)
	return env, stop
}

// grantHost lets the default project's apps deploy into any namespace of the
// host, as an administrator would: the benchmarks deploy there, and every
// object then goes through the project's checks as a tenant's would.
func (e *gitopsEnv) grantHost(b *testing.B) {
	patch := []byte(`{"spec":{"allowedDestinations":[{"server":"https://kubernetes.default.svc","namespace":"*"}]}}`)
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := e.dyn.Resource(projectGVR).Patch(context.Background(), "default", types.MergePatchType, patch, metav1.PatchOptions{})
		if err == nil {
			return
		}
		if !apierrors.IsNotFound(err) || time.Now().After(deadline) {
			b.Fatalf("granting the default project the host: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (e *gitopsEnv) createApp(b *testing.B, name, repoURL, path, namespace string) {
	app := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gitops.gantry.dev/v1alpha1", "kind": "Application",
		"metadata": map[string]any{"name": name, "namespace": "p-default"},
		"spec": map[string]any{"project": "default",
			"source":      map[string]any{"repoURL": repoURL, "path": path, "targetRevision": "main"},
			"destination": map[string]any{"server": "https://kubernetes.default.svc", "namespace": namespace},
			"syncPolicy":  map[string]any{"automated": map[string]any{"prune": true}, "syncOptions": []any{"CreateNamespace=true"}}},
	}}
	if _, err := e.dyn.Resource(appGVR).Namespace("p-default").Create(context.Background(), app, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
}

// appsDone counts apps Synced and Healthy (at revision, when given).
func (e *gitopsEnv) appsDone(b *testing.B, revision map[string]string) (done, total int) {
	list, err := e.dyn.Resource(appGVR).Namespace("p-default").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	for _, a := range list.Items {
		s, _, _ := unstructured.NestedString(a.Object, "status", "sync", "status")
		h, _, _ := unstructured.NestedString(a.Object, "status", "health", "status")
		rev, _, _ := unstructured.NestedString(a.Object, "status", "sync", "revision")
		if s == "Synced" && h == "Healthy" && (revision == nil || revision[a.GetName()] == "" || revision[a.GetName()] == rev) {
			done++
		}
	}
	return done, len(list.Items)
}

func (e *gitopsEnv) waitApps(b *testing.B, want int, revision map[string]string, timeout time.Duration) time.Duration {
	start := time.Now()
	if want >= 100 {
		e.watchApps(b, want, revision, timeout)
		return time.Since(start)
	}
	for {
		done, _ := e.appsDone(b, revision)
		if done >= want {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			b.Fatalf("%d of %d apps Synced and Healthy after %s", done, want, timeout)
		}
		// A list of a thousand apps is work for the host API server, which the
		// figures are about: fine-grained only for a handful.
		if want >= 100 {
			time.Sleep(time.Second)
		} else {
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// watchApps waits, as a watching client does (kubectl get -w, gantry's UI),
// until want apps are Synced and Healthy: one list, then the changes. Polling
// a list each second instead was most of the host API server's CPU with
// 10,000 apps (a 22 MiB list, encoded anew each time): the benchmark
// measured itself.
func (e *gitopsEnv) watchApps(b *testing.B, want int, revision map[string]string, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	apps := e.dyn.Resource(appGVR).Namespace("p-default")
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return apps.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return apps.Watch(ctx, o)
		},
	}
	done := map[string]bool{}
	n := 0
	_, err := watchtools.UntilWithSync(ctx, lw, &unstructured.Unstructured{}, nil, func(ev watch.Event) (bool, error) {
		a, ok := ev.Object.(*unstructured.Unstructured)
		if !ok {
			return false, nil
		}
		s, _, _ := unstructured.NestedString(a.Object, "status", "sync", "status")
		h, _, _ := unstructured.NestedString(a.Object, "status", "health", "status")
		rev, _, _ := unstructured.NestedString(a.Object, "status", "sync", "revision")
		now := ev.Type != watch.Deleted && s == "Synced" && h == "Healthy" &&
			(revision == nil || revision[a.GetName()] == "" || revision[a.GetName()] == rev)
		if now != done[a.GetName()] {
			done[a.GetName()] = now
			if now {
				n++
			} else {
				n--
			}
		}
		return n >= want, nil
	})
	if err != nil {
		b.Fatalf("%d of %d apps Synced and Healthy after %s (%v)", n, want, timeout, err)
	}
}

// cpuSeconds is the user+system CPU time of a process so far.
func cpuSeconds(pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	var ut, st float64
	fmt.Sscan(fields[11], &ut)
	fmt.Sscan(fields[12], &st)
	return (ut + st) / 100 // USER_HZ
}

func rssMiB(pid int) float64 {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(data), "\n") {
		var kb float64
		if n, _ := fmt.Sscanf(l, "VmRSS: %f kB", &kb); n == 1 {
			return kb / 1024
		}
	}
	return 0
}

func (e *gitopsEnv) webhook(b *testing.B, repoURL, sha string) {
	s, err := e.host.CoreV1().Secrets("gantry-system").Get(context.Background(), "gantry-webhook", metav1.GetOptions{})
	if err != nil {
		b.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"ref": "refs/heads/main", "after": sha,
		"repository": map[string]any{"html_url": repoURL, "clone_url": repoURL, "default_branch": "main"}})
	mac := hmac.New(sha256.New, s.Data["webhook.github.secret"])
	mac.Write(body)
	req, _ := http.NewRequest(http.MethodPost, "https://"+e.addr+"/api/webhook", bytes.NewReader(body))
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := e.https.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		b.Fatalf("webhook: %s", resp.Status)
	}
}

func (e *gitopsEnv) metric(b *testing.B, name string) float64 {
	return metricIn(e.metricsPage(b), name)
}

// metricsPage is gantry's /metrics.
func (e *gitopsEnv) metricsPage(b *testing.B) string {
	token, _ := os.ReadFile(filepath.Join(e.dir, "admin-token"))
	req, _ := http.NewRequest(http.MethodGet, "https://"+e.addr+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	resp, err := e.https.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return string(data)
}

const benchDeployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: nginx, image: nginx}]}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80}]
`

// BenchmarkGitOpsLatency: a new app (a 2-replica Deployment and a Service) to
// Synced and Healthy; a push of a 20-resource app to applied, through the
// webhook and through polling; gantry's RSS with one app.
func BenchmarkGitOpsLatency(b *testing.B) {
	host := newGitHost(b)
	env, stop := startGitOps(b, "--git-poll-interval", "10s")
	defer stop()
	repo := host.repo(b, "latency")
	files := map[string]string{"web/app.yaml": benchDeployment}
	for i := range 20 {
		files[fmt.Sprintf("twenty/cm%02d.yaml", i)] = fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm%02d}\ndata: {v: \"0\"}\n", i)
	}
	repo.commit(files)

	var newApp, newSynced, afterPost, deployAvailable []time.Duration
	for i := range 5 {
		name := fmt.Sprintf("web%d", i)
		start := time.Now()
		env.createApp(b, name, repo.URL, "web", name)
		created := time.Since(start)
		var synced time.Duration
		for {
			a, err := env.dyn.Resource(appGVR).Namespace("p-default").Get(context.Background(), name, metav1.GetOptions{})
			if err != nil {
				b.Fatal(err)
			}
			s, _, _ := unstructured.NestedString(a.Object, "status", "sync", "status")
			h, _, _ := unstructured.NestedString(a.Object, "status", "health", "status")
			if s == "Synced" && synced == 0 {
				synced = time.Since(start)
			}
			if s == "Synced" && h == "Healthy" {
				break
			}
			if time.Since(start) > time.Minute {
				b.Fatalf("app %s: sync %s health %s after 1m", name, s, h)
			}
			time.Sleep(10 * time.Millisecond)
		}
		newApp = append(newApp, time.Since(start))
		newSynced = append(newSynced, synced)
		afterPost = append(afterPost, time.Since(start)-created)
		if os.Getenv("GANTRY_BENCH_VERBOSE") != "" {
			fmt.Printf("new app %d: created (POST answered) after %s, Synced after %s, Healthy after %s\n", i, created, synced, time.Since(start))
		}
		// How long the simulated cluster itself took: Deployment created → Available.
		d, err := env.host.AppsV1().Deployments(name).Get(context.Background(), "web", metav1.GetOptions{})
		if err != nil {
			b.Fatal(err)
		}
		for _, c := range d.Status.Conditions {
			if c.Type == "Available" && c.Status == "True" {
				deployAvailable = append(deployAvailable, c.LastTransitionTime.Sub(d.CreationTimestamp.Time))
			}
		}
	}
	oneAppRSS := rssMiB(env.pid)

	env.createApp(b, "twenty", repo.URL, "twenty", "twenty")
	env.waitApps(b, 6, nil, time.Minute)
	change := func(round int) string {
		f := map[string]string{}
		for i := range 20 {
			f[fmt.Sprintf("twenty/cm%02d.yaml", i)] = fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm%02d}\ndata: {v: \"%d\"}\n", i, round)
		}
		return repo.commit(f)
	}
	var hook, poll []time.Duration
	for round := 1; round <= 10; round++ {
		sha := change(round)
		start := time.Now()
		env.webhook(b, repo.URL, sha)
		env.waitApps(b, 6, map[string]string{"twenty": sha}, time.Minute)
		hook = append(hook, time.Since(start))
		if os.Getenv("GANTRY_BENCH_VERBOSE") != "" {
			fmt.Printf("round %d: webhook at %s, applied after %s\n", round, start.UTC().Format("15:04:05.000"), time.Since(start))
		}
	}
	for round := 11; round <= 15; round++ {
		sha := change(round)
		start := time.Now()
		env.waitApps(b, 6, map[string]string{"twenty": sha}, 2*time.Minute)
		poll = append(poll, time.Since(start))
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\nGitOps latency\tp50\tp95\tmax\t")
	fmt.Fprintf(tw, "new app (Deployment ×2 + Service) → Synced (5)\t%.2fs\t%.2fs\t%.2fs\t\n", percentile(newSynced, .5).Seconds(), percentile(newSynced, .95).Seconds(), percentile(newSynced, 1).Seconds())
	fmt.Fprintf(tw, "new app (Deployment ×2 + Service) → Synced and Healthy (5)\t%.2fs\t%.2fs\t%.2fs\t\n", percentile(newApp, .5).Seconds(), percentile(newApp, .95).Seconds(), percentile(newApp, 1).Seconds())
	// The API server holds every POST of a custom resource for 2 s while its
	// CRD was Established less than 2 s ago: the first app, created right after
	// a fresh gantry up, waits for that before gantry sees it.
	fmt.Fprintf(tw, "    the same from the create answered (without the API server's hold of a first POST)\t%.2fs\t%.2fs\t%.2fs\t\n", percentile(afterPost, .5).Seconds(), percentile(afterPost, .95).Seconds(), percentile(afterPost, 1).Seconds())
	if len(deployAvailable) > 0 {
		fmt.Fprintf(tw, "  of which the host's Deployment created → Available (second resolution)\t%.0fs\t%.0fs\t%.0fs\t\n", percentile(deployAvailable, .5).Seconds(), percentile(deployAvailable, .95).Seconds(), percentile(deployAvailable, 1).Seconds())
	}
	fmt.Fprintf(tw, "push → applied, 20 resources, webhook (10)\t%.2fs\t%.2fs\t%.2fs\t\n", percentile(hook, .5).Seconds(), percentile(hook, .95).Seconds(), percentile(hook, 1).Seconds())
	fmt.Fprintf(tw, "push → applied, 20 resources, polling every 10s (5)\t%.2fs\t%.2fs\t%.2fs\t\n", percentile(poll, .5).Seconds(), percentile(poll, .95).Seconds(), percentile(poll, 1).Seconds())
	tw.Flush()
	fmt.Printf("gantry RSS with a handful of apps: %.0f MiB (includes the embedded host's kine)\n", oneAppRSS)
	b.ReportMetric(percentile(newApp, .5).Seconds(), "s-new-app-p50")
	b.ReportMetric(percentile(hook, .5).Seconds(), "s-webhook-p50")
}

// appRepos makes repos repositories (names from format) of perRepo apps each,
// app00/all.yaml … a ConfigMap and a Service: the shape of the 1,000- and
// 10,000-app benchmarks. It returns their URLs.
func (h *gitHost) appRepos(b *testing.B, format string, repos, perRepo int) []string {
	var urls []string
	for r := range repos {
		repo := h.repo(b, fmt.Sprintf(format, r))
		files := map[string]string{}
		for a := range perRepo {
			files[fmt.Sprintf("app%02d/all.yaml", a)] = fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {repo: "%d", app: "%d"}
---
apiVersion: v1
kind: Service
metadata: {name: svc}
spec:
  ports: [{port: 80}]
`, r, a)
		}
		repo.commit(files)
		urls = append(urls, repo.URL)
	}
	return urls
}

// BenchmarkGitOps1000: 1,000 new apps over 50 repositories (a ConfigMap and a
// Service each), created with one `kubectl apply`, to all Synced and Healthy;
// the requests per app the host API server served meanwhile; an idle window
// (every app compared again once a poll period); then ten refreshes of all
// apps. CPU-seconds and memory (RSS and Go heap) of gantry and of the host's
// kube-controlplane, and the same `kubectl apply` on an idle host beside it.
func BenchmarkGitOps1000(b *testing.B) {
	const repos, perRepo, refreshes = 50, 20, 10
	host := newGitHost(b)
	// GANTRY_BENCH_PROFILES=DIR keeps CPU profiles of gantry's and the host
	// kube-controlplane's first idle minute there (gantry-cpu-PID.pprof,
	// kube-controlplane-cpu-PID.pprof; with GANTRY_BENCH_SYNC_ONLY, of the
	// sync's first minute instead): where the CPU goes; and heap
	// profiles after the sync and after the last refresh (gantry-PID.pprof,
	// copied to gantry-heap-sync.pprof and gantry-heap-refreshed.pprof).
	profiles := os.Getenv("GANTRY_BENCH_PROFILES")
	if profiles != "" {
		b.Setenv("GANTRY_HEAP_PROFILE_DIR", profiles)
	}
	urls := host.appRepos(b, "repo%02d", repos, perRepo)
	manifest := appsManifest(b, urls, perRepo)
	// GANTRY_BENCH_SYNC_ONLY=1: the sync's figures alone (no idle minutes,
	// no refreshes): five minutes instead of twelve, for comparing two
	// builds on what a sync costs.
	syncOnly := os.Getenv("GANTRY_BENCH_SYNC_ONLY") != ""
	// GANTRY_BENCH_IDLE_ONLY=1: the sync and the idle window, no refreshes.
	idleOnly := os.Getenv("GANTRY_BENCH_IDLE_ONLY") != ""
	idleApply := idleHostApply(b, manifest)

	env, stop := startGitOps(b)
	defer stop()
	hostPid := hostAPIServerPid(b, env.dir)
	keepHeap := func(name string) {
		if profiles != "" {
			heapProfile(b, profiles, "gantry", env.pid)
			os.Rename(filepath.Join(profiles, fmt.Sprintf("gantry-%d.pprof", env.pid)), filepath.Join(profiles, name))
		}
	}
	idleRSS := rssMiB(env.pid)
	cpu0, hostCPU0, req0 := cpuSeconds(env.pid), cpuSeconds(hostPid), env.hostRequests(b)
	if profiles != "" && syncOnly { // the sync's first minute, of both
		syscall.Kill(env.pid, syscall.SIGUSR2)
		syscall.Kill(hostPid, syscall.SIGUSR2)
	}
	created := kubectlApply(b, filepath.Join(env.dir, "kubeconfig"), manifest)
	all := env.waitApps(b, repos*perRepo, nil, 10*time.Minute) + created
	cpuSync, hostSync := cpuSeconds(env.pid)-cpu0, cpuSeconds(hostPid)-hostCPU0
	reqSync := env.hostRequests(b)
	memSync, hostMemSync := env.memoryNow(b, hostPid)
	keepHeap("gantry-heap-sync.pprof")
	if syncOnly {
		tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "\n1,000 apps over 50 repositories (sync only)\tvalue\tArgo CD v3.3.10 (issue 20)\t")
		fmt.Fprintf(tw, "kubectl apply of the 1,000 Applications (one file), idle host / with gantry's engine\t%.1fs / %.1fs = %.2fx\t12s\t\n", idleApply.Seconds(), created.Seconds(), created.Seconds()/idleApply.Seconds())
		fmt.Fprintf(tw, "all Synced and Healthy (from the start of kubectl apply)\t%.1fs\t330s\t\n", all.Seconds())
		fmt.Fprintf(tw, "CPU-seconds to get there, gantry + host kube-controlplane = whole system\t%.1f + %.1f = %.1f\t355 + 228 = 583\t\n", cpuSync, hostSync, cpuSync+hostSync)
		fmt.Fprintf(tw, "host API requests per app to get there (kubectl's and the benchmark's polls included)\t%s\t\t\n", perApp(req0, reqSync, repos*perRepo))
		fmt.Fprintf(tw, "gantry / host kube-controlplane RSS MiB after the sync\t%s / %s\t886 / 1,165\t\n", memSync, hostMemSync)
		tw.Flush()
		b.ReportMetric(all.Seconds(), "s-1000-apps")
		b.ReportMetric(cpuSync+hostSync, "cpu-s-1000-apps")
		b.ReportMetric(created.Seconds()/idleApply.Seconds(), "apply-busy/idle")
		return
	}

	// Idle: nothing changes in Git or in the cluster; each app is still
	// polled once a poll period (60 s). Five minutes, after a minute for the
	// sync's tail (status writes, the first polls) to settle: the CPU of the
	// whole system, gantry and the host's kube-controlplane, and the requests
	// the host's API server served meanwhile. Five, not two: the API server's
	// and kine's own periodic work (compaction, the watch cache's checks)
	// comes every five minutes, and a shorter window may miss it.
	time.Sleep(60 * time.Second)
	memSettled, _ := env.memoryNow(b, hostPid)
	if profiles != "" { // the first idle minute's CPU, of both
		syscall.Kill(env.pid, syscall.SIGUSR2)
		syscall.Kill(hostPid, syscall.SIGUSR2)
	}
	const idleWindow = 5 * time.Minute
	cpu1, host1, req1 := cpuSeconds(env.pid), cpuSeconds(hostPid), env.hostRequests(b)
	time.Sleep(idleWindow)
	perMin := idleWindow.Minutes()
	idleGantry, idleHost := (cpuSeconds(env.pid)-cpu1)/perMin, (cpuSeconds(hostPid)-host1)/perMin
	reqs := env.hostRequests(b)
	memIdle, hostMemIdle := env.memoryNow(b, hostPid)
	if idleOnly {
		tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "\n1,000 apps over 50 repositories (sync and idle only)\tvalue\tArgo CD v3.3.10 (issue 20)\t")
		fmt.Fprintf(tw, "all Synced and Healthy (from the start of kubectl apply)\t%.1fs\t330s\t\n", all.Seconds())
		fmt.Fprintf(tw, "idle CPU-seconds per minute, gantry + host kube-controlplane = whole system\t%.2f + %.2f = %.2f\t6.3 + 5.6 = 11.9\t\n", idleGantry, idleHost, idleGantry+idleHost)
		fmt.Fprintf(tw, "idle requests per minute served by the host API server\t%s\t\t\n", requestsPerMinute(req1, reqs, perMin))
		fmt.Fprintf(tw, "gantry / host kube-controlplane RSS MiB idle\t%s / %s\t886 / 1,165\t\n", memIdle, hostMemIdle)
		tw.Flush()
		b.ReportMetric(idleGantry+idleHost, "idle-cpu-s/min")
		return
	}

	// Ten refreshes of all apps, one after the other: memory after each.
	var cycles []refreshCycle
	reqR0 := env.hostRequests(b)
	for range refreshes {
		c0, h0 := cpuSeconds(env.pid), cpuSeconds(hostPid)
		wall := env.refreshAll(b, repos*perRepo)
		g, h := env.memoryNow(b, hostPid)
		cycles = append(cycles, refreshCycle{wall, cpuSeconds(env.pid) - c0, cpuSeconds(hostPid) - h0, g, h})
	}
	reqR := env.hostRequests(b)
	// The same minute as after the sync: memory once the burst is over.
	time.Sleep(60 * time.Second)
	memRefreshedSettled, _ := env.memoryNow(b, hostPid)
	keepHeap("gantry-heap-refreshed.pprof")
	hits, misses := env.metric(b, "gantry_render_cache_hits_total"), env.metric(b, "gantry_render_cache_misses_total")

	apps := repos * perRepo
	last := cycles[len(cycles)-1]
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\n1,000 apps over 50 repositories\tvalue\tArgo CD v3.3.10 (issue 20)\t")
	fmt.Fprintf(tw, "kubectl apply of the 1,000 Applications (one file), idle host / with gantry's engine\t%.1fs / %.1fs = %.2fx\t12s\t\n", idleApply.Seconds(), created.Seconds(), created.Seconds()/idleApply.Seconds())
	fmt.Fprintf(tw, "all Synced and Healthy (from the start of kubectl apply)\t%.1fs\t330s\t\n", all.Seconds())
	fmt.Fprintf(tw, "CPU-seconds to get there, gantry + host kube-controlplane = whole system\t%.1f + %.1f = %.1f\t355 + 228 = 583\t\n", cpuSync, hostSync, cpuSync+hostSync)
	fmt.Fprintf(tw, "host API requests per app to get there (kubectl's and the benchmark's polls included)\t%s\t\t\n", perApp(req0, reqSync, apps))
	fmt.Fprintf(tw, "idle CPU-seconds per minute, gantry + host kube-controlplane = whole system\t%.2f + %.2f = %.2f\t6.3 + 5.6 = 11.9\t\n", idleGantry, idleHost, idleGantry+idleHost)
	fmt.Fprintf(tw, "idle requests per minute served by the host API server\t%s\t\t\n", requestsPerMinute(req1, reqs, perMin))
	fmt.Fprintf(tw, "apps parked (steady: compared again on a commit or a change, not on a timer)\t%.0f\t\t\n", env.metric(b, "gantry_applications_parked"))
	fmt.Fprintf(tw, "refresh of all 1,000 (annotation), wall / CPU-s gantry + host, median of %d\t%s\t28s / 20 + 20\t\n", refreshes, medianRefresh(cycles))
	fmt.Fprintf(tw, "host API requests per app per refresh (the benchmark's annotation and polls included)\t%s\t\t\n", perApp(reqR0, reqR, apps*refreshes))
	fmt.Fprintf(tw, "gantry RSS MiB (Go heap in use): before / after the sync / idle / after %d refreshes\t%.0f / %s / %s / %s\t886\t\n", refreshes, idleRSS, memSync, memIdle, last.gantry)
	fmt.Fprintf(tw, "host kube-controlplane RSS MiB (Go heap): after the sync / idle / after %d refreshes\t%s / %s / %s\t1,165\t\n", refreshes, hostMemSync, hostMemIdle, last.hostMem)
	fmt.Fprintf(tw, "gantry RSS MiB a minute after the sync / a minute after %d refreshes\t%s / %s\t\t\n", refreshes, memSettled, memRefreshedSettled)
	fmt.Fprintf(tw, "gantry RSS after %d refreshes / after the sync (target <= 1.10): at once; a minute later\t%.2f; %.2f\t\t\n", refreshes, last.gantry.rss/memSync.rss, memRefreshedSettled.rss/memSettled.rss)
	fmt.Fprintf(tw, "render cache hit rate\t%.0f%% (%0.f hits, %0.f misses)\t\t\n", 100*hits/max(hits+misses, 1), hits, misses)
	tw.Flush()
	tw = tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\nrefresh\twall\tCPU-s gantry\tCPU-s host\tgantry RSS (heap) MiB\thost RSS (heap) MiB\t")
	for i, c := range cycles {
		fmt.Fprintf(tw, "%d\t%.1fs\t%.1f\t%.1f\t%s\t%s\t\n", i+1, c.wall.Seconds(), c.cpu, c.hostCPU, c.gantry, c.hostMem)
	}
	tw.Flush()
	fmt.Println("gantry's CPU and RSS include the embedded host's kine (SQLite), which runs in gantry's process.")
	b.ReportMetric(all.Seconds(), "s-1000-apps")
	b.ReportMetric(cpuSync, "cpu-s-1000-apps")
	b.ReportMetric(idleGantry+idleHost, "idle-cpu-s/min")
	b.ReportMetric(memRefreshedSettled.rss/memSettled.rss, "rss-refreshed/synced")
	b.ReportMetric(created.Seconds()/idleApply.Seconds(), "apply-busy/idle")
}

// hostRequests reads the host API server's request counters, by verb and
// resource (apiserver_request_total, summed over codes and scopes).
func (e *gitopsEnv) hostRequests(b *testing.B) map[string]float64 {
	body, err := e.host.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(context.Background())
	if err != nil {
		b.Fatalf("the host API server's metrics: %v", err)
	}
	out := map[string]float64{}
	for _, l := range strings.Split(string(body), "\n") {
		if !strings.HasPrefix(l, "apiserver_request_total{") {
			continue
		}
		labels := l[len("apiserver_request_total{"):strings.LastIndexByte(l, '}')]
		var verb, resource, subresource, dryRun string
		for _, kv := range strings.Split(labels, ",") {
			k, v, _ := strings.Cut(kv, "=")
			v = strings.Trim(v, `"`)
			switch k {
			case "verb":
				verb = v
			case "resource":
				resource = v
			case "subresource":
				subresource = v
			case "dry_run":
				dryRun = v
			}
		}
		key := verb + " " + resource
		if subresource != "" {
			key += "/" + subresource
		}
		if dryRun != "" {
			key += " (dry run)"
		}
		var n float64
		fmt.Sscan(strings.TrimSpace(l[strings.LastIndexByte(l, '}')+1:]), &n)
		out[key] += n
	}
	return out
}

// requestsPerMinute is the total request rate between two readings, with
// its largest parts.
func requestsPerMinute(before, after map[string]float64, minutes float64) string {
	type part struct {
		key string
		n   float64
	}
	var parts []part
	total := 0.0
	for k, v := range after {
		if d := v - before[k]; d > 0 {
			parts = append(parts, part{k, d / minutes})
			total += d / minutes
		}
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].n > parts[j].n })
	out := fmt.Sprintf("%.0f", total)
	for i, p := range parts {
		if i == 4 {
			break
		}
		out += fmt.Sprintf("; %s %.0f", p.key, p.n)
	}
	return out
}

// BenchmarkGitOpsOneAppRSS: gantry's own resident memory with one app (a
// 2-replica Deployment and a Service) Synced and Healthy, 30 s after, split into
// anonymous and file-backed pages. gantry's process also runs the embedded
// host's kine and KWOK. Twice, as BenchmarkHostIdleRSS: with gantry's binary in
// the page cache as the build left it, and read back from disk afresh.
func BenchmarkGitOpsOneAppRSS(b *testing.B) {
	host := newGitHost(b)
	repo := host.repo(b, "one")
	repo.commit(map[string]string{"web/app.yaml": benchDeployment})
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\ngantry with one app, idle 30 s\tRSS MiB\tanon MiB\tfile MiB\t")
	for _, dropCache := range []bool{false, true} {
		title := "page cache as the build left it"
		if dropCache {
			title = "binary read from disk afresh"
			if err := dropPageCache(gantryBin); err != nil {
				b.Fatal(err)
			}
		}
		env, stop := startGitOps(b)
		env.createApp(b, "web", repo.URL, "web", "web")
		env.waitApps(b, 1, nil, time.Minute)
		time.Sleep(30 * time.Second)
		anon, file := rssSplit(env.pid)
		stop()
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.0f\t\n", title, float64(anon+file)/(1<<20), float64(anon)/(1<<20), float64(file)/(1<<20))
		suffix := ""
		if dropCache {
			suffix = "-cold-cache"
		}
		b.ReportMetric(float64(anon+file)/(1<<20), "MiB"+suffix)
	}
	tw.Flush()
}
