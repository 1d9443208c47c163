package vcluster

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/pgtest"
)

// spec.storage.secretName: until the Secret exists the cluster is Failed
// (StorageUnavailable, naming the Secret and its key, never a value); then
// the runtime gets the DSN from it. Both dsn and secretName are refused.
func TestStorageSecret(t *testing.T) {
	h := newHarness(t, platformv1alpha1.ProjectSpec{VirtualClusterOwnStorage: true})
	ctx := context.Background()
	both := &platformv1alpha1.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: "both"},
		Spec: platformv1alpha1.VirtualClusterSpec{Storage: &platformv1alpha1.StorageSpec{DSN: "postgres://a@b/c", SecretName: "db"}}}
	if err := h.c.Create(ctx, both); err == nil || !strings.Contains(err.Error(), "not both") {
		t.Errorf("dsn and secretName together: %v", err)
	}

	key := h.create("db", func(vc *platformv1alpha1.VirtualCluster) {
		vc.Spec.Storage = &platformv1alpha1.StorageSpec{SecretName: "kine-db"}
	})
	vc := h.phase(key, platformv1alpha1.PhaseFailed)
	c := condition(t, vc, platformv1alpha1.ConditionDeployed, metav1.ConditionFalse, platformv1alpha1.ReasonStorageUnavailable)
	if !strings.Contains(c.Message, "kine-db") || !strings.Contains(c.Message, `"dsn"`) {
		t.Errorf("message %q does not name the Secret and its key", c.Message)
	}

	const dsn = "postgres://kine:s3cret@db.example:5432/kine"
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: "kine-db"}, Data: map[string][]byte{StorageSecretKey: []byte(dsn)}}
	if err := h.c.Create(ctx, secret); err != nil {
		t.Fatal(err)
	}
	// A Secret is not watched for this: the retry comes after
	// RetryFailedAfter, or at the next change, as here.
	h.update(key, func(vc *platformv1alpha1.VirtualCluster) { vc.Spec.Labels = map[string]string{"retry": "1"} })
	deadline := time.Now().Add(30 * time.Second)
	for {
		started, _, _, _, _ := h.rt.seen(key)
		if len(started) > 0 {
			if started[0].Storage != dsn {
				t.Errorf("the runtime got storage %q", started[0].Storage)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the cluster did not start once its storage Secret existed")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := h.get(key); strings.Contains(fmt.Sprint(got.Status), "s3cret") {
		t.Errorf("the status carries the DSN's password")
	}
}

// setProject changes the harness's project as an administrator would.
func (h *harness) setProject(change func(*platformv1alpha1.ProjectSpec)) {
	h.t.Helper()
	p := &platformv1alpha1.Project{}
	if err := h.c.Get(context.Background(), client.ObjectKey{Name: h.project}, p); err != nil {
		h.t.Fatal(err)
	}
	patch := client.MergeFrom(p.DeepCopy())
	change(&p.Spec)
	if err := h.c.Patch(context.Background(), p, patch); err != nil {
		h.t.Fatal(err)
	}
}

// A VirtualCluster written past the API (kubectl, by anyone with write
// access on the project's namespace) that names its own datastore: in a
// project that does not allow it nothing connects anywhere. The cluster is
// Failed with StorageNotAllowed, naming the fix; allowing it starts the
// cluster, taking the allowance back stops it again. Storage cannot be
// slipped in after creation, nor a Secret named in another namespace.
func TestOwnStorageRefused(t *testing.T) {
	h := newHarness(t, platformv1alpha1.ProjectSpec{})
	ctx := context.Background()
	const dsn = "postgres://b:pw@127.0.0.1:6443/gantry_p_shop_dev_0f3c2a9e?sslmode=disable"
	key := h.create("steal", func(vc *platformv1alpha1.VirtualCluster) {
		vc.Spec.Storage = &platformv1alpha1.StorageSpec{DSN: dsn}
	})
	vc := h.phase(key, platformv1alpha1.PhaseFailed)
	c := condition(t, vc, platformv1alpha1.ConditionDeployed, metav1.ConditionFalse, platformv1alpha1.ReasonStorageNotAllowed)
	if !strings.Contains(c.Message, "gantry project allow "+h.project+" --vcluster-own-storage") {
		t.Errorf("message %q does not name the fix", c.Message)
	}
	if strings.Contains(fmt.Sprint(vc.Status), ":pw@") {
		t.Errorf("the status carries the DSN's password: %+v", vc.Status)
	}
	h.event(key, corev1.EventTypeWarning, platformv1alpha1.ReasonStorageNotAllowed)
	named := h.create("named", func(vc *platformv1alpha1.VirtualCluster) {
		vc.Spec.Storage = &platformv1alpha1.StorageSpec{SecretName: "pg"}
	})
	h.phase(named, platformv1alpha1.PhaseFailed)
	// A retry (any change) is refused again, without the runtime.
	h.update(key, func(vc *platformv1alpha1.VirtualCluster) { vc.Spec.Labels = map[string]string{"retry": "1"} })
	h.phase(key, platformv1alpha1.PhaseFailed)
	for _, k := range []types.NamespacedName{key, named} {
		if started, _, _, _, _ := h.rt.seen(k); len(started) != 0 {
			t.Fatalf("%s started on %+v in a project that does not allow its storage", k.Name, started)
		}
	}

	// Allowed by an administrator: it starts on its DSN.
	h.setProject(func(s *platformv1alpha1.ProjectSpec) { s.VirtualClusterOwnStorage = true })
	within(t, 20*time.Second, "steal to start once allowed", func() error {
		if started, _, _, _, _ := h.rt.seen(key); len(started) != 1 || started[0].Storage != dsn {
			return fmt.Errorf("started %+v", started)
		}
		return nil
	})
	h.rt.ready(t, key)
	h.phase(key, platformv1alpha1.PhaseRunning)
	// Taken back: the running control plane stops, its host workloads go.
	h.setProject(func(s *platformv1alpha1.ProjectSpec) { s.VirtualClusterOwnStorage = false })
	h.phase(key, platformv1alpha1.PhaseFailed)
	if _, stopped, removed, _, _ := h.rt.seen(key); stopped != 1 || removed {
		t.Errorf("after the allowance was taken back: %d stops, data removed %v; want 1 stop, data kept", stopped, removed)
	}
	if !slices.Contains(h.cleanups(), HostNamespace(h.ns, "steal")) {
		t.Errorf("host workloads not removed: cleanups %v", h.cleanups())
	}

	// Storage added to a cluster made without: refused by the API server
	// (its data would not move, and the check at creation would be skipped).
	plain := h.create("plain", nil)
	vc = h.get(plain)
	patch := client.MergeFrom(vc.DeepCopy())
	vc.Spec.Storage = &platformv1alpha1.StorageSpec{SecretName: "pg"}
	if err := h.c.Patch(ctx, vc, patch); err == nil || !strings.Contains(err.Error(), "immutable") {
		t.Errorf("secretName added after creation: %v", err)
	}
	// A Secret's name, never a path to another namespace's.
	for _, name := range []string{"../p-shop/pg", "p-shop/pg"} {
		bad := &platformv1alpha1.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: "bad"},
			Spec: platformv1alpha1.VirtualClusterSpec{Storage: &platformv1alpha1.StorageSpec{SecretName: name}}}
		if err := h.c.Create(ctx, bad); err == nil || !strings.Contains(err.Error(), "secretName") {
			t.Errorf("secretName %q: %v", name, err)
			_ = h.c.Delete(ctx, bad)
		}
	}
}

// pgConnect tries dsn's database and says what the server answered.
func pgConnect(dsn string) error {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return db.PingContext(ctx)
}

// A project's storage server, a real PostgreSQL: a cluster naming no storage
// gets its own database there (named for its namespace, name and uid), made
// by gantry and closed to PUBLIC, so another project's role on the same
// server cannot connect to it; without the project's Secret the cluster is
// Failed, the message naming the Secret, never a value. Deleting the cluster
// drops its database; while the server does not answer, the deletion waits.
func TestProjectStorage(t *testing.T) {
	super := pgtest.Start(t, "")
	server := pgtest.Role(t, super, "shop", "shop-pw")
	other := pgtest.Role(t, super, "other", "other-pw") // another project's, same server
	h := newHarness(t, platformv1alpha1.ProjectSpec{
		VirtualClusterStorage: &platformv1alpha1.ProjectStorage{SecretName: "pg"}, VirtualClusterOwnStorage: true})
	ctx := context.Background()

	key := h.create("dev", nil)
	vc := h.phase(key, platformv1alpha1.PhaseFailed)
	c := condition(t, vc, platformv1alpha1.ConditionDeployed, metav1.ConditionFalse, platformv1alpha1.ReasonStorageUnavailable)
	if !strings.Contains(c.Message, h.ns+"/pg") || !strings.Contains(c.Message, `"dsn"`) {
		t.Errorf("message %q does not name the project's Secret and its key", c.Message)
	}

	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: "pg"}, Data: map[string][]byte{StorageSecretKey: []byte(server)}}
	if err := h.c.Create(ctx, secret); err != nil {
		t.Fatal(err)
	}
	h.update(key, func(vc *platformv1alpha1.VirtualCluster) { vc.Spec.Labels = map[string]string{"retry": "1"} })
	own := h.create("own", func(vc *platformv1alpha1.VirtualCluster) {
		vc.Spec.Storage = &platformv1alpha1.StorageSpec{DSN: "mysql://k:pw@tcp(m.example:3306)/mine"}
	})
	storageOf := func(key types.NamespacedName) string {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			if started, _, _, _, _ := h.rt.seen(key); len(started) > 0 {
				return started[len(started)-1].Storage
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s did not start: %+v", key, h.get(key).Status.Conditions)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	db := ClusterDatabase(h.get(key))
	clusterDSN, _ := withDatabase(server, db)
	if got := storageOf(key); got != clusterDSN {
		t.Errorf("dev started on %q, want %q", got, clusterDSN)
	}
	if !strings.HasPrefix(db, "gantry_"+strings.ReplaceAll(h.ns, "-", "_")+"_dev_") {
		t.Errorf("database %q is not named for the cluster", db)
	}
	if got := storageOf(own); got != "mysql://k:pw@tcp(m.example:3306)/mine" {
		t.Errorf("a cluster with its own storage started on %q", got)
	}
	// gantry made it: the project's role connects; another's is refused
	// (PostgreSQL's default would let any role connect, and create objects
	// in it before PostgreSQL 15).
	if err := pgConnect(clusterDSN); err != nil {
		t.Errorf("the project's role cannot connect to its cluster's database: %v", err)
	}
	stolen, _ := withDatabase(other, db)
	if err := pgConnect(stolen); err == nil || !strings.Contains(err.Error(), "42501") {
		t.Errorf("another project's role connecting to %s: %v, want permission denied (42501)", db, err)
	}

	// The server stops answering (its Secret now names a closed port):
	// deleting dev waits to drop its database. Answering again, it drops it.
	closed := strings.Replace(server, hostOf(t, server), "127.0.0.1:1", 1)
	setSecret := func(dsn string) {
		t.Helper()
		s := &corev1.Secret{}
		if err := h.c.Get(ctx, client.ObjectKeyFromObject(secret), s); err != nil {
			t.Fatal(err)
		}
		s.Data = map[string][]byte{StorageSecretKey: []byte(dsn)}
		if err := h.c.Update(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	setSecret(closed)
	if err := h.c.Delete(ctx, h.get(key)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if got := h.get(key); got.Status.Phase != platformv1alpha1.PhaseDeleting {
		t.Errorf("with its database not dropped: phase %s, want Deleting", got.Status.Phase)
	}
	setSecret(server)
	h.gone(key)
	if err := pgConnect(clusterDSN); err == nil || !strings.Contains(err.Error(), "3D000") {
		t.Errorf("after deleting dev, connecting to %s: %v, want no such database (3D000)", db, err)
	}

	// Without the Secret a deletion does not wait: the database is left to
	// the administrator, named in an event.
	again := h.create("again", nil)
	storageOf(again)
	if err := h.c.Delete(ctx, secret); err != nil {
		t.Fatal(err)
	}
	if err := h.c.Delete(ctx, h.get(again)); err != nil {
		t.Fatal(err)
	}
	h.gone(again)
}

// createDatabase on a real PostgreSQL, as the project's role: the database
// is the role's, closed to other roles; made again it is left as it is; one
// kine made before gantry closed them (open to PUBLIC) is closed at the next
// start; dropDatabase drops it.
func TestCreateDatabaseClosedToOthers(t *testing.T) {
	super := pgtest.Start(t, "")
	shop := pgtest.Role(t, super, "shop", "shop-pw")
	other := pgtest.Role(t, super, "other", "other-pw")
	ctx := context.Background()
	on := func(dsn, db string) string { s, _ := withDatabase(dsn, db); return s }

	const db = "gantry_p_shop_dev_0f3c2a9e"
	for range 2 {
		if err := createDatabase(ctx, shop, db); err != nil {
			t.Fatal(err)
		}
	}
	if err := pgConnect(on(shop, db)); err != nil {
		t.Errorf("the project's role: %v", err)
	}
	if err := pgConnect(on(other, db)); err == nil || !strings.Contains(err.Error(), "42501") {
		t.Errorf("another role: %v, want permission denied (42501)", err)
	}

	const old = "gantry_p_shop_old_12345678"
	pgtest.Exec(t, super, `CREATE DATABASE `+old+` OWNER shop`) // as kine made them, PUBLIC's grants and all
	if err := pgConnect(on(other, old)); err != nil {
		t.Fatalf("PostgreSQL's default let another role in: %v", err)
	}
	if err := createDatabase(ctx, shop, old); err != nil {
		t.Fatal(err)
	}
	if err := pgConnect(on(other, old)); err == nil || !strings.Contains(err.Error(), "42501") {
		t.Errorf("another role, after the next start: %v, want permission denied (42501)", err)
	}

	// Another project's role drops nothing of this one's.
	if err := dropDatabase(ctx, other, db); err == nil || !strings.Contains(err.Error(), "42501") {
		t.Errorf("another role dropping %s: %v, want must be owner (42501)", db, err)
	}
	for range 2 {
		if err := dropDatabase(ctx, shop, db); err != nil {
			t.Fatal(err)
		}
	}
	if err := pgConnect(on(shop, db)); err == nil || !strings.Contains(err.Error(), "3D000") {
		t.Errorf("after the drop: %v, want no such database (3D000)", err)
	}
}

func hostOf(t *testing.T, dsn string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// The names gantry creates and drops are its own: nothing a namespace or a
// name holds reaches SQL, and a name that is not gantry's is never sent.
func TestDatabaseNamesAreGantrys(t *testing.T) {
	for _, c := range []struct{ ns, name string }{
		{"p-shop", `dev"; DROP DATABASE postgres; --`},
		{"p-shop`x", "dev`; DROP DATABASE mysql; --"},
		{"P-SHOP", "Dev"},
	} {
		vc := &platformv1alpha1.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Namespace: c.ns, Name: c.name, UID: "0f3c2a9e-1111"}}
		if db := ClusterDatabase(vc); !regexp.MustCompile(`^gantry_[a-z0-9_]{1,56}$`).MatchString(db) {
			t.Errorf("ClusterDatabase(%q, %q) = %q", c.ns, c.name, db)
		}
	}
	// Refused before any connection: the server's address does not resolve.
	const server = "postgres://u:p@db.invalid:5432/postgres"
	for _, db := range []string{`gantry_x" WITH (FORCE); DROP DATABASE "shop`, "postgres", "gantry_", "gantry_p_shop_dev_0f3c2a9e;"} {
		for name, op := range map[string]func(context.Context, string, string) error{"create": createDatabase, "drop": dropDatabase} {
			if err := op(context.Background(), server, db); err == nil || !strings.Contains(err.Error(), "is not gantry's") {
				t.Errorf("%s %q: %v", name, db, err)
			}
		}
	}
}

func TestClusterDatabase(t *testing.T) {
	long := strings.Repeat("a", 63)
	for _, c := range []struct {
		ns, name, uid, want string
	}{
		{"p-shop", "dev", "0f3c2a9e-1111-2222-3333-444455556666", "gantry_p_shop_dev_0f3c2a9e"},
		{"p-" + long, long, "ABCDEF12-0000", "gantry_p_" + long[:45] + "_abcdef12"},
	} {
		vc := &platformv1alpha1.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Namespace: c.ns, Name: c.name, UID: types.UID(c.uid)}}
		got := ClusterDatabase(vc)
		if got != c.want || len(got) > 63 {
			t.Errorf("ClusterDatabase(%s/%s) = %q (%d), want %q", c.ns, c.name, got, len(got), c.want)
		}
	}
	for _, c := range []struct{ dsn, want string }{
		{"postgres://u:p@h:5432/postgres?sslmode=disable", "postgres://u:p@h:5432/gantry_x?sslmode=disable"},
		{"postgresql://u:p@h", "postgresql://u:p@h/gantry_x"},
		{"mysql://u:p@tcp(h:3306)/mysql?tls=true", "mysql://u:p@tcp(h:3306)/gantry_x?tls=true"},
		{"mysql://u:p@tcp(h:3306)", "mysql://u:p@tcp(h:3306)/gantry_x"},
		{"mysql://u:p/w@tcp(h:3306)/", "mysql://u:p/w@tcp(h:3306)/gantry_x"},
	} {
		if got, err := withDatabase(c.dsn, "gantry_x"); err != nil || got != c.want {
			t.Errorf("withDatabase(%q) = %q, %v; want %q", c.dsn, got, err, c.want)
		}
	}
}
