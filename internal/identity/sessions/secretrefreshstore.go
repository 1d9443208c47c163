package sessions

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// SecretRefreshStore keeps refresh token records as Secrets, one per token, so
// that sessions survive a restart of gantry. A Secret holds only the token's
// hash (its name) and the record; the token itself is never stored. Consume
// updates with the resourceVersion it read, so of two concurrent uses of one
// token exactly one wins, as RefreshStore requires.
type SecretRefreshStore struct {
	Client    client.Client
	Namespace string
	// Reader, when set, is read instead of Client for Consume: an uncached reader,
	// so a token refreshed right after it was issued is found.
	Reader client.Reader
	Now    func() time.Time
}

var _ RefreshStore = SecretRefreshStore{}

const (
	// RefreshSecretType marks the Secrets of this store.
	RefreshSecretType corev1.SecretType = "gantry.dev/refresh-token"
	// labelRefreshToken selects them all; labelRefreshFamily one login's.
	labelRefreshToken  = "gantry.dev/refresh-token"
	labelRefreshFamily = "gantry.dev/refresh-family"
	refreshRecordKey   = "record.json"
)

func refreshSecretName(hash string) string { return "gantry-refresh-" + hash }

// familyLabel turns a family id into a valid label value.
func familyLabel(family string) string {
	sum := sha256.Sum256([]byte(family))
	return hex.EncodeToString(sum[:16])
}

// Put stores rec as a new Secret.
func (s SecretRefreshStore) Put(ctx context.Context, rec RefreshRecord) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name: refreshSecretName(rec.Hash), Namespace: s.Namespace,
			Labels: map[string]string{labelRefreshToken: "true", labelRefreshFamily: familyLabel(rec.Family)},
		},
		Type: RefreshSecretType,
		Data: map[string][]byte{refreshRecordKey: data},
	}
	if err := s.Client.Create(ctx, secret); err != nil {
		return fmt.Errorf("storing a refresh token record: %w", err)
	}
	return nil
}

// Consume marks the record used and returns it as it was. A lost race with
// another Consume returns the record as used.
func (s SecretRefreshStore) Consume(ctx context.Context, hash string) (RefreshRecord, bool, error) {
	reader := s.Reader
	if reader == nil {
		reader = s.Client
	}
	secret := &corev1.Secret{}
	if err := reader.Get(ctx, client.ObjectKey{Namespace: s.Namespace, Name: refreshSecretName(hash)}, secret); err != nil {
		if apierrors.IsNotFound(err) {
			return RefreshRecord{}, false, nil
		}
		return RefreshRecord{}, false, err
	}
	var rec RefreshRecord
	if secret.Type != RefreshSecretType || json.Unmarshal(secret.Data[refreshRecordKey], &rec) != nil || rec.Hash != hash {
		return RefreshRecord{}, false, nil
	}
	if rec.Used {
		return rec, true, nil
	}
	used := rec
	used.Used = true
	data, err := json.Marshal(used)
	if err != nil {
		return RefreshRecord{}, false, err
	}
	secret.Data[refreshRecordKey] = data
	if err := s.Client.Update(ctx, secret); err != nil {
		if apierrors.IsConflict(err) {
			rec.Used = true // someone else used it first: that is reuse
			return rec, true, nil
		}
		return RefreshRecord{}, false, err
	}
	return rec, true, nil
}

// RevokeFamily deletes every record of family.
func (s SecretRefreshStore) RevokeFamily(ctx context.Context, family string) error {
	return client.IgnoreNotFound(s.Client.DeleteAllOf(ctx, &corev1.Secret{}, client.InNamespace(s.Namespace),
		client.MatchingLabels{labelRefreshToken: "true", labelRefreshFamily: familyLabel(family)}))
}

// Collect deletes the records that have expired and returns how many. gantry
// calls it periodically.
func (s SecretRefreshStore) Collect(ctx context.Context) (int, error) {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	var list corev1.SecretList
	if err := s.Client.List(ctx, &list, client.InNamespace(s.Namespace), client.MatchingLabels{labelRefreshToken: "true"}); err != nil {
		return 0, err
	}
	n := 0
	for i := range list.Items {
		var rec RefreshRecord
		if err := json.Unmarshal(list.Items[i].Data[refreshRecordKey], &rec); err == nil && now().Before(rec.ExpiresAt) {
			continue
		}
		if err := s.Client.Delete(ctx, &list.Items[i]); client.IgnoreNotFound(err) != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
