package webhook

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// SecretKeys are the data keys of the webhook Secret, Argo CD's in argocd-secret.
var SecretKeys = []string{"webhook.github.secret", "webhook.gitlab.secret", "webhook.gogs.secret"}

// ReadSecret returns the secrets kept in the Secret key (gantry-system/
// gantry-webhook), which gantry creates with random secrets when it starts.
// Any failure to read it is an error, NotFound included: the Secret missing
// means someone deleted it after gantry started, not that webhooks should go
// unsigned. A key left empty in the Secret still accepts unsigned webhooks from
// that provider, as in Argo CD: that is a choice an admin wrote down.
func ReadSecret(ctx context.Context, c client.Reader, key types.NamespacedName) (Secrets, error) {
	s := &corev1.Secret{}
	err := c.Get(ctx, key, s)
	switch {
	case apierrors.IsNotFound(err):
		return Secrets{}, fmt.Errorf("the Secret %s does not exist: restart gantry to create it with new random secrets, "+
			"or create it with the keys %v holding the secrets set in your Git host's webhook settings", key, SecretKeys)
	case err != nil:
		return Secrets{}, fmt.Errorf("the Secret %s cannot be read: %w; check that gantry may get Secrets in namespace %s", key, err, key.Namespace)
	}
	return SecretsFromArgoCD(s.Data), nil
}

// EnsureSecret creates the Secret key with a random secret under each of
// SecretKeys unless it exists: webhooks are verified by default, and a user
// copies a secret into the Git host's webhook settings (or replaces it with
// their own, which is kept).
func EnsureSecret(ctx context.Context, c client.Client, key types.NamespacedName) error {
	data := map[string][]byte{}
	for _, k := range SecretKeys {
		b := make([]byte, 24)
		if _, err := rand.Read(b); err != nil {
			return err
		}
		data[k] = []byte(hex.EncodeToString(b))
	}
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace}, Data: data}
	if err := c.Create(ctx, s); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating the webhook Secret %s: %w", key, err)
	}
	return nil
}
