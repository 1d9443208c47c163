package sessions

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	// DefaultRotationPeriod is how long a key stays current.
	DefaultRotationPeriod = 24 * time.Hour
	// DefaultMaxTokenTTL is the longest lifetime of any token signed with
	// these keys (session access tokens, and later OIDC ID tokens).
	DefaultMaxTokenTTL = time.Hour
	// retentionSlack covers clock skew between gantry and the verifiers, so
	// a key is not dropped while a token it signed may still be accepted.
	retentionSlack = 5 * time.Minute
)

// SignerOptions configure a Signer; zero values take the defaults.
type SignerOptions struct {
	// RotationPeriod is how long a key stays current before RotateIfDue
	// replaces it. Default DefaultRotationPeriod.
	RotationPeriod time.Duration
	// MaxTokenTTL is the longest lifetime of a token signed by the Signer. A
	// replaced key is kept (for verification and in the JWKS) for that long
	// plus a few minutes of clock skew, then dropped. Default
	// DefaultMaxTokenTTL.
	MaxTokenTTL time.Duration
	// Now is the clock; time.Now when nil. Tests set it.
	Now func() time.Time
}

func (o SignerOptions) withDefaults() SignerOptions {
	if o.RotationPeriod <= 0 {
		o.RotationPeriod = DefaultRotationPeriod
	}
	if o.MaxTokenTTL <= 0 {
		o.MaxTokenTTL = DefaultMaxTokenTTL
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Signer holds the current signing key and the previous ones still needed to
// verify tokens they signed. Reads (signing, verifying, JWKS) are lock-free;
// Rotate and RotateIfDue are serialized. One replica of gantry writes its
// KeyStore (the leader: Upkeep); the others Reload it, and read it again when
// a token names a key they do not have yet.
type Signer struct {
	store KeyStore
	opts  SignerOptions

	writeMu sync.Mutex                   // serializes Rotate/RotateIfDue/Reload
	ring    atomic.Pointer[[]signingKey] // oldest first, last is current; never mutated in place
	// missReload is when an unknown key id last made the Signer read its
	// store again (unix nanoseconds): at most every missReloadEvery.
	missReload atomic.Int64
}

// missReloadEvery bounds how often tokens naming unknown keys make the
// Signer read its store.
const missReloadEvery = 5 * time.Second

// NewSigner loads the keys from store, checks them, and makes a first key if
// there is none or a new current key if the current one is older than the
// rotation period, so a gantry that was down for days starts with a fresh
// key.
func NewSigner(ctx context.Context, store KeyStore, opts SignerOptions) (*Signer, error) {
	s := &Signer{store: store, opts: opts.withDefaults()}
	stored, err := store.Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading signing keys: %w", err)
	}
	keys := make([]signingKey, 0, len(stored))
	for _, sk := range stored {
		k, err := parseStoredKey(sk)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	slices.SortStableFunc(keys, func(a, b signingKey) int { return a.created.Compare(b.created) })
	s.ring.Store(&keys)
	if _, err := s.RotateIfDue(ctx); err != nil {
		// Another replica may have saved new keys meanwhile (a conflict):
		// take them, and rotate only if they are due too.
		if rerr := s.Reload(ctx); rerr != nil {
			return nil, err
		}
		if _, err := s.RotateIfDue(ctx); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Reload reads the keys again from the store, as another replica of gantry
// (the leader) saved them. A store without keys, or with keys that do not
// parse, changes nothing.
func (s *Signer) Reload(ctx context.Context) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	stored, err := s.store.Load(ctx)
	if err != nil {
		return fmt.Errorf("loading signing keys: %w", err)
	}
	keys := make([]signingKey, 0, len(stored))
	for _, sk := range stored {
		k, err := parseStoredKey(sk)
		if err != nil {
			return err
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil
	}
	slices.SortStableFunc(keys, func(a, b signingKey) int { return a.created.Compare(b.created) })
	s.ring.Store(&keys)
	return nil
}

// Rotate makes a new current key now, drops the keys past retention and
// saves the set. Tokens signed by the previous keys keep verifying until
// they expire. On error nothing changes.
func (s *Signer) Rotate(ctx context.Context) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	return s.rotateLocked(ctx)
}

// RotateIfDue rotates when there is no key or the current one is older than
// the rotation period, and otherwise drops keys past retention. Call it on
// a timer (hourly is plenty); it reports whether it made a new key.
func (s *Signer) RotateIfDue(ctx context.Context) (bool, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	keys := *s.ring.Load()
	now := s.opts.Now()
	if len(keys) == 0 || now.Sub(keys[len(keys)-1].created) >= s.opts.RotationPeriod {
		return true, s.rotateLocked(ctx)
	}
	kept := s.prune(keys, now)
	if len(kept) == len(keys) {
		return false, nil
	}
	if err := s.save(ctx, kept); err != nil {
		return false, err
	}
	s.ring.Store(&kept)
	return false, nil
}

func (s *Signer) rotateLocked(ctx context.Context) error {
	now := s.opts.Now()
	fresh, err := newSigningKey(now)
	if err != nil {
		return err
	}
	keys := append(s.prune(*s.ring.Load(), now), fresh)
	if err := s.save(ctx, keys); err != nil {
		return err
	}
	s.ring.Store(&keys)
	return nil
}

// prune returns a new slice without the keys whose tokens have all expired:
// a key stops signing when the next one is created, and the last token it
// signed expires MaxTokenTTL later.
func (s *Signer) prune(keys []signingKey, now time.Time) []signingKey {
	retention := s.opts.MaxTokenTTL + retentionSlack
	kept := make([]signingKey, 0, len(keys)+1)
	for i, k := range keys {
		if i < len(keys)-1 && !now.Before(keys[i+1].created.Add(retention)) {
			continue
		}
		kept = append(kept, k)
	}
	return kept
}

func (s *Signer) save(ctx context.Context, keys []signingKey) error {
	stored := make([]StoredKey, 0, len(keys))
	for _, k := range keys {
		sk, err := k.stored()
		if err != nil {
			return err
		}
		stored = append(stored, sk)
	}
	if err := s.store.Save(ctx, stored); err != nil {
		return fmt.Errorf("saving signing keys: %w", err)
	}
	return nil
}

// PublicKey is a verification key, as the OIDC provider's key set needs it.
type PublicKey struct {
	ID        string
	Algorithm string // always SigningAlgorithm
	Key       *ecdsa.PublicKey
}

// PublicKeys returns the public half of every key kept, current first.
func (s *Signer) PublicKeys() []PublicKey {
	keys := *s.ring.Load()
	out := make([]PublicKey, 0, len(keys))
	for i := len(keys) - 1; i >= 0; i-- {
		out = append(out, PublicKey{ID: keys[i].id, Algorithm: SigningAlgorithm, Key: &keys[i].private.PublicKey})
	}
	return out
}

// JWKS returns the public keys as a JSON Web Key Set, current key first (the
// order most clients try).
func (s *Signer) JWKS() (JSONWebKeySet, error) {
	keys := *s.ring.Load()
	set := JSONWebKeySet{Keys: make([]JSONWebKey, 0, len(keys))}
	for i := len(keys) - 1; i >= 0; i-- {
		jwk, err := jsonWebKey(keys[i].id, &keys[i].private.PublicKey)
		if err != nil {
			return JSONWebKeySet{}, err
		}
		set.Keys = append(set.Keys, jwk)
	}
	return set, nil
}

// SigningKey returns the current key, for the OIDC provider, which signs its
// own tokens. The private key stays in process: never log or serialize it.
func (s *Signer) SigningKey() (id string, key crypto.Signer) {
	k := s.current()
	return k.id, k.private
}

func (s *Signer) current() signingKey {
	keys := *s.ring.Load()
	return keys[len(keys)-1] // NewSigner guarantees at least one key
}

// publicKey returns the key with this id, if still kept. An id it does not
// know may be a key another replica made a moment ago: the store is read
// again (at most every missReloadEvery).
func (s *Signer) publicKey(id string) (*ecdsa.PublicKey, bool) {
	if k, ok := s.find(id); ok {
		return k, true
	}
	now := s.opts.Now().UnixNano()
	last := s.missReload.Load()
	if now-last < int64(missReloadEvery) || !s.missReload.CompareAndSwap(last, now) {
		return nil, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := s.Reload(ctx); err != nil {
		return nil, false
	}
	return s.find(id)
}

func (s *Signer) find(id string) (*ecdsa.PublicKey, bool) {
	for _, k := range *s.ring.Load() {
		if k.id == id {
			return &k.private.PublicKey, true
		}
	}
	return nil, false
}

// sign returns the compact JWS of claims with the current key, its kid and
// the given typ header.
func (s *Signer) sign(claims jwt.Claims, typ string) (string, error) {
	k := s.current()
	t := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	t.Header["kid"] = k.id
	t.Header["typ"] = typ
	signed, err := t.SignedString(k.private)
	if err != nil {
		return "", fmt.Errorf("signing token with key %s: %w", k.id, err)
	}
	return signed, nil
}
