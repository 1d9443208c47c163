package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"gantry.dev/gantry/internal/argocdtest"
)

// The virtual cluster's name in Argo CD: its project namespace and name, as
// gantry's own engine names it.
const argoClusterName = "p-shop/dev"

const guestbookManifests = `apiVersion: v1
kind: ConfigMap
metadata:
  name: guestbook-ui
data:
  title: Guestbook
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: guestbook-ui
spec:
  replicas: 1
  selector:
    matchLabels: {app: guestbook-ui}
  template:
    metadata:
      labels: {app: guestbook-ui}
    spec:
      containers:
      - name: guestbook-ui
        image: gcr.io/heptio-images/ks-guestbook-demo:0.2
        ports:
        - containerPort: 80
`

// TestArgoCDReal walks the Argo CD integration end to end on a real Argo CD
// (internal/argocdtest: its server, repo-server and application-controller
// on gantry's embedded host): a project's toggle makes its virtual cluster an
// Argo CD cluster that Argo CD's API lists and connects to; an Argo CD
// Application deploys into it through gantry's proxy, and again at the
// virtual cluster's own endpoint (--direct); people sign in to Argo CD in a
// real browser through gantry's login page and get their project role there;
// turning SSO and then the integration off takes each away.
func TestArgoCDReal(t *testing.T) {
	parallel(t)
	began := time.Now()
	step := func(what string) { t.Logf("%6.1fs %s", time.Since(began).Seconds(), what) }
	dataDir := t.TempDir()
	g := startGantry(t, dataDir, "--nodes", "1")
	g.waitReady(2 * time.Minute)
	step("gantry ready")
	ctx := context.Background()
	argo := argocdtest.Start(t, argocdtest.Options{Kubeconfig: filepath.Join(dataDir, "kubeconfig")})
	admin := argo.Client(argo.AdminToken(t))
	step("Argo CD ready")

	// alice runs project shop, bob may look at it; carol is in another project.
	for _, u := range []string{"alice", "bob", "carol"} {
		if out, err := runStdin(t, u+"-secret-pw\n", "user", "create", u, "--password-stdin", "--data-dir", dataDir); err != nil {
			t.Fatalf("user create %s: %v\n%s", u, err, out)
		}
	}
	for _, args := range [][]string{
		{"project", "create", "shop"},
		{"project", "add-member", "shop", "--user", "alice", "--role", "project-admin"},
		{"project", "add-member", "shop", "--user", "bob", "--role", "project-viewer"},
		{"project", "create", "lab"},
		{"project", "add-member", "lab", "--user", "carol", "--role", "project-admin"},
	} {
		if out, err := run(t, append(args, "--data-dir", dataDir)...); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	createVCluster(t, dataDir, "dev", "--project", "shop")
	repo := newGitServer(t).newRepo("guestbook")
	repo.commit("guestbook", map[string]*string{"guestbook/guestbook.yaml": str(guestbookManifests)})
	step("users, projects, virtual cluster and repository made")

	// The toggle: the virtual cluster appears in Argo CD's API.
	proxyServer := "https://" + g.httpAddr + "/kubernetes/project/shop/virtualcluster/dev"
	start := time.Now()
	out, err := run(t, "project", "argocd", "enable", "shop", "--app-project", "--sso", "--sso-host", argo.URL,
		"--role", "project-admin=role:admin", "--role", "project-viewer=role:readonly", "--data-dir", dataDir)
	if err != nil {
		t.Fatalf("project argocd enable: %v\n%s", err, out)
	}
	waitArgoCluster(t, admin, argoClusterName, "the virtual cluster listed by Argo CD at gantry's proxy", func(c *argocdtest.Cluster) error {
		if c == nil || c.Server != proxyServer {
			return fmt.Errorf("want %s at %s, got %+v", argoClusterName, proxyServer, c)
		}
		return nil
	})
	t.Logf("figure: toggle -> cluster listed by Argo CD's API: %s", time.Since(start).Round(10*time.Millisecond))

	// An Argo CD Application deploys into the virtual cluster through the proxy.
	took := deployArgoApp(t, admin, argoApp{name: "guestbook", project: "shop", cluster: argoClusterName, repoURL: repo.URL, path: "guestbook", namespace: "guestbook"})
	t.Logf("figure: Argo CD Application -> Synced/Healthy through gantry's proxy: %s", took.Round(10*time.Millisecond))
	vc := vclusterClient(t, dataDir, "dev", "--project", "shop")
	if _, err := vc.AppsV1().Deployments("guestbook").Get(ctx, "guestbook-ui", metav1.GetOptions{}); err != nil {
		t.Errorf("Argo CD's Deployment is not in the virtual cluster: %v", err)
	}

	// Sign-in. argocd-server verifies SSO tokens with an HTTP client it builds
	// once, at start (Argo CD issue 9505): after gantry wrote oidc.config with
	// its CA, it must be restarted. Here Argo CD runs as processes, not as the
	// Deployment gantry would restart, so the Project's status must say so.
	projects := dynamic.NewForConfigOrDie(g.restConfig(t)).Resource(schema.GroupVersionResource{Group: "platform.gantry.dev", Version: "v1alpha1", Resource: "projects"})
	eventually(t, 30*time.Second, "the Project saying argocd-server needs a restart", func() error {
		p, err := projects.Get(ctx, "shop", metav1.GetOptions{})
		if err != nil {
			return err
		}
		conds, _, _ := unstructured.NestedSlice(p.Object, "status", "conditions")
		for _, c := range conds {
			m, _ := c.(map[string]any)
			if m["type"] == "ArgoCDServerUpToDate" {
				if m["status"] != "False" || m["reason"] != "ServerDeploymentNotFound" || !strings.Contains(fmt.Sprint(m["message"]), "restart") {
					return fmt.Errorf("condition %v", m)
				}
				return nil
			}
		}
		return fmt.Errorf("no ArgoCDServerUpToDate condition in %v", conds)
	})
	argo.Restart(t, argocdtest.Server)
	browser := newChromium(t)
	step("argocd-server restarted, Chromium started")
	signIn := func(user string) (string, time.Duration) {
		t.Helper()
		tok, took, err := browser.argoSignIn(argo.URL, g.httpAddr, user, user+"-secret-pw")
		if err != nil {
			t.Fatalf("%s signing in to Argo CD through gantry: %v\nargocd-server's log:\n%s", user, err, lastLines(argo.Log(argocdtest.Server), 20))
		}
		return tok, took
	}
	var times []time.Duration
	var aliceToken string
	for range 3 {
		tok, took := signIn("alice")
		aliceToken = tok
		times = append(times, took)
	}
	slices.Sort(times)
	t.Logf("figure: Argo CD sign-in through gantry, click on Log in -> Argo CD's applications page: p50 %s (runs %v)",
		times[len(times)/2].Round(time.Millisecond), times)

	// alice (project-admin = role:admin) is herself in Argo CD and syncs.
	alice := argo.Client(aliceToken)
	info, err := alice.UserInfo(ctx)
	if err != nil || !info.LoggedIn || info.Iss != "https://"+g.httpAddr+"/oidc" {
		t.Fatalf("alice's Argo CD session: %+v %v", info, err)
	}
	if names := appNames(t, alice); !slices.Contains(names, "guestbook") {
		t.Errorf("alice lists %v, want guestbook", names)
	}
	if err := alice.Sync(ctx, "guestbook"); err != nil {
		t.Errorf("alice (project-admin) cannot sync: %v", err)
	}

	// bob (project-viewer = role:readonly) reads, and may not sync.
	bobToken, _ := signIn("bob")
	bob := argo.Client(bobToken)
	if names := appNames(t, bob); !slices.Contains(names, "guestbook") {
		t.Errorf("bob lists %v, want guestbook", names)
	}
	var apiErr *argocdtest.APIError
	if err := bob.Sync(ctx, "guestbook"); !errors.As(err, &apiErr) || apiErr.Status != http.StatusForbidden {
		t.Errorf("bob (project-viewer) syncing: %v, want 403 permission denied", err)
	}

	// carol, of another project, signs in and sees nothing of shop's.
	carolToken, _ := signIn("carol")
	carol := argo.Client(carolToken)
	if names := appNames(t, carol); len(names) > 0 {
		t.Errorf("carol (not in shop) lists applications %v", names)
	}
	if cl, err := carol.Clusters(ctx); err != nil || len(cl) > 0 {
		t.Errorf("carol (not in shop) lists clusters %+v (%v)", cl, err)
	}
	if err := carol.Sync(ctx, "guestbook"); !errors.As(err, &apiErr) || apiErr.Status != http.StatusForbidden {
		t.Errorf("carol syncing shop's application: %v, want 403", err)
	}

	step("roles checked")

	// Argo CD reports a connection once it watches the cluster for an app,
	// every 10 s (its cluster info updater): checked here, after the sign-ins.
	waitArgoCluster(t, admin, argoClusterName, "Argo CD's connection to the virtual cluster", func(c *argocdtest.Cluster) error {
		if c == nil || c.Info.ConnectionState.Status != "Successful" {
			return fmt.Errorf("connection state: %+v", c)
		}
		return nil
	})

	// --direct: Argo CD reaches the virtual cluster at its own endpoint.
	if out, err := run(t, "project", "argocd", "enable", "shop", "--direct", "--data-dir", dataDir); err != nil {
		t.Fatalf("project argocd enable --direct: %v\n%s", err, out)
	}
	waitArgoCluster(t, admin, argoClusterName, "the virtual cluster at its own endpoint", func(c *argocdtest.Cluster) error {
		if c == nil || c.Server == proxyServer || !strings.HasPrefix(c.Server, "https://") {
			return fmt.Errorf("want %s at its own endpoint, got %+v", argoClusterName, c)
		}
		return nil
	})
	took = deployArgoApp(t, admin, argoApp{name: "guestbook-direct", project: "shop", cluster: argoClusterName, repoURL: repo.URL, path: "guestbook", namespace: "direct"})
	t.Logf("figure: Argo CD Application -> Synced/Healthy with --direct: %s", took.Round(10*time.Millisecond))
	if _, err := vc.AppsV1().Deployments("direct").Get(ctx, "guestbook-ui", metav1.GetOptions{}); err != nil {
		t.Errorf("Argo CD's Deployment (--direct) is not in the virtual cluster: %v", err)
	}

	step("--direct deployed")

	// SSO off: Argo CD no longer sends anyone to gantry, and sign-in is refused.
	if out, err := run(t, "project", "argocd", "disable", "shop", "--sso", "--data-dir", dataDir); err != nil {
		t.Fatalf("disable --sso: %v\n%s", err, out)
	}
	noRedirect := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	eventually(t, 30*time.Second, "Argo CD's /auth/login no longer sends to gantry", func() error {
		resp, err := noRedirect.Get(argo.URL + "/auth/login?return_url=" + argo.URL + "/applications")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); strings.Contains(loc, g.httpAddr) {
			return fmt.Errorf("still redirects to %s", loc)
		}
		return nil
	})
	if _, _, err := browser.argoSignIn(argo.URL, g.httpAddr, "alice", "alice-secret-pw"); !errors.Is(err, errNotSentToGantry) {
		t.Errorf("alice signing in to Argo CD with SSO off: %v, want Argo CD not to send her to gantry", err)
	}
	// And the sessions signed in through gantry end, once argocd-server has
	// reloaded argocd-cm (it does so on its own watch, not at once).
	eventually(t, 30*time.Second, "alice's Argo CD session refused (401) with SSO off", func() error {
		if _, err := alice.Applications(ctx); !errors.As(err, &apiErr) || apiErr.Status != http.StatusUnauthorized {
			return fmt.Errorf("got %v, want 401", err)
		}
		return nil
	})
	step("SSO off")

	// The integration off: Argo CD's API no longer lists the cluster.
	if out, err := run(t, "project", "argocd", "disable", "shop", "--data-dir", dataDir); err != nil {
		t.Fatalf("disable: %v\n%s", err, out)
	}
	waitArgoCluster(t, admin, argoClusterName, "the virtual cluster gone from Argo CD", func(c *argocdtest.Cluster) error {
		if c != nil {
			return fmt.Errorf("still listed: %+v", c)
		}
		return nil
	})
	step("integration off")
}

// waitArgoCluster waits until Argo CD's /api/v1/clusters shows the cluster
// named name (nil when not listed) as ok wants it.
func waitArgoCluster(t *testing.T, c *argocdtest.Client, name, what string, ok func(*argocdtest.Cluster) error) {
	t.Helper()
	eventually(t, time.Minute, what, func() error {
		list, err := c.Clusters(context.Background())
		if err != nil {
			return err
		}
		for i := range list {
			if list[i].Name == name {
				return ok(&list[i])
			}
		}
		return ok(nil)
	})
}

// argoApp is an Argo CD Application of AppProject project that syncs
// directory path of the repository at repoURL into namespace of the cluster
// Argo CD knows as cluster (creating the namespace).
type argoApp struct {
	name, project, cluster, repoURL, path, namespace string
}

// deployArgoApp creates app in Argo CD, with automated sync, and returns how
// long it took to be Synced and Healthy.
func deployArgoApp(t *testing.T, c *argocdtest.Client, app argoApp) time.Duration {
	t.Helper()
	ctx := context.Background()
	start := time.Now()
	_, err := c.CreateApplication(ctx, map[string]any{
		"metadata": map[string]any{"name": app.name},
		"spec": map[string]any{
			"project":     app.project,
			"source":      map[string]any{"repoURL": app.repoURL, "path": app.path, "targetRevision": "main"},
			"destination": map[string]any{"name": app.cluster, "namespace": app.namespace},
			"syncPolicy":  map[string]any{"automated": map[string]any{}, "syncOptions": []string{"CreateNamespace=true"}},
		},
	})
	if err != nil {
		t.Fatalf("creating Argo CD Application %s: %v", app.name, err)
	}
	var got argocdtest.Application
	deadline := time.Now().Add(2 * time.Minute)
	for {
		got, err = c.Application(ctx, app.name)
		if err == nil && got.Status.Sync.Status == "Synced" && got.Status.Health.Status == "Healthy" {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			t.Fatalf("Argo CD Application %s not Synced/Healthy after 2m: %v %+v", app.name, err, got.Status)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func appNames(t *testing.T, c *argocdtest.Client) []string {
	t.Helper()
	apps, err := c.Applications(context.Background())
	if err != nil {
		t.Fatalf("listing Argo CD applications: %v", err)
	}
	var names []string
	for _, a := range apps {
		names = append(names, a.Metadata.Name)
	}
	return names
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
