package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestClusters: `gantry cluster add` with the embedded host's own kubeconfig
// as the target, as a user adds a cluster with argocd cluster add: the
// ServiceAccount is made there, the cluster is listed with its connection
// state, a virtual cluster's entry cannot be removed but through the virtual
// cluster, a project's cluster goes with its project, and rm
// --remove-manager takes the ServiceAccount back.
func TestClusters(t *testing.T) {
	parallel(t)
	dataDir := t.TempDir()
	g := startGantry(t, dataDir, "--nodes", "1")
	g.waitReady(2 * time.Minute)
	host := g.client()
	ctx := context.Background()
	kc := filepath.Join(dataDir, "kubeconfig")
	server := strings.TrimRight(g.restConfig(t).Host, "/")
	gantry := func(args ...string) (string, error) { return run(t, append(args, "--data-dir", dataDir)...) }
	mustRun := func(args ...string) string {
		t.Helper()
		out, err := gantry(args...)
		if err != nil {
			t.Fatalf("gantry %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	managerExists := func() bool {
		_, err := host.CoreV1().ServiceAccounts("kube-system").Get(ctx, "gantry-manager", metav1.GetOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
		return err == nil
	}
	row := func(list, name string) string {
		for _, line := range strings.Split(list, "\n") {
			if f := strings.Fields(line); len(f) > 0 && f[0] == name {
				return line
			}
		}
		return ""
	}

	out := mustRun("cluster", "add", "gantry", "--name", "direct", "--kubeconfig", kc, "--yes")
	if !strings.Contains(out, "cluster direct ("+server+") added: Successful") || !managerExists() {
		t.Fatalf("add:\n%s", out)
	}
	token, err := host.CoreV1().Secrets("kube-system").Get(ctx, "gantry-manager-token", metav1.GetOptions{})
	if err != nil || len(token.Data[corev1.ServiceAccountTokenKey]) == 0 {
		t.Fatalf("the manager's token: %v", err)
	}
	createVCluster(t, dataDir, "dev")
	eventually(t, 30*time.Second, "the list shows the host, the added cluster and the virtual cluster, all reachable", func() error {
		list, err := gantry("cluster", "list")
		if err != nil {
			return err
		}
		for _, name := range []string{"in-cluster", "direct", "p-default/dev"} {
			if !strings.Contains(row(list, name), "Successful") {
				return fmt.Errorf("%s not Successful:\n%s", name, list)
			}
		}
		return nil
	})
	get := mustRun("cluster", "get", "direct", "-o", "yaml")
	if !strings.Contains(get, "server: "+server) || strings.Contains(get, string(token.Data[corev1.ServiceAccountTokenKey])) {
		t.Errorf("get -o yaml:\n%s", get)
	}
	if out, err := gantry("cluster", "rm", "p-default/dev"); err == nil || !strings.Contains(out, "delete the virtual cluster instead") {
		t.Errorf("removing a virtual cluster's entry: %v\n%s", err, out)
	}
	if out, err := gantry("cluster", "add", "gantry", "--name", "a/b", "--kubeconfig", kc, "--yes"); err == nil || !strings.Contains(out, "contains '/'") {
		t.Errorf("a name with a slash: %v\n%s", err, out)
	}

	// The same cluster again for a project: it goes with the project.
	mustRun("cluster", "rm", "direct")
	mustRun("project", "create", "team-a")
	out = mustRun("cluster", "add", "gantry", "--name", "team-a-host", "--project", "team-a", "--kubeconfig", kc, "--yes")
	if !strings.Contains(out, "for project team-a") {
		t.Errorf("add --project:\n%s", out)
	}
	if r := row(mustRun("cluster", "list"), "team-a-host"); !strings.Contains(r, "team-a") {
		t.Errorf("the project's cluster in the list: %q", r)
	}
	mustRun("project", "delete", "team-a")
	eventually(t, time.Minute, "the project's cluster gone with the project", func() error {
		list, err := gantry("cluster", "list")
		if err != nil {
			return err
		}
		if row(list, "team-a-host") != "" {
			return fmt.Errorf("still listed:\n%s", list)
		}
		return nil
	})
	// The manager stays until asked: the project only owned gantry's record.
	if !managerExists() {
		t.Fatal("the ServiceAccount went with the project's cluster record")
	}
	mustRun("cluster", "add", "gantry", "--name", "direct", "--kubeconfig", kc, "--yes")
	out = mustRun("cluster", "rm", "direct", "--remove-manager", "--kubeconfig", kc)
	if !strings.Contains(out, "removed from context gantry") || managerExists() {
		t.Errorf("rm --remove-manager:\n%s", out)
	}
}
