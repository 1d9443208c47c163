package oidcprovider

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Client Secrets: one per registered client.
const (
	// LabelClient marks client Secrets ("true").
	LabelClient = "gantry.dev/oidc-client"
	// ClientSecretType is the type of client Secrets.
	ClientSecretType corev1.SecretType = "gantry.dev/oidc-client"

	keyID                     = "id"
	keyName                   = "name"
	keyRedirectURIs           = "redirectURIs"           // one per line
	keyPostLogoutRedirectURIs = "postLogoutRedirectURIs" // one per line
	keyPublic                 = "public"                 // "true" or "false"
	keySecretHash             = "secretSHA256"           // hex; absent for public clients
	keyCreated                = "created"                // RFC 3339
)

// ClientSecretName is the Secret of client id.
func ClientSecretName(id string) string { return "gantry-oidc-client-" + id }

// Errors of the client store; the API answers them 404, 409 and 400.
var (
	ErrClientNotFound    = errors.New("no such OIDC client")
	ErrClientExists      = errors.New("OIDC client already exists")
	ErrInvalidClientSpec = errors.New("invalid OIDC client")
)

// ClientSpec is what an administrator registers, and the JSON the API takes.
type ClientSpec struct {
	// ID is the client_id: lowercase letters, digits and '-', 1 to 63.
	ID string `json:"id"`
	// Name is shown on the login page ("Sign in to continue to <Name>").
	Name string `json:"name"`
	// RedirectURIs must match the redirect_uri of a request exactly.
	RedirectURIs []string `json:"redirectURIs"`
	// PostLogoutRedirectURIs are where end_session may send the browser.
	PostLogoutRedirectURIs []string `json:"postLogoutRedirectURIs,omitempty"`
	// Public clients (CLIs, single-page apps) have no secret and must use PKCE.
	Public bool `json:"public"`
}

// RegisteredClient is a stored client. Its secret is never kept: only its
// SHA-256, which is not exported either.
type RegisteredClient struct {
	ClientSpec
	Created time.Time `json:"created"`

	secretHash string
}

// ClientStore keeps clients as Secrets in Namespace.
type ClientStore struct {
	Client    client.Client
	Namespace string
}

// Create registers spec. For a confidential client it returns the new secret:
// the only time anyone sees it.
func (s ClientStore) Create(ctx context.Context, spec ClientSpec) (secret string, err error) {
	if spec.Name == "" {
		spec.Name = spec.ID
	}
	if err := validateSpec(spec); err != nil {
		return "", err
	}
	rec := RegisteredClient{ClientSpec: spec, Created: time.Now().UTC().Truncate(time.Second)}
	if !spec.Public {
		secret, rec.secretHash = newClientSecret()
	}
	sec := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: ClientSecretName(spec.ID), Namespace: s.Namespace,
			Labels: map[string]string{LabelClient: "true"}},
		Type: ClientSecretType,
		Data: rec.secretData(),
	}
	if err := s.Client.Create(ctx, sec); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return "", fmt.Errorf("%w: %q: pick another id, or delete the existing client first", ErrClientExists, spec.ID)
		}
		return "", fmt.Errorf("creating OIDC client %q: %w", spec.ID, err)
	}
	return secret, nil
}

// Get returns client id, or an error wrapping ErrClientNotFound.
func (s ClientStore) Get(ctx context.Context, id string) (RegisteredClient, error) {
	if !clientIDPattern.MatchString(id) {
		return RegisteredClient{}, fmt.Errorf("%w: %q", ErrClientNotFound, id)
	}
	sec := &corev1.Secret{}
	if err := s.Client.Get(ctx, client.ObjectKey{Namespace: s.Namespace, Name: ClientSecretName(id)}, sec); err != nil {
		if apierrors.IsNotFound(err) {
			return RegisteredClient{}, fmt.Errorf("%w: %q", ErrClientNotFound, id)
		}
		return RegisteredClient{}, fmt.Errorf("reading OIDC client %q: %w", id, err)
	}
	return clientFromSecret(sec)
}

// List returns every client, sorted by id. Secrets that do not parse are
// skipped: one hand-edited client must not hide the others.
func (s ClientStore) List(ctx context.Context) ([]RegisteredClient, error) {
	var list corev1.SecretList
	if err := s.Client.List(ctx, &list, client.InNamespace(s.Namespace), client.MatchingLabels{LabelClient: "true"}); err != nil {
		return nil, fmt.Errorf("listing OIDC clients: %w", err)
	}
	out := make([]RegisteredClient, 0, len(list.Items))
	for i := range list.Items {
		if c, err := clientFromSecret(&list.Items[i]); err == nil {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b RegisteredClient) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// Delete removes client id and every refresh and access token issued to it.
func (s ClientStore) Delete(ctx context.Context, id string) error {
	if _, err := s.Get(ctx, id); err != nil {
		return err
	}
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: ClientSecretName(id), Namespace: s.Namespace}}
	if err := s.Client.Delete(ctx, sec); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting OIDC client %q: %w", id, err)
	}
	if err := s.Client.DeleteAllOf(ctx, &corev1.Secret{}, client.InNamespace(s.Namespace),
		client.MatchingLabels{LabelRefreshToken: "true", labelRefreshClient: id}); err != nil {
		return fmt.Errorf("deleting the refresh tokens of OIDC client %q: %w", id, err)
	}
	if err := s.Client.DeleteAllOf(ctx, &corev1.Secret{}, client.InNamespace(s.Namespace),
		client.MatchingLabels{LabelAccessToken: "true", labelAccessClient: id}); err != nil {
		return fmt.Errorf("deleting the access token records of OIDC client %q: %w", id, err)
	}
	return nil
}

// RotateSecret gives confidential client id a new secret and returns it; the
// old one stops working at once.
func (s ClientStore) RotateSecret(ctx context.Context, id string) (string, error) {
	sec := &corev1.Secret{}
	if err := s.Client.Get(ctx, client.ObjectKey{Namespace: s.Namespace, Name: ClientSecretName(id)}, sec); err != nil {
		if apierrors.IsNotFound(err) {
			return "", fmt.Errorf("%w: %q", ErrClientNotFound, id)
		}
		return "", fmt.Errorf("reading OIDC client %q: %w", id, err)
	}
	c, err := clientFromSecret(sec)
	if err != nil {
		return "", err
	}
	if c.Public {
		return "", fmt.Errorf("%w: %q is a public client and has no secret: register a confidential client instead", ErrInvalidClientSpec, id)
	}
	secret, hash := newClientSecret()
	c.secretHash = hash
	sec.Data = c.secretData()
	if err := s.Client.Update(ctx, sec); err != nil {
		return "", fmt.Errorf("saving the new secret of OIDC client %q: %w", id, err)
	}
	return secret, nil
}

// checkSecret reports whether secret is c's, in constant time.
func (c RegisteredClient) checkSecret(secret string) bool {
	if c.Public || c.secretHash == "" || secret == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(hashHex(secret)), []byte(c.secretHash)) == 1
}

func newClientSecret() (secret, hash string) {
	secret = randomString(32)
	return secret, hashHex(secret)
}

func hashHex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// randomString returns n random bytes, base64url.
func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (c RegisteredClient) secretData() map[string][]byte {
	d := map[string][]byte{
		keyID:                     []byte(c.ID),
		keyName:                   []byte(c.Name),
		keyRedirectURIs:           []byte(strings.Join(c.RedirectURIs, "\n")),
		keyPostLogoutRedirectURIs: []byte(strings.Join(c.PostLogoutRedirectURIs, "\n")),
		keyPublic:                 []byte(fmt.Sprint(c.Public)),
		keyCreated:                []byte(c.Created.Format(time.RFC3339)),
	}
	if c.secretHash != "" {
		d[keySecretHash] = []byte(c.secretHash)
	}
	return d
}

func clientFromSecret(sec *corev1.Secret) (RegisteredClient, error) {
	d := sec.Data
	c := RegisteredClient{ClientSpec: ClientSpec{
		ID:                     string(d[keyID]),
		Name:                   string(d[keyName]),
		RedirectURIs:           lines(d[keyRedirectURIs]),
		PostLogoutRedirectURIs: lines(d[keyPostLogoutRedirectURIs]),
		Public:                 string(d[keyPublic]) == "true",
	}, secretHash: string(d[keySecretHash])}
	c.Created, _ = time.Parse(time.RFC3339, string(d[keyCreated]))
	fix := fmt.Sprintf("delete Secret %s/%s and register the client again", sec.Namespace, sec.Name)
	if sec.Name != ClientSecretName(c.ID) {
		return RegisteredClient{}, fmt.Errorf("OIDC client Secret %s: its id %q does not match its name: %s", sec.Name, c.ID, fix)
	}
	if !c.Public && len(c.secretHash) != sha256.Size*2 {
		return RegisteredClient{}, fmt.Errorf("OIDC client %q: confidential but no valid %s: %s", c.ID, keySecretHash, fix)
	}
	return c, nil
}

func lines(b []byte) []string {
	var out []string
	for l := range strings.SplitSeq(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

var clientIDPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

func validateSpec(spec ClientSpec) error {
	if !clientIDPattern.MatchString(spec.ID) {
		return fmt.Errorf("%w: id %q: use 1 to 63 lowercase letters, digits and '-', starting and ending with a letter or digit (e.g. argocd)",
			ErrInvalidClientSpec, spec.ID)
	}
	if len(spec.Name) > 100 || strings.ContainsAny(spec.Name, "\r\n") {
		return fmt.Errorf("%w: name: use a single line of at most 100 characters", ErrInvalidClientSpec)
	}
	if len(spec.RedirectURIs) == 0 {
		return fmt.Errorf("%w: %q has no redirect URIs: add the application's callback, e.g. https://argocd.example.com/auth/callback",
			ErrInvalidClientSpec, spec.ID)
	}
	for _, u := range spec.RedirectURIs {
		if err := validateRedirectURI(u); err != nil {
			return fmt.Errorf("%w: redirect URI %q: %v", ErrInvalidClientSpec, u, err)
		}
	}
	for _, u := range spec.PostLogoutRedirectURIs {
		if err := validateRedirectURI(u); err != nil {
			return fmt.Errorf("%w: post-logout redirect URI %q: %v", ErrInvalidClientSpec, u, err)
		}
	}
	return nil
}

// validateRedirectURI allows absolute https URLs, and http only to the
// loopback interface (RFC 8252 section 7.3: CLIs listening on localhost),
// because anything else would send codes in clear text across a network.
func validateRedirectURI(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || !u.IsAbs() || strings.ContainsAny(raw, " \t\r\n") {
		return errors.New("not an absolute URL: write it in full, e.g. https://app.example.com/callback")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return errors.New("a redirect URI must not have a fragment (RFC 6749 section 3.1.2): remove the '#…'")
	}
	if u.User != nil {
		return errors.New("a redirect URI must not carry credentials: remove the user@ part")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		return errors.New("http is allowed only to 127.0.0.1, [::1] or localhost: use https")
	default:
		return fmt.Errorf("scheme %q is not allowed: use https (or http to 127.0.0.1, [::1] or localhost)", u.Scheme)
	}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
