package e2e

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
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"gantry.dev/gantry/internal/kubeconfig"
)

var appGVR = schema.GroupVersionResource{Group: "gitops.gantry.dev", Version: "v1alpha1", Resource: "applications"}

const webDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: %d
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: nginx
        image: nginx:%s
        ports:
        - containerPort: 80
`

const webService = `apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
  - port: 80
    targetPort: 80
`

const webConfig = `apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
data:
  greeting: hello
`

// appStatus reads an Application as a user would with kubectl get -o yaml.
func appStatus(t *testing.T, dyn dynamic.Interface, ns, name string) (sync, health, revision string, conds []string) {
	t.Helper()
	u, err := dyn.Resource(appGVR).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get app %s: %v", name, err)
	}
	sync, _, _ = unstructured.NestedString(u.Object, "status", "sync", "status")
	health, _, _ = unstructured.NestedString(u.Object, "status", "health", "status")
	revision, _, _ = unstructured.NestedString(u.Object, "status", "sync", "revision")
	cs, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range cs {
		m := c.(map[string]any)
		conds = append(conds, fmt.Sprintf("%s: %s", m["type"], m["message"]))
	}
	return
}

func waitApp(t *testing.T, dyn dynamic.Interface, ns, name, wantSync, wantHealth string, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	eventually(t, timeout, fmt.Sprintf("app %s %s and %s", name, wantSync, wantHealth), func() error {
		s, h, _, conds := appStatus(t, dyn, ns, name)
		if s != wantSync || h != wantHealth {
			return fmt.Errorf("sync %q health %q conditions %v", s, h, conds)
		}
		return nil
	})
	return time.Since(start)
}

func waitCondition(t *testing.T, dyn dynamic.Interface, ns, name, condType, contains string) {
	t.Helper()
	eventually(t, 60*time.Second, fmt.Sprintf("app %s has condition %s mentioning %q", name, condType, contains), func() error {
		_, _, _, conds := appStatus(t, dyn, ns, name)
		for _, c := range conds {
			if strings.HasPrefix(c, condType+": ") && strings.Contains(c, contains) {
				return nil
			}
		}
		return fmt.Errorf("conditions %v", conds)
	})
}

// postWebhook sends a GitHub push event for repo signed with gantry's webhook secret.
func (g *gantry) postWebhook(t *testing.T, c kubernetes.Interface, repoURL, sha string) {
	t.Helper()
	s, err := c.CoreV1().Secrets("gantry-system").Get(context.Background(), "gantry-webhook", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("webhook Secret: %v", err)
	}
	body, _ := json.Marshal(map[string]any{
		"ref": "refs/heads/main", "before": strings.Repeat("0", 40), "after": sha,
		"repository": map[string]any{"html_url": repoURL, "clone_url": repoURL, "default_branch": "main"},
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
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("webhook: %s %s", resp.Status, b)
	}
}

func (g *gantry) httpsClient(t *testing.T) *http.Client {
	ca := g.serverCA
	if ca == nil {
		var err error
		if ca, err = os.ReadFile(filepath.Join(g.dataDir, "pki", "ca.crt")); err != nil {
			t.Fatal(err)
		}
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	return &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

// TestGitOps: Applications from a real Git server (git http-backend) into the
// host and a virtual cluster, through the real binary: the CLI and the REST
// API to the engine to the cluster, webhooks to syncs, Kustomize and Helm
// rendering, hook Jobs run on the host's nodes. What the engine decides
// (compare, waves, prune, retry, bad input...) is tested on its own in
// internal/gitops/application.
func TestGitOps(t *testing.T) {
	parallel(t)
	dataDir := t.TempDir()
	g := startGantry(t, dataDir, "--nodes", "1")
	g.waitReady(2 * time.Minute)
	host := g.client()
	cfg, _ := kubeconfig.Load(filepath.Join(dataDir, "kubeconfig"))
	dyn := dynamic.NewForConfigOrDie(cfg)
	ctx := context.Background()

	// The tests deploy into host namespaces: granted to the default project,
	// as an administrator would (tenancy_test.go tries it without).
	g.grantProject(t, "default", hostGrant)
	srv := newGitServer(t)
	repo := srv.newRepo("apps")
	first := repo.commit("web v1", map[string]*string{
		"web/deployment.yaml": str(fmt.Sprintf(webDeployment, 2, "1.27")),
		"web/service.yaml":    str(webService),
		"web/configmap.yaml":  str(webConfig),
		"README.md":           str("not a manifest, not in web/\n"),
	})

	// An automated app: synced and healthy without anyone pressing sync.
	out, err := run(t, "app", "create", "web", "--data-dir", dataDir, "--repo", repo.URL, "--path", "web",
		"--dest-namespace", "demo", "--sync-policy", "automated", "--auto-prune", "--self-heal",
		"--sync-option", "CreateNamespace=true")
	if err != nil {
		t.Fatalf("app create: %v\n%s", err, out)
	}
	took := waitApp(t, dyn, "p-default", "web", "Synced", "Healthy", 90*time.Second)
	t.Logf("new app Synced and Healthy %.2fs after create", took.Seconds())
	if _, _, rev, _ := appStatus(t, dyn, "p-default", "web"); rev != first {
		t.Errorf("synced revision %s, want %s", rev, first)
	}
	d, err := host.AppsV1().Deployments("demo").Get(ctx, "web", metav1.GetOptions{})
	if err != nil || d.Status.AvailableReplicas != 2 {
		t.Fatalf("deployment web in demo: %v %+v", err, d.Status)
	}
	if id := d.Annotations["gitops.gantry.dev/tracking-id"]; id != "p-default_web:apps/Deployment:demo/web" {
		t.Errorf("tracking id %q", id)
	}
	if out, err := run(t, "app", "get", "web", "--data-dir", dataDir); err != nil || !strings.Contains(out, "Healthy") || !strings.Contains(out, "Deployment") {
		t.Errorf("app get: %v\n%s", err, out)
	}
	if out, err := run(t, "app", "diff", "web", "--data-dir", dataDir); err != nil {
		t.Errorf("app diff of a synced app should find nothing: %v\n%s", err, out)
	}

	// Push through the webhook: 3 replicas, new image, the ConfigMap removed (pruned).
	second := repo.commit("web v2", map[string]*string{
		"web/deployment.yaml": str(fmt.Sprintf(webDeployment, 3, "1.28")),
		"web/configmap.yaml":  nil,
	})
	pushed := time.Now()
	g.postWebhook(t, host, repo.URL, second)
	eventually(t, 30*time.Second, "the pushed commit applied and the ConfigMap pruned", func() error {
		d, err := host.AppsV1().Deployments("demo").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if *d.Spec.Replicas != 3 || d.Spec.Template.Spec.Containers[0].Image != "nginx:1.28" {
			return fmt.Errorf("replicas %d image %s", *d.Spec.Replicas, d.Spec.Template.Spec.Containers[0].Image)
		}
		if _, err := host.CoreV1().ConfigMaps("demo").Get(ctx, "web-config", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("web-config not pruned: %v", err)
		}
		return nil
	})
	t.Logf("webhook push applied in %.2fs", time.Since(pushed).Seconds())
	waitApp(t, dyn, "p-default", "web", "Synced", "Healthy", 60*time.Second)

	// Self-heal: a kubectl scale is reverted.
	scale := []byte(`{"spec":{"replicas":1}}`)
	if _, err := host.AppsV1().Deployments("demo").Patch(ctx, "web", types.MergePatchType, scale, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	edited := time.Now()
	eventually(t, 30*time.Second, "self-heal reverts replicas to 3", func() error {
		d, err := host.AppsV1().Deployments("demo").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if *d.Spec.Replicas != 3 {
			return fmt.Errorf("replicas %d", *d.Spec.Replicas)
		}
		return nil
	})
	t.Logf("drift reverted in %.2fs", time.Since(edited).Seconds())

	// A resource action (argocd app actions run) through the CLI and the API
	// to the host; that self-heal leaves it is the engine's
	// (TestFieldsGitDoesNotSetAreNotDrift).
	if out, err := run(t, "app", "actions", "run", "web", "restart", "--kind", "Deployment", "--group", "apps",
		"--resource-name", "web", "--namespace", "demo", "--data-dir", dataDir); err != nil {
		t.Fatalf("app actions run: %v\n%s", err, out)
	}
	if d, err := host.AppsV1().Deployments("demo").Get(ctx, "web", metav1.GetOptions{}); err != nil || d.Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"] == "" {
		t.Fatalf("app actions run restart did not restart the Deployment: %v", err)
	}
	if out, err := run(t, "app", "history", "web", "--data-dir", dataDir); err != nil || !strings.Contains(out, first) || !strings.Contains(out, second) {
		t.Errorf("history lacks the two synced commits: %v\n%s", err, out)
	}

	t.Run("manual sync, diff and rollback of a Kustomize app", func(t *testing.T) {
		testManualKustomize(t, g, dyn, host, repo)
	})
	t.Run("Helm app from an Argo CD manifest", func(t *testing.T) {
		testHelmFromArgoManifest(t, g, dyn, host, repo)
	})
	t.Run("file:// repository, GitLab and Gitea webhooks", func(t *testing.T) {
		testFileRepoAndWebhooks(t, g, dyn, host, srv)
	})
	t.Run("hooks", func(t *testing.T) {
		testHooks(t, g, dyn, repo)
	})
	t.Run("REST API", func(t *testing.T) {
		testRESTAPI(t, g)
	})
	t.Run("virtual cluster destination", func(t *testing.T) {
		testVClusterDestination(t, g, dyn, repo)
	})
	t.Run("app of apps, as argocd-example-apps", func(t *testing.T) {
		testAppOfApps(t, g, dyn, host, srv)
	})

	// Cascade delete: the app and its resources go.
	if out, err := run(t, "app", "delete", "web", "--data-dir", dataDir); err != nil {
		t.Fatalf("app delete: %v\n%s", err, out)
	}
	eventually(t, 30*time.Second, "resources of web deleted", func() error {
		if _, err := host.AppsV1().Deployments("demo").Get(ctx, "web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("deployment still there: %v", err)
		}
		if _, err := host.CoreV1().Services("demo").Get(ctx, "web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("service still there: %v", err)
		}
		return nil
	})
}

const kustomization = `resources:
- ../base
namePrefix: k-
`

func testManualKustomize(t *testing.T, g *gantry, dyn dynamic.Interface, host kubernetes.Interface, repo *gitRepo) {
	ctx := context.Background()
	dataDir := g.dataDir
	v1 := repo.commit("kustomize overlay", map[string]*string{
		"base/kustomization.yaml":    str("resources:\n- deployment.yaml\n- service.yaml\n"),
		"base/deployment.yaml":       str(fmt.Sprintf(webDeployment, 3, "1.28")),
		"base/service.yaml":          str(webService),
		"overlay/kustomization.yaml": str(kustomization),
	})
	out, err := run(t, "app", "create", "kust", "--data-dir", dataDir, "--repo", repo.URL, "--path", "overlay",
		"--dest-namespace", "kust", "--sync-option", "CreateNamespace=true")
	if err != nil {
		t.Fatalf("app create: %v\n%s", err, out)
	}
	waitApp(t, dyn, "p-default", "kust", "OutOfSync", "Missing", 60*time.Second)
	out, err = run(t, "app", "diff", "kust", "--data-dir", dataDir)
	if err == nil || !strings.Contains(out, "k-web") {
		t.Errorf("diff of an unsynced app must exit non-zero and show k-web: %v\n%s", err, out)
	}
	if out, err := run(t, "app", "sync", "kust", "--data-dir", dataDir); err != nil {
		t.Fatalf("app sync: %v\n%s", err, out)
	}
	waitApp(t, dyn, "p-default", "kust", "Synced", "Healthy", 60*time.Second)
	if _, err := host.AppsV1().Deployments("kust").Get(ctx, "k-web", metav1.GetOptions{}); err != nil {
		t.Fatalf("namePrefix not applied: %v", err)
	}
	// A new commit synced by hand, then rolled back.
	repo.commit("overlay replicas", map[string]*string{"overlay/kustomization.yaml": str(kustomization + "replicas:\n- name: web\n  count: 1\n")})
	if out, err := run(t, "app", "sync", "kust", "--data-dir", dataDir); err != nil {
		t.Fatalf("app sync: %v\n%s", err, out)
	}
	if d, _ := host.AppsV1().Deployments("kust").Get(ctx, "k-web", metav1.GetOptions{}); d == nil || *d.Spec.Replicas != 1 {
		t.Fatalf("replicas override not applied")
	}
	if out, err := run(t, "app", "rollback", "kust", "1", "--data-dir", dataDir); err != nil {
		t.Fatalf("rollback: %v\n%s", err, out)
	}
	d, _ := host.AppsV1().Deployments("kust").Get(ctx, "k-web", metav1.GetOptions{})
	if d == nil || *d.Spec.Replicas != 3 {
		t.Errorf("rollback to history 1 (%s) should restore 3 replicas", v1)
	}
	out, _ = run(t, "app", "history", "kust", "--data-dir", dataDir)
	if strings.Count(out, "\n") < 4 {
		t.Errorf("history after sync, sync, rollback:\n%s", out)
	}
}

const chartYAML = `apiVersion: v2
name: hello
version: 0.1.0
`

const chartTemplate = `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-hello
data:
  color: {{ .Values.color | quote }}
  size: {{ .Values.size | quote }}
`

func testHelmFromArgoManifest(t *testing.T, g *gantry, dyn dynamic.Interface, host kubernetes.Interface, repo *gitRepo) {
	repo.commit("chart", map[string]*string{
		"charts/hello/Chart.yaml":           str(chartYAML),
		"charts/hello/values.yaml":          str("color: red\nsize: small\n"),
		"charts/hello/templates/hello.yaml": str(chartTemplate),
	})
	// An Argo CD Application manifest as found in the wild, apiVersion and all.
	manifest := fmt.Sprintf(`apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: hello
  namespace: argocd
spec:
  project: default
  source:
    repoURL: %s
    targetRevision: main
    path: charts/hello
    helm:
      releaseName: greet
      valuesObject:
        color: blue
      parameters:
      - name: size
        value: large
  destination:
    server: https://kubernetes.default.svc
    namespace: helm
  syncPolicy:
    automated: {prune: true}
    syncOptions: [CreateNamespace=true]
`, repo.URL)
	file := filepath.Join(t.TempDir(), "app.yaml")
	os.WriteFile(file, []byte(manifest), 0o644)
	if out, err := run(t, "app", "create", "-f", file, "--data-dir", g.dataDir); err != nil {
		t.Fatalf("app create -f: %v\n%s", err, out)
	}
	waitApp(t, dyn, "p-default", "hello", "Synced", "Healthy", 60*time.Second)
	cm, err := host.CoreV1().ConfigMaps("helm").Get(context.Background(), "greet-hello", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cm.Data["color"] != "blue" || cm.Data["size"] != "large" {
		t.Errorf("helm values not applied: %v", cm.Data)
	}
	// A non-cascading delete through the CLI leaves the resources.
	if out, err := run(t, "app", "delete", "hello", "--cascade=false", "--data-dir", g.dataDir); err != nil {
		t.Fatalf("app delete --cascade=false: %v\n%s", err, out)
	}
	waitGone(t, dyn, appGVR, "p-default", "hello", 30*time.Second)
	if _, err := host.CoreV1().ConfigMaps("helm").Get(context.Background(), "greet-hello", metav1.GetOptions{}); err != nil {
		t.Errorf("after a non-cascading delete: %v", err)
	}
}

func testVClusterDestination(t *testing.T, g *gantry, dyn dynamic.Interface, repo *gitRepo) {
	createVCluster(t, g.dataDir, "dev")
	out, err := run(t, "app", "create", "web-dev", "--data-dir", g.dataDir, "--repo", repo.URL, "--path", "web",
		"--dest-name", "p-default/dev", "--dest-namespace", "web", "--sync-policy", "automated", "--sync-option", "CreateNamespace=true")
	if err != nil {
		t.Fatalf("app create: %v\n%s", err, out)
	}
	waitApp(t, dyn, "p-default", "web-dev", "Synced", "Healthy", 90*time.Second)
	vc := vclusterClient(t, g.dataDir, "dev")
	d, err := vc.AppsV1().Deployments("web").Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil || d.Status.AvailableReplicas != 3 {
		t.Fatalf("deployment inside the virtual cluster: %v %+v", err, d.Status)
	}
}
