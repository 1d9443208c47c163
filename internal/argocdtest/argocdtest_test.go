package argocdtest

import (
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"gantry.dev/gantry/internal/kubetest"
)

func TestMain(m *testing.M) { os.Exit(kubetest.Main(m)) }

// A real Argo CD on a real API server: its admin signs in (and a wrong
// password is refused), it lists the cluster it runs in, an Application from
// a file:// repository deploys there, and a restarted server still knows the
// session.
func TestArgoCD(t *testing.T) {
	env := kubetest.Shared(t, kubetest.Options{})
	ns := env.Namespace(t)
	a := Start(t, Options{Kubeconfig: env.CP.KubeconfigPath()})
	ctx := context.Background()

	var apiErr *APIError
	if _, err := a.Client("").Login(ctx, "admin", "not-the-password"); !errors.As(err, &apiErr) || apiErr.Status != http.StatusUnauthorized {
		t.Errorf("a wrong admin password: %v, want 401", err)
	}
	admin := a.Client(a.AdminToken(t))
	clusters, err := admin.Clusters(ctx)
	if err != nil || len(clusters) != 1 || clusters[0].Server != "https://kubernetes.default.svc" {
		t.Fatalf("Argo CD's clusters: %+v %v, want only in-cluster", clusters, err)
	}

	repo := t.TempDir()
	manifest := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hello\ndata:\n  greeting: hello\n"
	if err := os.WriteFile(filepath.Join(repo, "hello.yaml"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "."}, {"commit", "-q", "-m", "hello"}} {
		cmd := exec.Command("git", args...)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t",
			"GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_NOSYSTEM=1", "HOME="+repo)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	_, err = admin.CreateApplication(ctx, map[string]any{
		"metadata": map[string]any{"name": "hello"},
		"spec": map[string]any{
			"project":     "default",
			"source":      map[string]any{"repoURL": "file://" + repo, "path": ".", "targetRevision": "main"},
			"destination": map[string]any{"server": "https://kubernetes.default.svc", "namespace": ns},
			"syncPolicy":  map[string]any{"automated": map[string]any{}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	var app Application
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		app, err = admin.Application(ctx, "hello")
		if err == nil && app.Status.Sync.Status == "Synced" && app.Status.Health.Status == "Healthy" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Application hello not Synced/Healthy: %v %+v", err, app.Status)
		}
	}
	if _, err := env.Kube.CoreV1().ConfigMaps(ns).Get(ctx, "hello", metav1.GetOptions{}); err != nil {
		t.Errorf("the Application's ConfigMap: %v", err)
	}

	a.Restart(t, Server)
	if info, err := admin.UserInfo(ctx); err != nil || !info.LoggedIn || info.Username != "admin" {
		t.Errorf("after a restart, the admin's session: %+v %v", info, err)
	}

	// A crashed server comes back, as its Deployment's pod would.
	cmd, exited := a.procs[Server].running()
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-exited
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		info, err := admin.UserInfo(ctx)
		if err == nil && info.LoggedIn && info.Username == "admin" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("argocd-server not back after kill -9: %+v %v", info, err)
		}
	}
	if now, _ := a.procs[Server].running(); now == cmd {
		t.Error("the server answers, but from the killed process?")
	}
}
