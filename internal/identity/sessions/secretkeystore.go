package sessions

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// SecretKeysDataKey is the Secret data key holding the signing keys.
const SecretKeysDataKey = "keys.json"

// SecretKeyStore keeps the signing keys in one Secret, as a JSON list of
// {kid, created, privateKey (PEM)} under SecretKeysDataKey. One Secret, one
// write: a rotation is never half-saved. Other data keys are left alone.
// Updates carry the resourceVersion read, so a concurrent writer makes Save
// fail with a conflict instead of being overwritten.
type SecretKeyStore struct {
	Client    client.Client
	Namespace string
	Name      string
}

var _ KeyStore = SecretKeyStore{}

type secretKey struct {
	ID         string    `json:"kid"`
	Created    time.Time `json:"created"`
	PrivateKey string    `json:"privateKey"`
}

// Load reads the keys; a missing Secret means no keys yet.
func (s SecretKeyStore) Load(ctx context.Context) ([]StoredKey, error) {
	var secret corev1.Secret
	err := s.Client.Get(ctx, client.ObjectKey{Namespace: s.Namespace, Name: s.Name}, &secret)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading Secret %s/%s: %w", s.Namespace, s.Name, err)
	}
	raw, ok := secret.Data[SecretKeysDataKey]
	if !ok {
		return nil, nil
	}
	var list []secretKey
	if err := json.Unmarshal(raw, &list); err != nil {
		// The JSON error may quote key material: do not wrap it.
		return nil, fmt.Errorf("reading signing keys from Secret %s/%s: %q is not a JSON list of keys: delete the Secret to make new keys (everyone will have to log in again)",
			s.Namespace, s.Name, SecretKeysDataKey)
	}
	keys := make([]StoredKey, len(list))
	for i, k := range list {
		keys[i] = StoredKey{ID: k.ID, Created: k.Created, PrivateKeyPEM: []byte(k.PrivateKey)}
	}
	return keys, nil
}

// Save writes keys to the Secret, creating it if needed.
func (s SecretKeyStore) Save(ctx context.Context, keys []StoredKey) error {
	list := make([]secretKey, len(keys))
	for i, k := range keys {
		list[i] = secretKey{ID: k.ID, Created: k.Created.UTC(), PrivateKey: string(k.PrivateKeyPEM)}
	}
	raw, err := json.Marshal(list)
	if err != nil {
		return fmt.Errorf("encoding signing keys: %w", err)
	}

	var secret corev1.Secret
	err = s.Client.Get(ctx, client.ObjectKey{Namespace: s.Namespace, Name: s.Name}, &secret)
	switch {
	case apierrors.IsNotFound(err):
		secret = corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{
				Namespace: s.Namespace,
				Name:      s.Name,
				Labels: map[string]string{
					"app.kubernetes.io/managed-by": "gantry",
					"app.kubernetes.io/component":  "session-signing-keys",
				},
			},
			Type: corev1.SecretTypeOpaque,
			Data: map[string][]byte{SecretKeysDataKey: raw},
		}
		if err := s.Client.Create(ctx, &secret); err != nil {
			return fmt.Errorf("creating Secret %s/%s: %w", s.Namespace, s.Name, err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("reading Secret %s/%s: %w", s.Namespace, s.Name, err)
	}
	if secret.Data == nil {
		secret.Data = map[string][]byte{}
	}
	secret.Data[SecretKeysDataKey] = raw
	if err := s.Client.Update(ctx, &secret); err != nil {
		return fmt.Errorf("updating Secret %s/%s: %w", s.Namespace, s.Name, err)
	}
	return nil
}
