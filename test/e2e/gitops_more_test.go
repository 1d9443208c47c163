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
  generateName: migrate-
  annotations: {argocd.argoproj.io/hook: PreSync}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: main, image: busybox, command: [sh, -c, "echo migrated"]}]
`

// testHooks: a PreSync hook Job runs to completion on the host's simulated
// nodes (KWOK completes its pod) before the app's objects are applied. The
// order of phases and waves and the deletion policies are the engine's
// (internal/gitops/application hooks_test.go).
func testHooks(t *testing.T, g *gantry, dyn dynamic.Interface, repo *gitRepo) {
	repo.commit("hooks", map[string]*string{
		"hooks/presync.yaml":  str(hookJob),
		"hooks/settings.yaml": str(fmt.Sprintf(hookConfig, "1")),
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
	if phase, _, _ := unstructured.NestedString(u.Object, "status", "operationState", "phase"); phase != "Succeeded" {
		t.Fatalf("sync %s", phase)
	}
	res, _, _ := unstructured.NestedSlice(u.Object, "status", "operationState", "syncResult", "resources")
	var hooks int
	for _, r := range res {
		if m := r.(map[string]any); m["hookType"] == "PreSync" {
			hooks++
			if m["hookPhase"] != "Succeeded" {
				t.Errorf("PreSync hook: phase %v (%v)", m["hookPhase"], m["message"])
			}
		}
	}
	if hooks != 1 {
		t.Errorf("sync result %v: want one PreSync hook", res)
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
