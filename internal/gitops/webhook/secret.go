package webhook

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
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
