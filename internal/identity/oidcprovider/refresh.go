package oidcprovider

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Refresh token Secrets: one per token, named after its SHA-256.
const (
	// LabelRefreshToken marks refresh token Secrets ("true").
	LabelRefreshToken = "gantry.dev/oidc-refresh-token"
	// RefreshTokenSecretType is the type of refresh token Secrets.
	RefreshTokenSecretType corev1.SecretType = "gantry.dev/oidc-refresh-token"
	// labelRefreshClient holds the client id, so deleting a client can
	// delete its tokens. Not gantry.dev/oidc-client: that one finds clients.
	labelRefreshClient = "gantry.dev/oidc-refresh-token-client"

	// RefreshTokenLifetime is how long one refresh token is good for.
	RefreshTokenLifetime = 24 * time.Hour
	// SessionMaxLifetime is the longest a chain of refreshes may go on after
	// the user signed in; then they sign in again.
	SessionMaxLifetime = 7 * 24 * time.Hour

	keyUser           = "user"
	keyClient         = "client"
	keyScopes         = "scopes"   // space-separated
	keyAMR            = "amr"      // space-separated
	keyAuthTime       = "authTime" // RFC 3339, as every time below
	keyExpires        = "expires"
	keySessionExpires = "sessionExpires"
)

// refreshSecretName derives the Secret name from the token, so a token can be
// looked up without being stored, and reading Secrets yields no token.
func refreshSecretName(token string) string { return refreshSecretPrefix + hashHex(token) }

const refreshSecretPrefix = "gantry-oidc-rt-"

// refreshRecord is one stored refresh token.
type refreshRecord struct {
	name           string // the Secret's
	user, client   string
	scopes, amr    []string
	authTime       time.Time
	expires        time.Time
	sessionExpires time.Time
}

var errRefreshNotFound = errors.New("refresh token unknown, used or revoked: sign in again")

// refreshStore keeps refresh tokens as Secrets in namespace.
type refreshStore struct {
	client    client.Client
	namespace string
	now       func() time.Time
}

// create stores a new token for rec (name ignored) and returns the token.
func (s refreshStore) create(ctx context.Context, rec refreshRecord) (string, error) {
	token := randomString(32)
	rec.name = refreshSecretName(token)
	ts := func(t time.Time) []byte { return []byte(t.UTC().Format(time.RFC3339)) }
	sec := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: rec.name, Namespace: s.namespace,
			Labels: map[string]string{LabelRefreshToken: "true", labelRefreshClient: rec.client}},
		Type: RefreshTokenSecretType,
		Data: map[string][]byte{
			keyUser:           []byte(rec.user),
			keyClient:         []byte(rec.client),
			keyScopes:         []byte(strings.Join(rec.scopes, " ")),
			keyAMR:            []byte(strings.Join(rec.amr, " ")),
			keyAuthTime:       ts(rec.authTime),
			keyExpires:        ts(rec.expires),
			keySessionExpires: ts(rec.sessionExpires),
		},
	}
	if err := s.client.Create(ctx, sec); err != nil {
		return "", fmt.Errorf("storing refresh token: %w", err)
	}
	return token, nil
}

// get returns the live record of token; errRefreshNotFound when it is
// unknown or expired.
func (s refreshStore) get(ctx context.Context, token string) (refreshRecord, error) {
	if token == "" {
		return refreshRecord{}, errRefreshNotFound
	}
	return s.getByName(ctx, refreshSecretName(token))
}

func (s refreshStore) getByName(ctx context.Context, name string) (refreshRecord, error) {
	sec := &corev1.Secret{}
	if err := s.client.Get(ctx, client.ObjectKey{Namespace: s.namespace, Name: name}, sec); err != nil {
		if apierrors.IsNotFound(err) {
			return refreshRecord{}, errRefreshNotFound
		}
		return refreshRecord{}, fmt.Errorf("reading refresh token: %w", err)
	}
	rec, ok := recordFromSecret(sec)
	if !ok || sec.Labels[LabelRefreshToken] != "true" || !s.live(rec) {
		return refreshRecord{}, errRefreshNotFound
	}
	return rec, nil
}

func (s refreshStore) live(rec refreshRecord) bool {
	now := s.now()
	return now.Before(rec.expires) && now.Before(rec.sessionExpires)
}

// delete removes the token stored as name; errRefreshNotFound if it was
// already gone, which is how a concurrent second use of a token loses.
func (s refreshStore) delete(ctx context.Context, name string) error {
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: s.namespace}}
	if err := s.client.Delete(ctx, sec); err != nil {
		if apierrors.IsNotFound(err) {
			return errRefreshNotFound
		}
		return fmt.Errorf("deleting refresh token: %w", err)
	}
	return nil
}

// deleteWhere removes the tokens of clientID for which match is true.
func (s refreshStore) deleteWhere(ctx context.Context, clientID string, match func(refreshRecord) bool) (int, error) {
	labels := client.MatchingLabels{LabelRefreshToken: "true"}
	if clientID != "" {
		labels[labelRefreshClient] = clientID
	}
	var list corev1.SecretList
	if err := s.client.List(ctx, &list, client.InNamespace(s.namespace), labels); err != nil {
		return 0, fmt.Errorf("listing refresh tokens: %w", err)
	}
	n := 0
	for i := range list.Items {
		rec, ok := recordFromSecret(&list.Items[i])
		if ok && !match(rec) {
			continue
		}
		if err := s.delete(ctx, list.Items[i].Name); err != nil && !errors.Is(err, errRefreshNotFound) {
			return n, err
		}
		n++
	}
	return n, nil
}

// recordFromSecret parses a token Secret; false when it is damaged (and so
// worth deleting).
func recordFromSecret(sec *corev1.Secret) (refreshRecord, bool) {
	d := sec.Data
	rec := refreshRecord{name: sec.Name, user: string(d[keyUser]), client: string(d[keyClient]),
		scopes: strings.Fields(string(d[keyScopes])), amr: strings.Fields(string(d[keyAMR]))}
	var errs [3]error
	rec.authTime, errs[0] = time.Parse(time.RFC3339, string(d[keyAuthTime]))
	rec.expires, errs[1] = time.Parse(time.RFC3339, string(d[keyExpires]))
	rec.sessionExpires, errs[2] = time.Parse(time.RFC3339, string(d[keySessionExpires]))
	return rec, errors.Join(errs[:]...) == nil && rec.user != "" && rec.client != ""
}
