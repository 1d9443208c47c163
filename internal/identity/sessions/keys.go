package sessions

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// SigningAlgorithm is the JWS algorithm of every key: ECDSA P-256 with
// SHA-256. Small keys, fast signatures, and supported by every OIDC client.
const SigningAlgorithm = "ES256"

// StoredKey is a signing key as a KeyStore keeps it.
type StoredKey struct {
	// ID is the key id ("kid"): the RFC 7638 thumbprint of the public key.
	ID string
	// Created is when the key was made; the newest key is the current one.
	Created time.Time
	// PrivateKeyPEM is the PKCS #8 private key, PEM-encoded.
	PrivateKeyPEM []byte
}

// String redacts the private key, so a StoredKey printed by mistake leaks
// nothing.
func (k StoredKey) String() string {
	return fmt.Sprintf("StoredKey{ID: %q, Created: %s, PrivateKeyPEM: <redacted>}", k.ID, k.Created.Format(time.RFC3339))
}

// GoString redacts the private key for %#v too.
func (k StoredKey) GoString() string { return k.String() }

// KeyStore persists the signing keys. Save replaces the whole set, so an
// implementation needs no merge logic; the Signer is the only writer.
type KeyStore interface {
	// Load returns every stored key, in any order; none (and no error) when
	// nothing was saved yet.
	Load(ctx context.Context) ([]StoredKey, error)
	// Save replaces the stored set with keys.
	Save(ctx context.Context, keys []StoredKey) error
}

// MemoryKeyStore is a KeyStore in memory, for tests and for throwaway
// instances where sessions need not survive a restart.
type MemoryKeyStore struct {
	mu   sync.Mutex
	keys []StoredKey
}

var _ KeyStore = (*MemoryKeyStore)(nil)

// Load returns a copy of the saved keys.
func (m *MemoryKeyStore) Load(context.Context) ([]StoredKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return cloneStoredKeys(m.keys), nil
}

// Save keeps a copy of keys.
func (m *MemoryKeyStore) Save(_ context.Context, keys []StoredKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.keys = cloneStoredKeys(keys)
	return nil
}

func cloneStoredKeys(keys []StoredKey) []StoredKey {
	out := make([]StoredKey, len(keys))
	for i, k := range keys {
		k.PrivateKeyPEM = slices.Clone(k.PrivateKeyPEM)
		out[i] = k
	}
	return out
}

// signingKey is a parsed key, as the Signer uses it.
type signingKey struct {
	id      string
	created time.Time
	private *ecdsa.PrivateKey
}

func newSigningKey(now time.Time) (signingKey, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return signingKey{}, fmt.Errorf("generating signing key: %w", err)
	}
	id, err := thumbprint(&priv.PublicKey)
	if err != nil {
		return signingKey{}, err
	}
	// Second precision, like everything that goes through a Secret as text.
	return signingKey{id: id, created: now.UTC().Truncate(time.Second), private: priv}, nil
}

func (k signingKey) stored() (StoredKey, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k.private)
	if err != nil {
		return StoredKey{}, fmt.Errorf("encoding signing key %s: %w", k.id, err)
	}
	return StoredKey{
		ID:            k.id,
		Created:       k.created,
		PrivateKeyPEM: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
	}, nil
}

// parseStoredKey checks a stored key thoroughly: a store edited by hand
// must fail at start with a clear message, not at the first login.
func parseStoredKey(s StoredKey) (signingKey, error) {
	const fix = "delete the key store (the Secret) to make new keys; everyone will have to log in again"
	block, _ := pem.Decode(s.PrivateKeyPEM)
	if block == nil || block.Type != "PRIVATE KEY" {
		return signingKey{}, fmt.Errorf("signing key %q: no PEM \"PRIVATE KEY\" block: %s", s.ID, fix)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return signingKey{}, fmt.Errorf("signing key %q: not a PKCS #8 key (%v): %s", s.ID, err, fix)
	}
	priv, ok := parsed.(*ecdsa.PrivateKey)
	if !ok || priv.Curve != elliptic.P256() {
		return signingKey{}, fmt.Errorf("signing key %q: not an ECDSA P-256 key: %s", s.ID, fix)
	}
	id, err := thumbprint(&priv.PublicKey)
	if err != nil {
		return signingKey{}, err
	}
	if id != s.ID {
		return signingKey{}, fmt.Errorf("signing key %q: its id does not match the key (want %q): %s", s.ID, id, fix)
	}
	if s.Created.IsZero() {
		return signingKey{}, fmt.Errorf("signing key %q: no creation time: %s", s.ID, fix)
	}
	return signingKey{id: id, created: s.Created.UTC(), private: priv}, nil
}

// JSONWebKey is one public key in RFC 7517 form. Its JSON is what
// go-jose's JSONWebKey produces for an ECDSA public key, so the OIDC
// provider can unmarshal it into that type or build its own from
// Signer.PublicKeys.
type JSONWebKey struct {
	KeyType   string `json:"kty"`
	Curve     string `json:"crv"`
	X         string `json:"x"`
	Y         string `json:"y"`
	KeyID     string `json:"kid"`
	Use       string `json:"use"`
	Algorithm string `json:"alg"`
}

// JSONWebKeySet is a JWKS document (RFC 7517 section 5).
type JSONWebKeySet struct {
	Keys []JSONWebKey `json:"keys"`
}

func jsonWebKey(id string, pub *ecdsa.PublicKey) (JSONWebKey, error) {
	x, y, err := coordinates(pub)
	if err != nil {
		return JSONWebKey{}, err
	}
	enc := base64.RawURLEncoding
	return JSONWebKey{KeyType: "EC", Curve: "P-256", X: enc.EncodeToString(x), Y: enc.EncodeToString(y),
		KeyID: id, Use: "sig", Algorithm: SigningAlgorithm}, nil
}

// coordinates returns the fixed-length (32-byte) X and Y of a P-256 key.
func coordinates(pub *ecdsa.PublicKey) (x, y []byte, err error) {
	point, err := pub.Bytes() // 0x04 || X || Y
	if err != nil {
		return nil, nil, fmt.Errorf("encoding public key: %w", err)
	}
	if len(point) != 65 {
		return nil, nil, errors.New("encoding public key: not a P-256 point")
	}
	return point[1:33], point[33:], nil
}

// thumbprint is the RFC 7638 thumbprint: SHA-256 over the required members
// in lexical order, base64url. Deriving the kid from the key means a kid can
// never point at the wrong key.
func thumbprint(pub *ecdsa.PublicKey) (string, error) {
	x, y, err := coordinates(pub)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	canonical := `{"crv":"P-256","kty":"EC","x":"` + enc.EncodeToString(x) + `","y":"` + enc.EncodeToString(y) + `"}`
	sum := sha256.Sum256([]byte(canonical))
	return enc.EncodeToString(sum[:]), nil
}
