package accesskeys

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

const (
	// accessKeyPrefix starts every access key, so secret scanners and people
	// can recognise one.
	accessKeyPrefix = "gak_"
	// accessKeyIDBytes random bytes make the public id: 16 characters of
	// lower-case base32, valid in a Secret name.
	accessKeyIDBytes = 10
	accessKeyIDLen   = 16
	// accessKeySecretBytes random bytes make the secret part.
	accessKeySecretBytes = 32
)

// Sentinel errors, for errors.Is. The errors returned wrap them with the
// reason and what to do about it; none carries the key.
var (
	// ErrInvalid: an access key is malformed, unknown or has the wrong
	// secret. Which of these is deliberately not said.
	ErrInvalid = errors.New("access key is not valid")
	// ErrRevoked: the access key's secret matched but it is revoked.
	ErrRevoked = errors.New("access key is revoked")
	// ErrExpired: the access key's secret matched but it has expired.
	ErrExpired = errors.New("access key has expired")
)

// lowerBase32 has no '_' (the separator) and only characters valid in
// Kubernetes object names.
func lowerBase32() *base32.Encoding {
	return base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)
}

// Scope narrows what an access key may be used for. An empty field does not
// narrow: the owner's own permissions apply (decided by rbac, not here).
type Scope struct {
	Project        string
	VirtualCluster string
}

// Key is the stored record of an access key. It holds the SHA-256 of
// the secret, never the secret: the plaintext is shown once, at creation.
type Key struct {
	// ID is the public part of the key, unique; use it to name the Secret.
	ID    string
	Name  string
	Owner string
	Scope Scope
	// SecretHash is the hex SHA-256 of the secret part.
	SecretHash string
	Created    time.Time
	// Expires is when the key stops working; zero means never.
	Expires time.Time
	Revoked bool
	// System keys belong to one of gantry's integrations (e.g. Argo CD), not to
	// a user: their Groups are what the key may do (no User is looked up), and
	// only gantry itself makes them, never the API.
	System bool
	Groups []string
	// Passive keys are machines polling: their requests neither wake a
	// sleeping virtual cluster nor keep it awake.
	Passive bool
}

// Expired reports whether the key has expired at now.
func (k Key) Expired(now time.Time) bool {
	return !k.Expires.IsZero() && !now.Before(k.Expires)
}

// New makes an access key for owner. plaintext, of the form
// gak_<id>_<secret>, is for the user and must not be stored; record is for
// storage. A zero expires makes a key that never expires.
func New(owner string, scope Scope, expires time.Time, name string) (plaintext string, record Key) {
	idBytes := make([]byte, accessKeyIDBytes)
	secret := make([]byte, accessKeySecretBytes)
	_, _ = rand.Read(idBytes) // never fails (crypto/rand since Go 1.24)
	_, _ = rand.Read(secret)
	id := lowerBase32().EncodeToString(idBytes)
	sum := sha256.Sum256(secret)
	record = Key{
		ID:         id,
		Name:       name,
		Owner:      owner,
		Scope:      scope,
		SecretHash: hex.EncodeToString(sum[:]),
		Created:    time.Now().UTC().Truncate(time.Second),
		Expires:    expires,
	}
	if !expires.IsZero() {
		record.Expires = expires.UTC().Truncate(time.Second)
	}
	return accessKeyPrefix + id + "_" + base64.RawURLEncoding.EncodeToString(secret), record
}

// Verify checks plaintext against the record lookup returns for its
// id. The secret comparison is constant-time, and an unknown id costs and
// says the same as a wrong secret, so neither ids nor secrets can be probed.
// Only a caller holding the right secret learns that a key is revoked or
// expired. Errors never contain the plaintext.
func Verify(plaintext string, lookup func(id string) (Key, bool)) (Key, error) {
	id, secret, ok := parseAccessKey(plaintext)
	if !ok {
		return Key{}, fmt.Errorf("%w: it is not of the form gak_<id>_<secret>: copy the whole key as printed when it was created",
			ErrInvalid)
	}
	got := sha256.Sum256(secret)
	rec, found := lookup(id)
	want, err := hex.DecodeString(rec.SecretHash)
	if !found || err != nil || len(want) != sha256.Size {
		want = make([]byte, sha256.Size) // compare anyway: same time as a found key
		found = false
	}
	if subtle.ConstantTimeCompare(got[:], want) != 1 || !found {
		return Key{}, fmt.Errorf("%w: no key matches it: check it was copied whole, or create a new access key",
			ErrInvalid)
	}
	if rec.Revoked {
		return Key{}, fmt.Errorf("%w: key %s (%q) was revoked: create a new access key", ErrRevoked, rec.ID, rec.Name)
	}
	if rec.Expired(time.Now()) {
		return Key{}, fmt.Errorf("%w: key %s (%q) expired at %s: create a new access key",
			ErrExpired, rec.ID, rec.Name, rec.Expires.Format(time.RFC3339))
	}
	return rec, nil
}

// parseAccessKey splits gak_<id>_<secret>. The id has no '_', the secret
// (base64url) may.
func parseAccessKey(plaintext string) (id string, secret []byte, ok bool) {
	rest, ok := strings.CutPrefix(plaintext, accessKeyPrefix)
	if !ok {
		return "", nil, false
	}
	id, enc, ok := strings.Cut(rest, "_")
	if !ok || !validAccessKeyID(id) {
		return "", nil, false
	}
	secret, err := base64.RawURLEncoding.Strict().DecodeString(enc)
	if err != nil || len(secret) != accessKeySecretBytes {
		return "", nil, false
	}
	return id, secret, true
}

func validAccessKeyID(id string) bool {
	if len(id) != accessKeyIDLen {
		return false
	}
	for _, c := range id {
		if (c < 'a' || c > 'z') && (c < '2' || c > '7') {
			return false
		}
	}
	return true
}

// Secret data keys of an access key record.
const (
	dataID             = "id"
	dataName           = "name"
	dataOwner          = "owner"
	dataProject        = "project"
	dataVirtualCluster = "virtualCluster"
	dataSecretHash     = "secretHash"
	dataCreated        = "created"
	dataExpires        = "expires"
	dataRevoked        = "revoked"
	dataSystem         = "system"
	dataGroups         = "groups"
	dataPassive        = "passive"
)

// ToSecretData returns the record as the data of a Secret. Times are
// RFC 3339; a never-expiring key has no "expires".
func (k Key) ToSecretData() map[string][]byte {
	data := map[string][]byte{
		dataID:             []byte(k.ID),
		dataName:           []byte(k.Name),
		dataOwner:          []byte(k.Owner),
		dataProject:        []byte(k.Scope.Project),
		dataVirtualCluster: []byte(k.Scope.VirtualCluster),
		dataSecretHash:     []byte(k.SecretHash),
		dataCreated:        []byte(k.Created.UTC().Format(time.RFC3339)),
		dataRevoked:        []byte(strconv.FormatBool(k.Revoked)),
	}
	if !k.Expires.IsZero() {
		data[dataExpires] = []byte(k.Expires.UTC().Format(time.RFC3339))
	}
	if k.System {
		data[dataSystem] = []byte("true")
		data[dataGroups] = []byte(strings.Join(k.Groups, "\n"))
	}
	if k.Passive {
		data[dataPassive] = []byte("true")
	}
	return data
}

// FromSecretData fills k from Secret data written by ToSecretData, and
// checks it, so a hand-edited Secret fails here rather than at login.
func (k *Key) FromSecretData(data map[string][]byte) error {
	const fix = "recreate the access key"
	rec := Key{
		ID:         string(data[dataID]),
		Name:       string(data[dataName]),
		Owner:      string(data[dataOwner]),
		Scope:      Scope{Project: string(data[dataProject]), VirtualCluster: string(data[dataVirtualCluster])},
		SecretHash: string(data[dataSecretHash]),
	}
	if !validAccessKeyID(rec.ID) {
		return fmt.Errorf("access key record: %q is not a valid key id: %s", rec.ID, fix)
	}
	if h, err := hex.DecodeString(rec.SecretHash); err != nil || len(h) != sha256.Size {
		return fmt.Errorf("access key record %s: %q is not a hex SHA-256: %s", rec.ID, dataSecretHash, fix)
	}
	if rec.Owner == "" {
		return fmt.Errorf("access key record %s: no %q: %s", rec.ID, dataOwner, fix)
	}
	var err error
	if rec.Created, err = time.Parse(time.RFC3339, string(data[dataCreated])); err != nil {
		return fmt.Errorf("access key record %s: %q is not an RFC 3339 time: %s", rec.ID, dataCreated, fix)
	}
	if v, ok := data[dataExpires]; ok && len(v) > 0 {
		if rec.Expires, err = time.Parse(time.RFC3339, string(v)); err != nil {
			return fmt.Errorf("access key record %s: %q is not an RFC 3339 time: %s", rec.ID, dataExpires, fix)
		}
	}
	if v, ok := data[dataRevoked]; ok && len(v) > 0 {
		if rec.Revoked, err = strconv.ParseBool(string(v)); err != nil {
			return fmt.Errorf("access key record %s: %q is not true or false: %s", rec.ID, dataRevoked, fix)
		}
	}
	rec.System = string(data[dataSystem]) == "true"
	rec.Passive = string(data[dataPassive]) == "true"
	if g := strings.TrimSpace(string(data[dataGroups])); rec.System && g != "" {
		rec.Groups = strings.Split(g, "\n")
	}
	*k = rec
	return nil
}
