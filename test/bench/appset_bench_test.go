//go:build bench

package bench

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	appSetGVR = schema.GroupVersionResource{Group: "gitops.gantry.dev", Version: "v1alpha1", Resource: "applicationsets"}
	vcGVR     = schema.GroupVersionResource{Group: "platform.gantry.dev", Version: "v1alpha1", Resource: "virtualclusters"}
)

// pushWebhook tells gantry, as GitHub would, that ref moved to sha.
func (e *gitopsEnv) pushWebhook(b *testing.B, repoURL, ref, sha string) {
	s, err := e.host.CoreV1().Secrets("gantry-system").Get(context.Background(), "gantry-webhook", metav1.GetOptions{})
	if err != nil {
		b.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"ref": ref, "before": strings.Repeat("0", 40), "after": sha, "created": true,
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

// memUsedMiB is the whole machine's MemTotal − MemAvailable.
func memUsedMiB() uint64 {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	var total, avail uint64
	for _, line := range strings.Split(string(data), "\n") {
		fmt.Sscanf(line, "MemTotal: %d kB", &total)
		fmt.Sscanf(line, "MemAvailable: %d kB", &avail)
	}
	return (total - avail) / 1024
}

// vcCounts counts the project's virtual clusters: defined, Running, asleep.
func (e *gitopsEnv) vcCounts(b *testing.B) (defined, running, asleep int) {
	list, err := e.dyn.Resource(vcGVR).Namespace("p-default").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	for _, vc := range list.Items {
		defined++
		phase, _, _ := unstructured.NestedString(vc.Object, "status", "phase")
		switch {
		case phase == "Sleeping" || vc.GetAnnotations()["platform.gantry.dev/sleeping"] != "":
			asleep++
		case phase == "Running":
			running++
		}
	}
	return
}

func (e *gitopsEnv) vcPhase(name string) string {
	vc, err := e.dyn.Resource(vcGVR).Namespace("p-default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return ""
	}
	p, _, _ := unstructured.NestedString(vc.Object, "status", "phase")
	return p
}

func (e *gitopsEnv) appHealthy(name string) bool {
	u, err := e.dyn.Resource(appGVR).Namespace("p-default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return false
	}
	s, _, _ := unstructured.NestedString(u.Object, "status", "sync", "status")
	h, _, _ := unstructured.NestedString(u.Object, "status", "health", "status")
	return s == "Synced" && h == "Healthy"
}

// BenchmarkPreviewEnvironments: one ApplicationSet makes a virtual cluster per
// preview/* branch (sleepAfter 1m) and deploys the app into it. First, ten
// branches pushed one at a time through the webhook: push → virtual cluster
// Running, and push → app Healthy inside it (p50, p95). Then up to 100
// branches alive at once (GANTRY_PREVIEWS, default 100), pushed in batches of
// ten (one git push and one webhook per batch: one by one would take too long
// for the bench's budget), left to fall asleep: how many virtual clusters are
// defined, running and asleep, and the machine's memory used before and after.
func BenchmarkPreviewEnvironments(b *testing.B) {
	total := 100
	if v := os.Getenv("GANTRY_PREVIEWS"); v != "" {
		fmt.Sscan(v, &total)
	}
	memBefore := memUsedMiB()
	host := newGitHost(b)
	env, stop := startGitOps(b)
	defer stop()
	memUp := memUsedMiB()
	ctx := context.Background()
	repo := host.repo(b, "shop")
	sha := repo.commit(map[string]string{"web/app.yaml": benchDeployment})
	set := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gitops.gantry.dev/v1alpha1", "kind": "ApplicationSet",
		"metadata": map[string]any{"name": "previews", "namespace": "p-default"},
		"spec": map[string]any{
			"goTemplate":     true,
			"generators":     []any{map[string]any{"gitBranches": map[string]any{"repoURL": repo.URL, "branchMatch": "^preview/"}}},
			"virtualCluster": map[string]any{"name": "pr-{{.branchNormalized}}", "sleepAfter": "1m"},
			"template": map[string]any{
				"metadata": map[string]any{"name": "preview-{{.branchNormalized}}"},
				"spec": map[string]any{"project": "default",
					"source":      map[string]any{"repoURL": repo.URL, "path": "web", "targetRevision": "{{.branch}}"},
					"destination": map[string]any{"name": "{{.virtualCluster.clusterName}}", "namespace": "web"},
					"syncPolicy":  map[string]any{"automated": map[string]any{"prune": true}, "syncOptions": []any{"CreateNamespace=true"}}},
			},
		},
	}}
	if _, err := env.dyn.Resource(appSetGVR).Namespace("p-default").Create(ctx, set, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}

	// 1. Ten branches, one at a time.
	const single = 10
	var toRunning, toHealthy []time.Duration
	for i := 1; i <= single; i++ {
		branch := fmt.Sprintf("preview/b%d", i)
		vc, app := fmt.Sprintf("pr-preview-b%d", i), fmt.Sprintf("preview-preview-b%d", i)
		repo.git("push", "-q", "origin", "HEAD:refs/heads/"+branch)
		start := time.Now()
		env.pushWebhook(b, repo.URL, "refs/heads/"+branch, sha)
		var running time.Duration
		deadline := start.Add(3 * time.Minute)
		for {
			if running == 0 && env.vcPhase(vc) == "Running" {
				running = time.Since(start)
			}
			if running != 0 && env.appHealthy(app) {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("%s: virtual cluster %s phase %q, app %s not Healthy after 3m", branch, vc, env.vcPhase(vc), app)
			}
			time.Sleep(100 * time.Millisecond)
		}
		toRunning = append(toRunning, running)
		toHealthy = append(toHealthy, time.Since(start))
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "\n%d branches pushed one at a time (webhook)\tp50\tp95\tmax\t\n", single)
	fmt.Fprintf(tw, "push → virtual cluster Running\t%.2fs\t%.2fs\t%.2fs\t\n", percentile(toRunning, .5).Seconds(), percentile(toRunning, .95).Seconds(), percentile(toRunning, 1).Seconds())
	fmt.Fprintf(tw, "push → app Synced and Healthy inside it\t%.2fs\t%.2fs\t%.2fs\t\n", percentile(toHealthy, .5).Seconds(), percentile(toHealthy, .95).Seconds(), percentile(toHealthy, 1).Seconds())
	tw.Flush()
	b.ReportMetric(percentile(toHealthy, .5).Seconds(), "push-to-healthy-p50-s")
	b.ReportMetric(percentile(toHealthy, .95).Seconds(), "push-to-healthy-p95-s")

	// 2. Up to total branches alive at once, in batches of ten.
	const batch = 10
	start := time.Now()
	var peakRunning int
	var peakMem uint64
	for n := single; n < total; {
		var refs []string
		var last string
		for i := n + 1; i <= min(n+batch, total); i++ {
			last = fmt.Sprintf("preview/b%d", i)
			refs = append(refs, "HEAD:refs/heads/"+last)
		}
		repo.git(append([]string{"push", "-q", "origin"}, refs...)...)
		env.pushWebhook(b, repo.URL, "refs/heads/"+last, sha)
		n += len(refs)
		// A cluster that does not start within 2 minutes is counted as stuck
		// and the next batch goes on: the table then says so.
		deadline := time.Now().Add(2 * time.Minute)
		for {
			defined, running, asleep := env.vcCounts(b)
			peakRunning = max(peakRunning, running)
			peakMem = max(peakMem, memUsedMiB())
			if defined >= n && running+asleep >= n {
				break
			}
			if time.Now().After(deadline) {
				fmt.Printf("%d branches: %d virtual clusters defined, %d running, %d asleep after 2m; going on\n", n, defined, running, asleep)
				break
			}
			time.Sleep(time.Second)
		}
	}
	created := time.Since(start)
	memAll := memUsedMiB()
	defined, running, asleep := env.vcCounts(b)
	type snap struct {
		when                     string
		defined, running, asleep int
		mem                      uint64
	}
	snaps := []snap{{"before gantry up", 0, 0, 0, memBefore}, {"gantry up, no previews", 0, 0, 0, memUp},
		{fmt.Sprintf("%d previews created (%.0fs, batches of %d)", total, created.Seconds(), batch), defined, running, asleep, memAll}}
	// Then they fall asleep (sleepAfter 1m, checked every 5s).
	deadline := time.Now().Add(3 * time.Minute)
	for {
		defined, running, asleep = env.vcCounts(b)
		if asleep >= total || time.Now().After(deadline) {
			break
		}
		time.Sleep(2 * time.Second)
	}
	time.Sleep(10 * time.Second) // the stopped control planes' memory is returned
	defined, running, asleep = env.vcCounts(b)
	snaps = append(snaps, snap{"after they fell asleep", defined, running, asleep, memUsedMiB()})
	apps, _ := env.dyn.Resource(appGVR).Namespace("p-default").List(ctx, metav1.ListOptions{})
	tw = tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "\n%d previews (sleepAfter 1m)\tvirtual clusters defined\trunning\tasleep\tmachine memory used MiB\t\n", total)
	for _, s := range snaps {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t\n", s.when, s.defined, s.running, s.asleep, s.mem)
	}
	tw.Flush()
	fmt.Printf("peak while creating: %d running at once, %d MiB used; %d Applications; gantry RSS %.0f MiB\n",
		peakRunning, peakMem, len(apps.Items), rssMiB(env.pid))
	b.ReportMetric(float64(asleep), "previews-asleep")
	b.ReportMetric(float64(snaps[len(snaps)-1].mem), "mem-used-MiB-asleep")
}
