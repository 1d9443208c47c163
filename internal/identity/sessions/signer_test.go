package sessions

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func kids(set JSONWebKeySet) []string {
	out := make([]string, len(set.Keys))
	for i, k := range set.Keys {
		out[i] = k.KeyID
	}
	return out
}

func mustJWKS(t *testing.T, s *Signer) JSONWebKeySet {
	t.Helper()
	set, err := s.JWKS()
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func TestSignerFirstStartMakesAndSavesKey(t *testing.T) {
	env := newTestEnv(t, Config{})
	stored, _ := env.keys.Load(context.Background())
	if len(stored) != 1 {
		t.Fatalf("store has %d keys, want 1", len(stored))
	}
	set := mustJWKS(t, env.signer)
	if len(set.Keys) != 1 || set.Keys[0].KeyID != stored[0].ID {
		t.Fatalf("JWKS kids %v, want [%s]", kids(set), stored[0].ID)
	}
	k := set.Keys[0]
	if k.KeyType != "EC" || k.Curve != "P-256" || k.Algorithm != "ES256" || k.Use != "sig" || len(k.X) != 43 || len(k.Y) != 43 {
		t.Errorf("unexpected JWK %+v", k)
	}
	raw, _ := json.Marshal(set)
	if strings.Contains(string(raw), `"d"`) {
		t.Error("JWKS contains private key material")
	}
	if s := stored[0].String(); strings.Contains(s, "PRIVATE") {
		t.Errorf("StoredKey.String leaks the key: %s", s)
	}

	// A restart loads the same key instead of making a new one.
	again, err := NewSigner(context.Background(), env.keys, SignerOptions{Now: env.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if got := kids(mustJWKS(t, again)); len(got) != 1 || got[0] != stored[0].ID {
		t.Errorf("after restart kids = %v, want [%s]", got, stored[0].ID)
	}
}

func TestRotationKeepsOldKeyUntilItsTokensExpire(t *testing.T) {
	ctx := context.Background()
	env := newTestEnv(t, Config{})
	oldKid, _ := env.signer.SigningKey()
	before, err := env.mgr.Issue(ctx, Subject{User: "alice"})
	if err != nil {
		t.Fatal(err)
	}

	env.clock.Advance(time.Minute)
	if err := env.signer.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	newKid, _ := env.signer.SigningKey()
	if newKid == oldKid {
		t.Fatal("Rotate kept the same current key")
	}
	if got := kids(mustJWKS(t, env.signer)); len(got) != 2 || got[0] != newKid || got[1] != oldKid {
		t.Fatalf("JWKS kids = %v, want [%s %s] (current first)", got, newKid, oldKid)
	}
	if _, err := env.mgr.Verify(ctx, before.AccessToken); err != nil {
		t.Fatalf("token signed before rotation refused: %v", err)
	}
	after, _ := env.mgr.Issue(ctx, Subject{User: "alice"})
	if _, err := env.mgr.Verify(ctx, after.AccessToken); err != nil {
		t.Fatalf("token signed after rotation refused: %v", err)
	}

	// Within retention (MaxTokenTTL 1h + slack) nothing is dropped.
	env.clock.Advance(time.Hour)
	if rotated, err := env.signer.RotateIfDue(ctx); err != nil || rotated {
		t.Fatalf("RotateIfDue = %v, %v; want no rotation", rotated, err)
	}
	if n := len(mustJWKS(t, env.signer).Keys); n != 2 {
		t.Fatalf("old key dropped before retention ended: %d keys", n)
	}

	// After retention the old key goes, from memory and from the store.
	env.clock.Advance(retentionSlack)
	if _, err := env.signer.RotateIfDue(ctx); err != nil {
		t.Fatal(err)
	}
	if got := kids(mustJWKS(t, env.signer)); len(got) != 1 || got[0] != newKid {
		t.Fatalf("after retention kids = %v, want [%s]", got, newKid)
	}
	if stored, _ := env.keys.Load(ctx); len(stored) != 1 {
		t.Fatalf("store still has %d keys", len(stored))
	}
	if _, err := env.mgr.Verify(ctx, before.AccessToken); err == nil {
		t.Fatal("token of a dropped key accepted")
	}
}

func TestRotateIfDue(t *testing.T) {
	ctx := context.Background()
	env := newTestEnv(t, Config{})
	env.clock.Advance(DefaultRotationPeriod - time.Second)
	if rotated, _ := env.signer.RotateIfDue(ctx); rotated {
		t.Fatal("rotated before the period ended")
	}
	env.clock.Advance(time.Second)
	if rotated, err := env.signer.RotateIfDue(ctx); err != nil || !rotated {
		t.Fatalf("RotateIfDue = %v, %v; want a rotation", rotated, err)
	}
}

func TestNewSignerRotatesStaleKey(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	store := &MemoryKeyStore{}
	first, err := NewSigner(ctx, store, SignerOptions{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	oldKid, _ := first.SigningKey()

	clock.Advance(25 * time.Hour) // gantry was down for a day
	second, err := NewSigner(ctx, store, SignerOptions{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	newKid, _ := second.SigningKey()
	if newKid == oldKid {
		t.Fatal("stale key still current after start")
	}
	// The stale key signed nothing for a day, but was retired only now:
	// it is kept for its retention, which is harmless.
	if got := kids(mustJWKS(t, second)); len(got) != 2 {
		t.Fatalf("kids = %v, want 2", got)
	}
}

func TestNewSignerRejectsCorruptStore(t *testing.T) {
	ctx := context.Background()
	good := &MemoryKeyStore{}
	if _, err := NewSigner(ctx, good, SignerOptions{}); err != nil {
		t.Fatal(err)
	}
	stored, _ := good.Load(ctx)
	other := &MemoryKeyStore{}
	if _, err := NewSigner(ctx, other, SignerOptions{}); err != nil {
		t.Fatal(err)
	}
	otherKeys, _ := other.Load(ctx)

	tests := map[string]func(k *StoredKey){
		"not PEM":      func(k *StoredKey) { k.PrivateKeyPEM = []byte("garbage") },
		"kid mismatch": func(k *StoredKey) { k.ID = otherKeys[0].ID },
		"no created":   func(k *StoredKey) { k.Created = time.Time{} },
		"wrong PEM type": func(k *StoredKey) {
			k.PrivateKeyPEM = []byte(strings.ReplaceAll(string(k.PrivateKeyPEM), "PRIVATE KEY", "PUBLIC KEY"))
		},
	}
	for name, corrupt := range tests {
		t.Run(name, func(t *testing.T) {
			k := cloneStoredKeys(stored)[0]
			corrupt(&k)
			_, err := NewSigner(ctx, &MemoryKeyStore{keys: []StoredKey{k}}, SignerOptions{})
			if err == nil {
				t.Fatal("corrupt key accepted")
			}
			if !strings.Contains(err.Error(), "delete the key store") {
				t.Errorf("error %q does not say how to fix it", err)
			}
			if strings.Contains(err.Error(), "BEGIN") {
				t.Errorf("error %q quotes key material", err)
			}
		})
	}
}

func TestPublicKeysMatchJWKS(t *testing.T) {
	env := newTestEnv(t, Config{})
	env.clock.Advance(time.Hour)
	if err := env.signer.Rotate(context.Background()); err != nil {
		t.Fatal(err)
	}
	set := mustJWKS(t, env.signer)
	pubs := env.signer.PublicKeys()
	current, _ := env.signer.SigningKey()
	if len(pubs) != 2 || pubs[0].ID != current {
		t.Fatalf("PublicKeys = %v, want 2 with the current %s first", pubs, current)
	}
	for i, p := range pubs {
		jwk, err := jsonWebKey(p.ID, p.Key)
		if err != nil || jwk != set.Keys[i] || p.Algorithm != SigningAlgorithm {
			t.Errorf("key %d: PublicKeys and JWKS differ", i)
		}
	}
}

// Two replicas of gantry share one key store: when the leader rotates, a
// token it signs with its new key verifies at once on the other replica (it
// reads the store again for a key it does not know), which also signs with
// the new key from then on.
func TestReplicaFollowsTheLeadersRotation(t *testing.T) {
	ctx := context.Background()
	leader := newTestEnv(t, Config{})
	other, err := NewSigner(ctx, leader.keys, SignerOptions{Now: leader.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	otherMgr, err := NewManager(other, leader.refresh, Config{Issuer: testIssuer, Now: leader.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := leader.signer.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	pair, err := leader.mgr.Issue(ctx, Subject{User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := otherMgr.Verify(ctx, pair.AccessToken); err != nil {
		t.Fatalf("a token signed with the leader's new key, on the other replica: %v", err)
	}
	if got, want := kids(mustJWKS(t, other))[0], kids(mustJWKS(t, leader.signer))[0]; got != want {
		t.Errorf("the other replica's current key %s, want the leader's %s", got, want)
	}
}
