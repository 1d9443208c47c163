package accesskeys

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Labels on access key Secrets.
const (
	LabelAccessKey = "platform.gantry.dev/accesskey"
	LabelOwner     = "platform.gantry.dev/user"
)

// SecretName is the Secret of key id.
func SecretName(id string) string { return "gantry-accesskey-" + id }

// Store reads and writes key records.
type Store struct {
	Client    client.Client
	Namespace string
}

// Save writes a record (a new key, or a revocation).
func (s Store) Save(ctx context.Context, k Key) error {
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: SecretName(k.ID), Namespace: s.Namespace,
		Labels: map[string]string{LabelAccessKey: "true", LabelOwner: k.Owner}}, Data: k.ToSecretData()}
	err := s.Client.Get(ctx, client.ObjectKeyFromObject(sec), &corev1.Secret{})
	if client.IgnoreNotFound(err) != nil {
		return err
	}
	if err != nil {
		return s.Client.Create(ctx, sec)
	}
	return s.Client.Update(ctx, sec)
}

// Get returns key id's record.
func (s Store) Get(ctx context.Context, id string) (Key, bool) {
	sec := &corev1.Secret{}
	if err := s.Client.Get(ctx, client.ObjectKey{Namespace: s.Namespace, Name: SecretName(id)}, sec); err != nil {
		return Key{}, false
	}
	var k Key
	if err := k.FromSecretData(sec.Data); err != nil {
		return Key{}, false
	}
	return k, true
}

// List returns the keys of owner, or every key for "".
func (s Store) List(ctx context.Context, owner string) ([]Key, error) {
	labels := client.MatchingLabels{LabelAccessKey: "true"}
	if owner != "" {
		labels[LabelOwner] = owner
	}
	var list corev1.SecretList
	if err := s.Client.List(ctx, &list, client.InNamespace(s.Namespace), labels); err != nil {
		return nil, fmt.Errorf("listing access keys: %w", err)
	}
	out := make([]Key, 0, len(list.Items))
	for _, sec := range list.Items {
		var k Key
		if k.FromSecretData(sec.Data) == nil {
			out = append(out, k)
		}
	}
	return out, nil
}

// IssueSystem makes a key for one of gantry's integrations: owner names the
// integration (it must not be a valid user name, e.g. "argocd_shop"), groups
// say what the key may do, scope limits it. It returns the key, shown to no
// one but the integration, and its record.
func (s Store) IssueSystem(ctx context.Context, owner, name string, groups []string, scope Scope, passive bool) (string, Key, error) {
	plaintext, rec := New(owner, scope, time.Time{}, name)
	rec.System, rec.Groups, rec.Passive = true, groups, passive
	if err := s.Save(ctx, rec); err != nil {
		return "", Key{}, err
	}
	return plaintext, rec, nil
}

// Delete removes key id's record: the key stops working at once.
func (s Store) Delete(ctx context.Context, id string) error {
	return client.IgnoreNotFound(s.Client.Delete(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: SecretName(id), Namespace: s.Namespace}}))
}
