package e2e

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"gantry.dev/gantry/internal/kubeconfig"
)

var (
	appSetGVR = schema.GroupVersionResource{Group: "gitops.gantry.dev", Version: "v1alpha1", Resource: "applicationsets"}
	vcGVR     = schema.GroupVersionResource{Group: "platform.gantry.dev", Version: "v1alpha1", Resource: "virtualclusters"}
)

// pushBranch pushes the working copy's HEAD to branch (or deletes it) and tells
// gantry through the webhook, as GitHub would.
func (g *gantry) pushBranch(t *testing.T, host kubernetes.Interface, r *gitRepo, branch string, remove bool) {
	t.Helper()
	after := r.git(r.dir, "rev-parse", "HEAD")
	if remove {
		r.git(r.dir, "push", "-q", "origin", "--delete", branch)
		after = strings.Repeat("0", 40)
	} else {
		r.git(r.dir, "push", "-q", "origin", "HEAD:refs/heads/"+branch)
	}
	s, err := host.CoreV1().Secrets("gantry-system").Get(context.Background(), "gantry-webhook", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{
		"ref": "refs/heads/" + branch, "before": strings.Repeat("1", 40), "after": after, "deleted": remove,
		"repository": map[string]any{"html_url": r.URL, "clone_url": r.URL, "default_branch": "main"},
	})
	mac := hmac.New(sha256.New, s.Data["webhook.github.secret"])
	mac.Write(body)
	req, _ := http.NewRequest(http.MethodPost, "https://"+g.httpAddr+"/api/webhook", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := g.httpsClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("webhook: %s", resp.Status)
	}
}

// waitGone waits until the object no longer exists.
func waitGone(t *testing.T, dyn dynamic.Interface, gvr schema.GroupVersionResource, ns, name string, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, fmt.Sprintf("%s %s/%s gone", gvr.Resource, ns, name), func() error {
		if _, err := dyn.Resource(gvr).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("still there (%v)", err)
		}
		return nil
	})
}

// waitAppHealthy waits for an app that may not exist yet to be Synced and Healthy.
func waitAppHealthy(t *testing.T, dyn dynamic.Interface, ns, name string, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	eventually(t, timeout, "app "+name+" Synced and Healthy", func() error {
		u, err := dyn.Resource(appGVR).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		s, _, _ := unstructured.NestedString(u.Object, "status", "sync", "status")
		h, _, _ := unstructured.NestedString(u.Object, "status", "health", "status")
		if s != "Synced" || h != "Healthy" {
			return fmt.Errorf("sync %q health %q", s, h)
		}
		return nil
	})
	return time.Since(start)
}

func createAppSet(t *testing.T, dyn dynamic.Interface, manifest string) {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(manifest), &u.Object); err != nil {
		t.Fatal(err)
	}
	if _, err := dyn.Resource(appSetGVR).Namespace("p-default").Create(context.Background(), u, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create ApplicationSet: %v", err)
	}
}

// TestApplicationSets: branch X deploys to namespace X, and a preview branch
// gets its own virtual cluster with the app inside; deleting the branches
// removes the apps, their objects and the virtual cluster. Real Git (http-backend),
// the webhook, the CLI, the real host. Bad input and the generators' details
// are the controller's (internal/gitops/appset).
func TestApplicationSets(t *testing.T) {
	parallel(t)
	dataDir := t.TempDir()
	g := startGantry(t, dataDir, "--nodes", "1")
	g.waitReady(2 * time.Minute)
	host := g.client()
	cfg, _ := kubeconfig.Load(filepath.Join(dataDir, "kubeconfig"))
	dyn := dynamic.NewForConfigOrDie(cfg)
	ctx := context.Background()

	eventually(t, 30*time.Second, "project default's namespace", func() error {
		_, err := host.CoreV1().Namespaces().Get(ctx, "p-default", metav1.GetOptions{})
		return err
	})
	// The tests deploy into host namespaces: granted to the default project,
	// as an administrator would (tenancy_test.go tries it without).
	g.grantProject(t, "default", hostGrant)
	srv := newGitServer(t)
	repo := srv.newRepo("shop")
	repo.commit("web", map[string]*string{
		"web/deployment.yaml": str(fmt.Sprintf(webDeployment, 2, "1.27")),
		"web/service.yaml":    str(webService),
	})
	// The branches set goes in through the CLI (the REST API), as Argo CD's
	// clients write it.
	setFile := filepath.Join(t.TempDir(), "branches.yaml")
	if err := os.WriteFile(setFile, []byte(fmt.Sprintf(`
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: branches}
spec:
  goTemplate: true
  goTemplateOptions: [missingkey=error]
  generators:
  - gitBranches: {repoURL: %[1]s, branchMatch: '^feature/'}
  template:
    metadata: {name: 'web-{{.branchNormalized}}'}
    spec:
      project: default
      source: {repoURL: %[1]s, targetRevision: '{{.branch}}', path: web}
      destination: {server: https://kubernetes.default.svc, namespace: '{{.branchNormalized}}'}
      syncPolicy: {automated: {prune: true}, syncOptions: [CreateNamespace=true]}
`, repo.URL)), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, "appset", "create", "-f", setFile, "--data-dir", dataDir); err != nil || !strings.Contains(out, "'branches' created") {
		t.Fatalf("gantry appset create: %v\n%s", err, out)
	}
	if out, err := run(t, "appset", "create", "-f", setFile, "--data-dir", dataDir); err == nil || !strings.Contains(out, "upsert") {
		t.Errorf("gantry appset create of an existing set: %v\n%s", err, out)
	}
	createAppSet(t, dyn, fmt.Sprintf(`
apiVersion: gitops.gantry.dev/v1alpha1
kind: ApplicationSet
metadata: {name: previews}
spec:
  goTemplate: true
  generators:
  - gitBranches: {repoURL: %[1]s, branchMatch: '^preview/'}
  virtualCluster: {name: 'pr-{{.branchNormalized}}', sleepAfter: 30m, labels: {preview: 'true'}}
  template:
    metadata: {name: 'preview-{{.branchNormalized}}'}
    spec:
      project: default
      source: {repoURL: %[1]s, targetRevision: '{{.branch}}', path: web}
      destination: {name: '{{.virtualCluster.clusterName}}', namespace: web}
      syncPolicy: {automated: {prune: true}, syncOptions: [CreateNamespace=true]}
`, repo.URL))

	// Branch X → namespace X.
	g.pushBranch(t, host, repo, "feature/Login_Page", false)
	took := waitAppHealthy(t, dyn, "p-default", "web-feature-login-page", 90*time.Second)
	t.Logf("branch push → app Healthy in its namespace: %.2fs", took.Seconds())
	if d, err := host.AppsV1().Deployments("feature-login-page").Get(ctx, "web", metav1.GetOptions{}); err != nil || d.Status.AvailableReplicas != 2 {
		t.Fatalf("deployment in namespace feature-login-page: %v", err)
	}
	if out, err := run(t, "appset", "list", "--data-dir", dataDir); err != nil || !strings.Contains(out, "branches") || !strings.Contains(out, "previews") {
		t.Errorf("gantry appset list: %v\n%s", err, out)
	}
	eventually(t, 30*time.Second, "gantry appset get branches to show the generated app", func() error {
		out, err := run(t, "appset", "get", "branches", "--data-dir", dataDir)
		if err != nil || !strings.Contains(out, "web-feature-login-page") || !strings.Contains(out, "Healthy") || !strings.Contains(out, "ResourcesUpToDate") {
			return fmt.Errorf("%v\n%s", err, out)
		}
		return nil
	})
	// A preview branch → its own virtual cluster, the app Healthy inside it.
	g.pushBranch(t, host, repo, "preview/one", false)
	took = waitAppHealthy(t, dyn, "p-default", "preview-preview-one", 2*time.Minute)
	t.Logf("branch push → virtual cluster Ready and app Healthy inside: %.2fs", took.Seconds())
	vc, err := dyn.Resource(vcGVR).Namespace("p-default").Get(ctx, "pr-preview-one", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the preview's virtual cluster: %v", err)
	}
	if phase, _, _ := unstructured.NestedString(vc.Object, "status", "phase"); phase != "Running" {
		t.Errorf("preview virtual cluster phase %q", phase)
	}
	if pods, _ := host.CoreV1().Pods("vc-p-default-pr-preview-one").List(ctx, metav1.ListOptions{}); len(pods.Items) != 2 {
		t.Errorf("%d preview pods on the host, want 2", len(pods.Items))
	}
	set, _ := dyn.Resource(appSetGVR).Namespace("p-default").Get(ctx, "previews", metav1.GetOptions{})
	if conds, _, _ := unstructured.NestedSlice(set.Object, "status", "conditions"); !strings.Contains(fmt.Sprint(conds), "ResourcesUpToDate") {
		t.Errorf("ApplicationSet conditions: %v", conds)
	}

	// Deleting the branches removes the apps with their objects, then the virtual cluster.
	g.pushBranch(t, host, repo, "preview/one", true)
	g.pushBranch(t, host, repo, "feature/Login_Page", true)
	waitGone(t, dyn, appGVR, "p-default", "preview-preview-one", 2*time.Minute)
	waitGone(t, dyn, vcGVR, "p-default", "pr-preview-one", 2*time.Minute)
	waitGone(t, dyn, appGVR, "p-default", "web-feature-login-page", time.Minute)
	if out, err := run(t, "appset", "delete", "branches", "--data-dir", dataDir); err != nil {
		t.Errorf("gantry appset delete: %v\n%s", err, out)
	}
	waitGone(t, dyn, appSetGVR, "p-default", "branches", 30*time.Second)
	eventually(t, time.Minute, "no preview objects left on the host", func() error {
		if pods, _ := host.CoreV1().Pods("vc-p-default-pr-preview-one").List(ctx, metav1.ListOptions{}); len(pods.Items) > 0 {
			return fmt.Errorf("%d preview pods", len(pods.Items))
		}
		if _, err := host.AppsV1().Deployments("feature-login-page").Get(ctx, "web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("deployment of the deleted branch still there (%v)", err)
		}
		return nil
	})
}
