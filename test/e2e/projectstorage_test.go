package e2e

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestProjectStorage: a project whose administrator points its virtual
// clusters at a PostgreSQL server (Debian's, this test's own process) gives
// each cluster a database of its own there; the setting cannot change under
// existing clusters; deleting a cluster drops its database, and a cluster
// made again under the same name starts empty.
func TestProjectStorage(t *testing.T) {
	parallel(t)
	dataDir := t.TempDir()
	g := startGantry(t, dataDir, "--nodes", "1")
	dsn := startPostgres(t, freeAddr(t))
	g.waitReady(2 * time.Minute)
	ctx := context.Background()

	if out, err := run(t, "project", "create", "shop", "--data-dir", dataDir); err != nil {
		t.Fatalf("project create: %v\n%s", err, out)
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "p-shop", Name: "pg"}, StringData: map[string]string{"dsn": dsn}}
	if _, err := g.client().CoreV1().Secrets("p-shop").Create(ctx, secret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, "project", "allow", "shop", "--vcluster-storage-secret", "pg", "--data-dir", dataDir)
	if err != nil || !strings.Contains(out, "a database each on the server of Secret p-shop/pg") {
		t.Fatalf("project allow --vcluster-storage-secret: %v\n%s", err, out)
	}

	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	databases := func() []string {
		t.Helper()
		rows, err := db.QueryContext(ctx, "SELECT datname FROM pg_database WHERE datname LIKE 'gantry_p_shop_%' ORDER BY datname")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var names []string
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				t.Fatal(err)
			}
			names = append(names, n)
		}
		return names
	}

	createVCluster(t, dataDir, "dev", "--project", "shop")
	dev := vclusterClient(t, dataDir, "dev", "--project", "shop")
	if _, err := dev.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kept-in-postgres"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	first := databases()
	if len(first) != 1 || !strings.HasPrefix(first[0], "gantry_p_shop_dev_") {
		t.Fatalf("databases on the project's server: %v, want one for dev", first)
	}

	// The setting is fixed while clusters exist: their data would not move.
	out, err = run(t, "project", "revoke", "shop", "--vcluster-storage", "--data-dir", dataDir)
	if err == nil || !strings.Contains(out, "has 1 virtual cluster(s)") {
		t.Errorf("changing the storage under a cluster: %v\n%s", err, out)
	}

	if out, err := run(t, "vcluster", "delete", "dev", "--project", "shop", "--data-dir", dataDir); err != nil {
		t.Fatalf("vcluster delete: %v\n%s", err, out)
	}
	if left := databases(); len(left) != 0 {
		t.Errorf("after deleting dev, databases left: %v", left)
	}

	createVCluster(t, dataDir, "dev", "--project", "shop")
	again := vclusterClient(t, dataDir, "dev", "--project", "shop")
	if _, err := again.CoreV1().Namespaces().Get(ctx, "kept-in-postgres", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("a new dev sees the deleted dev's namespace: %v", err)
	}
	if now := databases(); len(now) != 1 || now[0] == first[0] {
		t.Errorf("databases for the new dev: %v (the old was %s)", now, first[0])
	}
}
