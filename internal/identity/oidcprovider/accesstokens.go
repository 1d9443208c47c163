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

// Access token records: one Secret per access token issued, named after the
// SHA-256 of its jti, so that every replica answers userinfo, introspection
// and revocation for a token any replica issued. The token is a JWT that
// resource servers verify on their own; the record says which scopes it was
// issued with and that it is not revoked (revoking deletes it).
const (
	// LabelAccessToken marks access token Secrets ("true").
	LabelAccessToken = "gantry.dev/oidc-access-token"
	// AccessTokenSecretType is their type.
	AccessTokenSecretType corev1.SecretType = "gantry.dev/oidc-access-token"
	// labelAccessClient holds the client id, so deleting a client ends its
	// access tokens too.
	labelAccessClient = "gantry.dev/oidc-access-token-client"

	accessTokenSecretPrefix = "gantry-oidc-at-"
)

func accessTokenSecretName(jti string) string { return accessTokenSecretPrefix + hashHex(jti) }

// accessToken is what gantry remembers of an access token it issued.
type accessToken struct {
	user, client string
	scopes       []string
	expires      time.Time
}

var errOtherClient = errors.New("the token was issued to another client")

// accessTokenStore keeps access token records as Secrets in namespace.
type accessTokenStore struct {
	client    client.Client
	namespace string
	now       func() time.Time
}

func (s accessTokenStore) create(ctx context.Context, jti string, t accessToken) error {
	sec := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: accessTokenSecretName(jti), Namespace: s.namespace,
			Labels: map[string]string{LabelAccessToken: "true", labelAccessClient: t.client}},
		Type: AccessTokenSecretType,
		Data: map[string][]byte{
			keyUser:    []byte(t.user),
			keyClient:  []byte(t.client),
			keyScopes:  []byte(strings.Join(t.scopes, " ")),
			keyExpires: []byte(t.expires.UTC().Format(time.RFC3339)),
		},
	}
	if err := s.client.Create(ctx, sec); err != nil {
		return fmt.Errorf("storing the access token record: %w", err)
	}
	return nil
}

// read returns the record of jti, live or not; errNotStored when there is none.
func (s accessTokenStore) read(ctx context.Context, jti string) (accessToken, *corev1.Secret, error) {
	sec := &corev1.Secret{}
	if jti == "" {
		return accessToken{}, nil, errNotStored
	}
	if err := s.client.Get(ctx, client.ObjectKey{Namespace: s.namespace, Name: accessTokenSecretName(jti)}, sec); err != nil {
		if apierrors.IsNotFound(err) {
			return accessToken{}, nil, errNotStored
		}
		return accessToken{}, nil, fmt.Errorf("reading the access token record: %w", err)
	}
	t, ok := accessTokenFromSecret(sec)
	if !ok {
		return accessToken{}, nil, errNotStored
	}
	return t, sec, nil
}

// get returns the record of a live access token: false when it is unknown,
// expired or revoked.
func (s accessTokenStore) get(ctx context.Context, jti string) (accessToken, bool, error) {
	t, _, err := s.read(ctx, jti)
	if errors.Is(err, errNotStored) {
		return accessToken{}, false, nil
	}
	if err != nil {
		return accessToken{}, false, err
	}
	return t, s.now().Before(t.expires), nil
}

// revoke deletes the record of access token jti if it was issued to
// clientID; known is false when jti is no access token gantry has a record
// of (another kind of token, or one that expired and was swept).
func (s accessTokenStore) revoke(ctx context.Context, jti, clientID string) (known bool, err error) {
	t, sec, err := s.read(ctx, jti)
	if errors.Is(err, errNotStored) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if t.client != clientID {
		return true, errOtherClient
	}
	if err := s.client.Delete(ctx, sec); client.IgnoreNotFound(err) != nil {
		return true, fmt.Errorf("revoking the access token: %w", err)
	}
	return true, nil
}

// sweep deletes the records of expired access tokens; idempotent.
func (s accessTokenStore) sweep(ctx context.Context) (int, error) {
	var list corev1.SecretList
	if err := s.client.List(ctx, &list, client.InNamespace(s.namespace), client.MatchingLabels{LabelAccessToken: "true"}); err != nil {
		return 0, fmt.Errorf("listing access token records: %w", err)
	}
	now, n := s.now(), 0
	for i := range list.Items {
		if t, ok := accessTokenFromSecret(&list.Items[i]); ok && now.Before(t.expires) {
			continue
		}
		if err := s.client.Delete(ctx, &list.Items[i]); client.IgnoreNotFound(err) != nil {
			return n, fmt.Errorf("deleting an expired access token record: %w", err)
		}
		n++
	}
	return n, nil
}

// accessTokenFromSecret parses a record; false when it is not one or is
// damaged (and so worth deleting).
func accessTokenFromSecret(sec *corev1.Secret) (accessToken, bool) {
	d := sec.Data
	t := accessToken{user: string(d[keyUser]), client: string(d[keyClient]), scopes: strings.Fields(string(d[keyScopes]))}
	var err error
	t.expires, err = time.Parse(time.RFC3339, string(d[keyExpires]))
	return t, err == nil && sec.Type == AccessTokenSecretType && sec.Labels[LabelAccessToken] == "true" && t.user != "" && t.client != ""
}
