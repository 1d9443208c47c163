package vcluster

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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
