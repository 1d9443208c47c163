package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
)

// argoChild is one of argocd-example-apps' apps/templates: an Argo CD
// Application in namespace argocd, project default, its repository and
// cluster from the chart's values.
const argoChild = `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: %[1]s
  namespace: argocd
  finalizers:
  - resources-finalizer.argocd.argoproj.io
spec:
  destination:
    namespace: %[1]s
    server: {{ .Values.spec.destination.server }}
  project: default
  source:
    path: %[1]s
    repoURL: {{ .Values.spec.source.repoURL }}
    targetRevision: {{ .Values.spec.source.targetRevision }}
  syncPolicy:
    automated:
      prune: true
    syncOptions:
    - CreateNamespace=true
`

// testAppOfApps deploys a repository shaped like argocd-example-apps (apps: a
// Helm chart of Argo CD Applications, beside the apps' own directories) as
// its README says, `argocd app create apps --dest-namespace argocd
// --dest-server https://kubernetes.default.svc --repo ... --path apps`, with
// gantry's CLI: the Applications become the project's apps, owned by apps,
// deploy, leave with Git and go with apps.
func testAppOfApps(t *testing.T, g *gantry, dyn dynamic.Interface, host kubernetes.Interface, srv *gitServer) {
	ctx := context.Background()
	repo := srv.newRepo("argocd-example-apps")
	repo.commit("apps", map[string]*string{
		"apps/Chart.yaml":               str("apiVersion: v1\nappVersion: \"1.0\"\ndescription: Applications\nname: applications\nversion: 0.1.0\n"),
		"apps/values.yaml":              str(fmt.Sprintf("spec:\n  destination:\n    server: https://kubernetes.default.svc\n  source:\n    repoURL: %s\n    targetRevision: HEAD\n", repo.URL)),
		"apps/templates/guestbook.yaml": str(fmt.Sprintf(argoChild, "guestbook")),
		"apps/templates/settings.yaml":  str(fmt.Sprintf(argoChild, "settings")),
		"guestbook/deployment.yaml":     str(fmt.Sprintf(webDeployment, 2, "1.27")),
		"guestbook/service.yaml":        str(webService),
		"settings/configmap.yaml":       str(webConfig),
	})
	start := time.Now()
	if out, err := run(t, "app", "create", "apps", "--data-dir", g.dataDir, "--repo", repo.URL, "--path", "apps",
		"--dest-server", "https://kubernetes.default.svc", "--dest-namespace", "argocd", "--sync-policy", "automated", "--auto-prune"); err != nil {
		t.Fatalf("app create apps: %v\n%s", err, out)
	}
	waitApp(t, dyn, "p-default", "apps", "Synced", "Healthy", 90*time.Second)
	for _, name := range []string{"guestbook", "settings"} {
		waitAppHealthy(t, dyn, "p-default", name, 90*time.Second)
	}
	t.Logf("app of apps and its two apps Synced and Healthy %.2fs after create", time.Since(start).Seconds())
	if d, err := host.AppsV1().Deployments("guestbook").Get(ctx, "web", metav1.GetOptions{}); err != nil || d.Status.AvailableReplicas != 2 {
		t.Fatalf("guestbook's Deployment: %v", err)
	}
	parent, err := dyn.Resource(appGVR).Namespace("p-default").Get(ctx, "apps", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	child, err := dyn.Resource(appGVR).Namespace("p-default").Get(ctx, "guestbook", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if owner := metav1.GetControllerOf(child); owner == nil || owner.UID != parent.GetUID() {
		t.Errorf("guestbook's controller %+v, want apps", owner)
	}
	if d := fmt.Sprint(parent.Object["spec"].(map[string]any)["destination"]); !strings.Contains(d, "namespace:p-default") {
		t.Errorf("apps' destination %s: argocd, Argo CD's namespace, is the project's", d)
	}
	out, err := run(t, "app", "get", "apps", "--data-dir", g.dataDir)
	if err != nil || !strings.Contains(out, "gitops.gantry.dev") || !strings.Contains(out, "guestbook") || !strings.Contains(out, "settings") {
		t.Errorf("app get apps does not list its apps: %v\n%s", err, out)
	}

	// Out of Git: the app and what it deployed go.
	sha := repo.commit("no settings", map[string]*string{"apps/templates/settings.yaml": nil})
	g.postWebhook(t, host, repo.URL, sha)
	waitGone(t, dyn, appGVR, "p-default", "settings", 60*time.Second)
	eventually(t, 30*time.Second, "settings' ConfigMap gone", func() error {
		if _, err := host.CoreV1().ConfigMaps("settings").Get(ctx, "web-config", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("still there: %v", err)
		}
		return nil
	})

	// Deleting apps (cascade) deletes guestbook, and guestbook its workload.
	if out, err := run(t, "app", "delete", "apps", "--data-dir", g.dataDir); err != nil {
		t.Fatalf("app delete apps: %v\n%s", err, out)
	}
	waitGone(t, dyn, appGVR, "p-default", "apps", 60*time.Second)
	waitGone(t, dyn, appGVR, "p-default", "guestbook", 60*time.Second)
	eventually(t, 30*time.Second, "guestbook's Deployment gone", func() error {
		if _, err := host.AppsV1().Deployments("guestbook").Get(ctx, "web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("still there: %v", err)
		}
		return nil
	})
}
