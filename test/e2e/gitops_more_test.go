package e2e

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
	// replicas by JSON pointer, one container's image by a jq path; a sync
	// leaves both as they are live (RespectIgnoreDifferences). The namespace
	// the app creates gets its managedNamespaceMetadata.
	app("ignore", "web", map[string]any{
		"ignoreDifferences": []any{map[string]any{"group": "apps", "kind": "Deployment",
			"jsonPointers":      []any{"/spec/replicas"},
			"jqPathExpressions": []any{`.spec.template.spec.containers[] | select(.name == "nginx") | .image`}}},
		"syncPolicy": map[string]any{"automated": map[string]any{"selfHeal": true},
			"syncOptions": []any{"CreateNamespace=true", "RespectIgnoreDifferences=true"},
			"managedNamespaceMetadata": map[string]any{"labels": map[string]any{"team": "web"},
				"annotations": map[string]any{"owner": "ops"}}}})
	waitApp(t, dyn, "p-default", "ignore", "Synced", "Healthy", 60*time.Second)
	if ns, err := host.CoreV1().Namespaces().Get(ctx, "ignore", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	} else if ns.Labels["team"] != "web" || ns.Annotations["owner"] != "ops" {
		t.Errorf("managedNamespaceMetadata: namespace labels %v, annotations %v", ns.Labels, ns.Annotations)
	}
	patch := []byte(`{"spec":{"replicas":1,"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:hotfix"}]}}}}`)
	if _, err := host.AppsV1().Deployments("ignore").Patch(ctx, "web", "application/strategic-merge-patch+json", patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	ignoredKept := func(after string) {
		t.Helper()
		d, err := host.AppsV1().Deployments("ignore").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if *d.Spec.Replicas != 1 {
			t.Errorf("%s: replicas %d, want the ignored live value 1", after, *d.Spec.Replicas)
		}
		if img := d.Spec.Template.Spec.Containers[0].Image; img != "nginx:hotfix" {
			t.Errorf("%s: image %s, want the ignored live value nginx:hotfix", after, img)
		}
	}
	time.Sleep(3 * time.Second) // self-heal reverts drift in well under a second
	if s, _, _, _ := appStatus(t, dyn, "p-default", "ignore"); s != "Synced" {
		t.Errorf("a change to ignored fields made the app %s", s)
	}
	ignoredKept("self-heal")
	if out, err := run(t, "app", "sync", "ignore", "--data-dir", g.dataDir); err != nil {
		t.Fatalf("app sync: %v\n%s", err, out)
	}
	ignoredKept("a sync with RespectIgnoreDifferences=true")

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

const hookConfig = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {version: %q}\n"

// testFileRepoAndWebhooks: an app from a file:// repository, refreshed by
// `app get --refresh`; GitLab's and Gitea's push webhooks, each with its own
// secret, refresh the app of the pushed repository.
func testFileRepoAndWebhooks(t *testing.T, g *gantry, dyn dynamic.Interface, host kubernetes.Interface, srv *gitServer) {
	ctx := context.Background()
	settings := func(ns string) string {
		cm, err := host.CoreV1().ConfigMaps(ns).Get(ctx, "settings", metav1.GetOptions{})
		if err != nil {
			return err.Error()
		}
		return cm.Data["version"]
	}
	create := func(name, repoURL string) {
		out, err := run(t, "app", "create", name, "--data-dir", g.dataDir, "--repo", repoURL, "--path", "cfg",
			"--dest-namespace", name, "--sync-policy", "automated", "--sync-option", "CreateNamespace=true")
		if err != nil {
			t.Fatalf("app create %s: %v\n%s", name, err, out)
		}
		waitApp(t, dyn, "p-default", name, "Synced", "Healthy", 90*time.Second)
	}

	local := srv.newRepo("local")
	local.commit("v1", map[string]*string{"cfg/settings.yaml": str(fmt.Sprintf(hookConfig, "1"))})
	create("from-file", "file://"+local.bare)
	if v := settings("from-file"); v != "1" {
		t.Fatalf("file:// app: settings version %q, want 1", v)
	}
	local.commit("v2", map[string]*string{"cfg/settings.yaml": str(fmt.Sprintf(hookConfig, "2"))})
	if out, err := run(t, "app", "get", "from-file", "--refresh", "--data-dir", g.dataDir); err != nil {
		t.Fatalf("app get --refresh: %v\n%s", err, out)
	}
	eventually(t, 30*time.Second, "the file:// commit applied after a refresh", func() error {
		if v := settings("from-file"); v != "2" {
			return fmt.Errorf("version %q", v)
		}
		return nil
	})

	hooked := srv.newRepo("hooked")
	hooked.commit("v1", map[string]*string{"cfg/settings.yaml": str(fmt.Sprintf(hookConfig, "1"))})
	create("hooked", hooked.URL)
	secret, err := host.CoreV1().Secrets("gantry-system").Get(ctx, "gantry-webhook", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	post := func(body []byte, headers map[string]string) int {
		req, _ := http.NewRequest(http.MethodPost, "https://"+g.httpAddr+"/api/webhook", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		resp, err := g.httpsClient(t).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	applied := func(what, want string) {
		eventually(t, 30*time.Second, what, func() error {
			if v := settings("hooked"); v != want {
				return fmt.Errorf("version %q, want %s", v, want)
			}
			return nil
		})
	}

	// GitLab: the X-Gitlab-Token is the secret itself.
	sha := hooked.commit("v2", map[string]*string{"cfg/settings.yaml": str(fmt.Sprintf(hookConfig, "2"))})
	gitlab, _ := json.Marshal(map[string]any{"object_kind": "push", "ref": "refs/heads/main", "before": strings.Repeat("0", 40), "after": sha,
		"project": map[string]any{"web_url": hooked.URL, "git_http_url": hooked.URL, "default_branch": "main"}})
	if code := post(gitlab, map[string]string{"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": "wrong"}); code != http.StatusUnauthorized {
		t.Errorf("GitLab push with a wrong token: %d, want 401", code)
	}
	if code := post(gitlab, map[string]string{"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": string(secret.Data["webhook.gitlab.secret"])}); code != http.StatusOK {
		t.Fatalf("GitLab push: %d", code)
	}
	applied("the GitLab push applied", "2")

	// Gitea: an HMAC-SHA256 of the body, keyed with webhook.gogs.secret as Argo CD does.
	sha = hooked.commit("v3", map[string]*string{"cfg/settings.yaml": str(fmt.Sprintf(hookConfig, "3"))})
	gitea, _ := json.Marshal(map[string]any{"ref": "refs/heads/main", "before": strings.Repeat("0", 40), "after": sha,
		"repository": map[string]any{"html_url": hooked.URL, "clone_url": hooked.URL, "default_branch": "main"}})
	mac := hmac.New(sha256.New, secret.Data["webhook.gogs.secret"])
	mac.Write(gitea)
	if code := post(gitea, map[string]string{"X-Gitea-Event": "push", "X-Gitea-Signature": strings.Repeat("0", 64)}); code != http.StatusUnauthorized {
		t.Errorf("Gitea push with a wrong signature: %d, want 401", code)
	}
	if code := post(gitea, map[string]string{"X-Gitea-Event": "push", "X-Gitea-Signature": hex.EncodeToString(mac.Sum(nil))}); code != http.StatusOK {
		t.Fatalf("Gitea push: %d", code)
	}
	applied("the Gitea push applied", "3")
}
