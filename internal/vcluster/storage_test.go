package vcluster

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
)

// spec.storage.secretName: until the Secret exists the cluster is Failed
// (StorageUnavailable, naming the Secret and its key, never a value); then
// the runtime gets the DSN from it. Both dsn and secretName are refused.
func TestStorageSecret(t *testing.T) {
	h := newHarness(t, platformv1alpha1.ProjectSpec{})
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

// A project's storage server: a cluster naming no storage gets its own
// database there (named for its namespace, name and uid); one with its own
// spec.storage keeps it; without the project's Secret the cluster is Failed,
// the message naming the Secret, never a value.
func TestProjectStorage(t *testing.T) {
	h := newHarness(t, platformv1alpha1.ProjectSpec{
		VirtualClusterStorage: &platformv1alpha1.ProjectStorage{SecretName: "pg"}})
	ctx := context.Background()

	key := h.create("dev", nil)
	vc := h.phase(key, platformv1alpha1.PhaseFailed)
	c := condition(t, vc, platformv1alpha1.ConditionDeployed, metav1.ConditionFalse, platformv1alpha1.ReasonStorageUnavailable)
	if !strings.Contains(c.Message, h.ns+"/pg") || !strings.Contains(c.Message, `"dsn"`) {
		t.Errorf("message %q does not name the project's Secret and its key", c.Message)
	}

	const server = "postgres://kine:s3cret@db.example:5432/postgres?sslmode=disable"
	if err := h.c.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: "pg"},
		Data: map[string][]byte{StorageSecretKey: []byte(server)}}); err != nil {
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
				t.Fatalf("%s did not start", key)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	db := ClusterDatabase(h.get(key))
	if want := "postgres://kine:s3cret@db.example:5432/" + db + "?sslmode=disable"; storageOf(key) != want {
		t.Errorf("dev started on %q, want %q", storageOf(key), want)
	}
	if !strings.HasPrefix(db, "gantry_"+strings.ReplaceAll(h.ns, "-", "_")+"_dev_") {
		t.Errorf("database %q is not named for the cluster", db)
	}
	if got := storageOf(own); got != "mysql://k:pw@tcp(m.example:3306)/mine" {
		t.Errorf("a cluster with its own storage started on %q", got)
	}

	// Deleting it tries to drop its database on db.example, which does not
	// resolve: the deletion waits. Without the Secret it goes, leaving the
	// database to the administrator.
	if err := h.c.Delete(ctx, h.get(key)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if got := h.get(key); got.Status.Phase != platformv1alpha1.PhaseDeleting {
		t.Errorf("with its database not dropped: phase %s, want Deleting", got.Status.Phase)
	}
	if err := h.c.Delete(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: "pg"}}); err != nil {
		t.Fatal(err)
	}
	h.gone(key)
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
