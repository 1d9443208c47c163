package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestProjects: a project owns its namespace, counts what it holds against its
// quotas, records members, and deleting it removes its virtual clusters — their
// processes and host objects too.
func TestProjects(t *testing.T) {
	parallel(t)
	dataDir := t.TempDir()
	g := startGantry(t, dataDir, "--nodes", "1")
	g.waitReady(2 * time.Minute)
	host := g.client()
	ctx := context.Background()

	out, err := run(t, "project", "list", "--data-dir", dataDir)
	if err != nil || !strings.Contains(out, "default") {
		t.Fatalf("the default project should exist from the start: %v\n%s", err, out)
	}
	if out, err := run(t, "project", "create", "Bad.Name", "--data-dir", dataDir); err == nil {
		t.Errorf("an invalid project name was accepted:\n%s", out)
	}
	if out, err := run(t, "project", "create", "team-a", "--display-name", "Team A", "--max-vclusters", "1", "--data-dir", dataDir); err != nil {
		t.Fatalf("project create: %v\n%s", err, out)
	}
	eventually(t, 20*time.Second, "namespace p-team-a owned by project team-a", func() error {
		ns, err := host.CoreV1().Namespaces().Get(ctx, "p-team-a", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if owner := metav1.GetControllerOf(ns); owner == nil || owner.Kind != "Project" || owner.Name != "team-a" {
			return fmt.Errorf("owner %v", owner)
		}
		return nil
	})
	if out, err := runStdin(t, "alice-secret-pw\n", "user", "create", "alice", "--password-stdin", "--data-dir", dataDir); err != nil {
		t.Fatalf("user create: %v\n%s", err, out)
	}
	if out, err := run(t, "project", "add-member", "team-a", "--user", "alice", "--role", "project-viewer", "--data-dir", dataDir); err != nil {
		t.Fatalf("add-member: %v\n%s", err, out)
	}
	if out, err := run(t, "project", "add-member", "team-a", "--user", "bob", "--role", "owner", "--data-dir", dataDir); err == nil {
		t.Errorf("an unknown role was accepted:\n%s", out)
	}
	createVCluster(t, dataDir, "dev", "--project", "team-a")
	// The quota of one: a second virtual cluster is refused with the reason, and
	// nothing of it runs. gantry refuses it at once, or, when the project's
	// usage has not counted the first yet, the reconciler fails it.
	out, err = run(t, "vcluster", "create", "dev2", "--project", "team-a", "--data-dir", dataDir)
	if err == nil || !strings.Contains(out, "allows 1 virtual clusters") && !strings.Contains(out, "quota of 1 virtualClusters") {
		t.Errorf("a virtual cluster over the project's quota: %v\n%s", err, out)
	}
	assertNoProcesses(t, filepath.Join(dataDir, "vclusters", "p-team-a", "dev2"))
	if out, err := run(t, "vcluster", "delete", "dev2", "--project", "team-a", "--data-dir", dataDir); err != nil && !strings.Contains(out, "not found") {
		t.Errorf("deleting the refused virtual cluster: %v\n%s", err, out)
	}
	eventually(t, 20*time.Second, "project list shows the member and 1/1 virtual clusters", func() error {
		out, err := run(t, "project", "list", "--data-dir", dataDir)
		if err != nil {
			return err
		}
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(line, "team-a ") && strings.Contains(line, "user:alice=project-viewer") && strings.Contains(line, "1/1") {
				return nil
			}
		}
		return fmt.Errorf("%s", out)
	})

	if out, err := run(t, "project", "delete", "team-a", "--data-dir", dataDir); err != nil {
		t.Fatalf("project delete: %v\n%s", err, out)
	}
	eventually(t, 60*time.Second, "project namespace and the virtual cluster's host namespace gone", func() error {
		for _, ns := range []string{"p-team-a", "vc-p-team-a-dev"} {
			if _, err := host.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				return fmt.Errorf("namespace %s still there: %v", ns, err)
			}
		}
		return nil
	})
	assertNoProcesses(t, filepath.Join(dataDir, "vclusters", "p-team-a"))
}
