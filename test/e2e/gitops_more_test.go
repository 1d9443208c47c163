package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
)

const hookJob = `apiVersion: batch/v1
kind: Job
metadata:
  generateName: %s-
  annotations:
    argocd.argoproj.io/hook: %s
    argocd.argoproj.io/hook-delete-policy: BeforeHookCreation
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: main, image: busybox, command: [sh, -c, "echo %s"]}]
`

func waveObject(kind, name string, wave int) string {
	if kind == "ConfigMap" {
		return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n  annotations: {argocd.argoproj.io/sync-wave: \"%d\"}\ndata: {a: b}\n", name, wave)
	}
	return fmt.Sprintf(webDeployment, 1, "1.27") // Deployment web, wave 0
}

// testWavesAndHooks: a PreSync Job, objects in waves -1, 0 and 1, a PostSync Job;
// the sync result lists them in that order and the hooks succeeded (KWOK completes
// Job pods).
func testWavesAndHooks(t *testing.T, g *gantry, dyn dynamic.Interface, repo *gitRepo) {
	repo.commit("waves and hooks", map[string]*string{
		"hooks/presync.yaml":  str(fmt.Sprintf(hookJob, "migrate", "PreSync", "before")),
		"hooks/postsync.yaml": str(fmt.Sprintf(hookJob, "smoke", "PostSync", "after")),
		"hooks/first.yaml":    str(waveObject("ConfigMap", "first", -1)),
		"hooks/web.yaml":      str(waveObject("Deployment", "web", 0)),
		"hooks/last.yaml":     str(waveObject("ConfigMap", "last", 1)),
	})
	out, err := run(t, "app", "create", "hooks", "--data-dir", g.dataDir, "--repo", repo.URL, "--path", "hooks",
		"--dest-namespace", "hooks", "--sync-option", "CreateNamespace=true")
	if err != nil {
		t.Fatalf("app create: %v\n%s", err, out)
	}
	if out, err := run(t, "app", "sync", "hooks", "--data-dir", g.dataDir); err != nil {
		t.Fatalf("app sync: %v\n%s", err, out)
	}
	u, err := dyn.Resource(appGVR).Namespace("p-default").Get(context.Background(), "hooks", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res, _, _ := unstructured.NestedSlice(u.Object, "status", "operationState", "syncResult", "resources")
	var order []string
	for _, r := range res {
		m := r.(map[string]any)
		name := fmt.Sprint(m["name"])
		if m["hookType"] != nil {
			if m["hookPhase"] != "Succeeded" {
				t.Errorf("hook %s: phase %v (%v)", name, m["hookPhase"], m["message"])
			}
			name = fmt.Sprint(m["hookType"])
		}
		order = append(order, name)
	}
	want := []string{"PreSync", "first", "web", "last", "PostSync"}
	if strings.Join(order, ",") != strings.Join(want, ",") {
		t.Errorf("sync order %v, want %v", order, want)
	}
}

// testRESTAPI: the Argo CD-shaped REST API, as a script would use it.
func testRESTAPI(t *testing.T, g *gantry) {
	token, err := os.ReadFile(filepath.Join(g.dataDir, "admin-token"))
	if err != nil {
		t.Fatal(err)
	}
	call := func(method, path, body string, auth bool) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, "https://"+g.httpAddr+path, strings.NewReader(body))
		if auth {
			req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
		}
		resp, err := g.httpsClient(t).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		var m map[string]any
		json.Unmarshal(data, &m)
		return resp.StatusCode, m
	}
	if code, _ := call("GET", "/api/v1/applications", "", false); code != 401 {
		t.Errorf("unauthenticated list: %d, want 401", code)
	}
	code, list := call("GET", "/api/v1/applications", "", true)
	if code != 200 || len(list["items"].([]any)) == 0 {
		t.Fatalf("list: %d %v", code, list)
	}
	code, app := call("GET", "/api/v1/applications/web?appNamespace=p-default", "", true)
	if code != 200 || app["metadata"].(map[string]any)["name"] != "web" {
		t.Fatalf("get: %d %v", code, app)
	}
	code, tree := call("GET", "/api/v1/applications/web/resource-tree", "", true)
	if code != 200 {
		t.Fatalf("resource-tree: %d %v", code, tree)
	}
	kinds := map[string]int{}
	parents := map[string]string{}
	for _, n := range tree["nodes"].([]any) {
		m := n.(map[string]any)
		kinds[m["kind"].(string)]++
		if ps, ok := m["parentRefs"].([]any); ok && len(ps) > 0 {
			parents[m["kind"].(string)] = ps[0].(map[string]any)["kind"].(string)
		}
	}
	if kinds["Deployment"] != 1 || kinds["ReplicaSet"] < 1 || kinds["Pod"] < 1 || kinds["EndpointSlice"] < 1 {
		t.Errorf("tree kinds %v", kinds)
	}
	if parents["ReplicaSet"] != "Deployment" || parents["Pod"] != "ReplicaSet" || parents["EndpointSlice"] != "Service" {
		t.Errorf("tree parents %v", parents)
	}
	code, managed := call("GET", "/api/v1/applications/web/managed-resources", "", true)
	if code != 200 || len(managed["items"].([]any)) < 2 {
		t.Errorf("managed-resources: %d %v", code, managed)
	}
	code, manifests := call("GET", "/api/v1/applications/web/manifests", "", true)
	if code != 200 || len(manifests["manifests"].([]any)) != 2 {
		t.Errorf("manifests: %d %v", code, manifests)
	}
	code, synced := call("POST", "/api/v1/applications/web/sync", `{"dryRun": true}`, true)
	if code != 200 {
		t.Errorf("sync: %d %v", code, synced)
	}
	if code, _ := call("GET", "/api/v1/applications/nope", "", true); code != 404 {
		t.Errorf("unknown app: %d, want 404", code)
	}
	eventually(t, 30*time.Second, "dry-run sync through the API finished", func() error {
		_, app := call("GET", "/api/v1/applications/web", "", true)
		st, _ := app["status"].(map[string]any)["operationState"].(map[string]any)
		if st == nil || st["phase"] != "Succeeded" {
			return fmt.Errorf("operation state %v", st)
		}
		return nil
	})
}

// testIgnoreDifferencesAndRetry: a field in ignoreDifferences is neither shown
// as drift nor reverted by self-heal; a failing sync is retried with backoff up to
// the limit, then left Failed.
func testIgnoreDifferencesAndRetry(t *testing.T, g *gantry, dyn dynamic.Interface, host kubernetes.Interface, repo *gitRepo) {
	ctx := context.Background()
	app := func(name, path string, extra map[string]any) {
		spec := map[string]any{"project": "default",
			"source":      map[string]any{"repoURL": repo.URL, "path": path},
			"destination": map[string]any{"server": "https://kubernetes.default.svc", "namespace": name},
			"syncPolicy": map[string]any{"automated": map[string]any{"selfHeal": true},
				"syncOptions": []any{"CreateNamespace=true"}}}
		for k, v := range extra {
			spec[k] = v
		}
		u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "gitops.gantry.dev/v1alpha1", "kind": "Application",
			"metadata": map[string]any{"name": name, "namespace": "p-default"}, "spec": spec}}
		if _, err := dyn.Resource(appGVR).Namespace("p-default").Create(ctx, u, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	app("ignore", "web", map[string]any{"ignoreDifferences": []any{
		map[string]any{"group": "apps", "kind": "Deployment", "jsonPointers": []any{"/spec/replicas"}}}})
	waitApp(t, dyn, "p-default", "ignore", "Synced", "Healthy", 60*time.Second)
	patch := []byte(`{"spec":{"replicas":1}}`)
	if _, err := host.AppsV1().Deployments("ignore").Patch(ctx, "web", "application/merge-patch+json", patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second) // self-heal reverts drift in well under a second
	if s, _, _, _ := appStatus(t, dyn, "p-default", "ignore"); s != "Synced" {
		t.Errorf("a change to an ignored field made the app %s", s)
	}
	if d, _ := host.AppsV1().Deployments("ignore").Get(ctx, "web", metav1.GetOptions{}); d == nil || *d.Spec.Replicas != 1 {
		t.Errorf("self-heal reverted an ignored field")
	}

	app("retry", "invalid", map[string]any{"syncPolicy": map[string]any{
		"automated":   map[string]any{"selfHeal": true},
		"syncOptions": []any{"CreateNamespace=true"},
		"retry":       map[string]any{"limit": int64(2), "backoff": map[string]any{"duration": "1s", "factor": int64(1)}},
	}})
	eventually(t, 60*time.Second, "the failing sync retried twice, then left Failed", func() error {
		u, err := dyn.Resource(appGVR).Namespace("p-default").Get(ctx, "retry", metav1.GetOptions{})
		if err != nil {
			return err
		}
		phase, _, _ := unstructured.NestedString(u.Object, "status", "operationState", "phase")
		count, _, _ := unstructured.NestedInt64(u.Object, "status", "operationState", "retryCount")
		if count != 2 || phase != "Failed" && phase != "Error" {
			return fmt.Errorf("phase %s, retries %d", phase, count)
		}
		return nil
	})
	time.Sleep(3 * time.Second)
	u, _ := dyn.Resource(appGVR).Namespace("p-default").Get(ctx, "retry", metav1.GetOptions{})
	if count, _, _ := unstructured.NestedInt64(u.Object, "status", "operationState", "retryCount"); count != 2 {
		t.Errorf("retried beyond the limit: %d", count)
	}
	for _, name := range []string{"ignore", "retry"} {
		run(t, "app", "delete", name, "--data-dir", g.dataDir)
	}
}
