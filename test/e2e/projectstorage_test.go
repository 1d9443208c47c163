package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"gantry.dev/gantry/internal/pgtest"
)

// TestProjectStorage: a project whose administrator points its virtual
// clusters at a PostgreSQL server (Debian's, this test's own process) gives
// each cluster a database of its own there; the setting cannot change under
// existing clusters; deleting a cluster drops its database, and a cluster
// made again under the same name starts empty.
//
// Then the attacker: mallory, a member of project bee on the same server
// (with a role of its own, whose credential she can read from her project's
// Secret through her apps), goes for shop's cluster database. She connects
// to it with bee's credential; she asks the API for a cluster whose DSN
// names it; a VirtualCluster written past the API names a service on
// gantry's loopback. All refused, and gantry never dials the service.
func TestProjectStorage(t *testing.T) {
	parallel(t)
	dataDir := t.TempDir()
	g := startGantry(t, dataDir, "--nodes", "1")
	super := startPostgres(t, freeAddr(t))
	// One role per project, as docs/security.md tells administrators.
	dsn := pgtest.Role(t, super, "shop", "shop-pw")
	beeDSN := pgtest.Role(t, super, "bee", "bee-pw")
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

	db, err := sql.Open("pgx", super)
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

	mallorysAttacks(t, g, first[0], beeDSN)

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

// mallorysAttacks: mallory, a member of project bee, goes for shop's cluster
// database shopDB with bee's own server credential beeDSN.
func mallorysAttacks(t *testing.T, g *gantry, shopDB, beeDSN string) {
	ctx := context.Background()
	admin := adminTokenOf(t, g)
	for _, call := range []struct{ path, body string }{
		{"/api/v1/users", `{"name":"mallory","password":"mallory-secret-pw"}`},
		{"/api/v1/projects", `{"name":"bee","members":[{"kind":"User","name":"mallory","role":"project-member"}]}`},
	} {
		if code, resp := g.apiCall(t, "POST", call.path, admin, call.body); code/100 != 2 {
			t.Fatalf("POST %s: %d %v", call.path, code, resp)
		}
	}
	mallory := g.login(t, "mallory", "mallory-secret-pw")

	// Straight to the server with bee's credential: shop's database is
	// closed to every role but shop's.
	stolen := strings.Replace(beeDSN, "/postgres?", "/"+shopDB+"?", 1)
	conn, err := sql.Open("pgx", stolen)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.PingContext(ctx); err == nil || !strings.Contains(err.Error(), "42501") {
		t.Errorf("bee's role connecting to shop's database %s: %v, want permission denied (42501)", shopDB, err)
	}

	// Through the API: a cluster of bee's on shop's database.
	var code int
	var resp map[string]any
	eventually(t, 30*time.Second, "project bee ready for clusters", func() error {
		code, resp = g.apiCall(t, "POST", "/api/v1/virtualclusters/bee", mallory, fmt.Sprintf(`{"name":"steal","storage":{"dsn":%q}}`, stolen))
		if code == http.StatusServiceUnavailable || code == http.StatusNotFound { // gantry's cache has not seen bee yet
			return fmt.Errorf("%d %v", code, resp)
		}
		return nil
	})
	if msg := fmt.Sprint(resp["message"]); code != http.StatusForbidden || !strings.Contains(msg, "gantry project allow bee --vcluster-own-storage") {
		t.Errorf("mallory's cluster on shop's database: %d %q, want 403 naming the fix", code, msg)
	}
	if msg := fmt.Sprint(resp); strings.Contains(msg, "bee-pw") {
		t.Errorf("the refusal echoes the DSN: %s", msg)
	}

	// Past the API (an object written with write access to p-bee): a DSN
	// naming a service on gantry's loopback. The reconciler refuses it
	// before anything dials.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var dialed atomic.Int32
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			dialed.Add(1)
			c.Close()
		}
	}()
	dyn := dynamic.NewForConfigOrDie(g.restConfig(t))
	gvr := schema.GroupVersionResource{Group: "platform.gantry.dev", Version: "v1alpha1", Resource: "virtualclusters"}
	probe := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "platform.gantry.dev/v1alpha1", "kind": "VirtualCluster",
		"metadata": map[string]any{"name": "probe", "namespace": "p-bee"},
		"spec":     map[string]any{"storage": map[string]any{"dsn": "postgres://x:probe-pw@" + l.Addr().String() + "/x?sslmode=disable"}},
	}}
	eventually(t, 30*time.Second, "probe written into p-bee", func() error {
		_, err := dyn.Resource(gvr).Namespace("p-bee").Create(ctx, probe, metav1.CreateOptions{})
		return err
	})
	eventually(t, 30*time.Second, "probe refused", func() error {
		vc, err := dyn.Resource(gvr).Namespace("p-bee").Get(ctx, "probe", metav1.GetOptions{})
		if err != nil {
			return err
		}
		phase, _, _ := unstructured.NestedString(vc.Object, "status", "phase")
		conds, _, _ := unstructured.NestedSlice(vc.Object, "status", "conditions")
		for _, c := range conds {
			m, _ := c.(map[string]any)
			if m["type"] == "Deployed" && m["reason"] == "StorageNotAllowed" && phase == "Failed" {
				if strings.Contains(fmt.Sprint(vc.Object["status"]), "probe-pw") {
					t.Errorf("the status carries the DSN's password: %v", vc.Object["status"])
				}
				return nil
			}
		}
		return fmt.Errorf("phase %q, conditions %v", phase, conds)
	})
	if n := dialed.Load(); n != 0 {
		t.Errorf("gantry dialed the loopback service %d time(s) for a cluster its project does not allow storage for", n)
	}
	if err := dyn.Resource(gvr).Namespace("p-bee").Delete(ctx, "probe", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
}
