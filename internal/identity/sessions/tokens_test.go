package sessions

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestIssueVerifyRoundTrip(t *testing.T) {
	ctx := context.Background()
	env := newTestEnv(t, Config{})
	now := env.clock.Now()
	pair, err := env.mgr.Issue(ctx, Subject{User: "alice", Groups: []string{"dev", "ops"}})
	if err != nil {
		t.Fatal(err)
	}
	if !pair.ExpiresAt.Equal(now.Add(DefaultAccessTTL)) || !pair.RefreshExpiresAt.Equal(now.Add(DefaultRefreshTTL)) {
		t.Errorf("expiries %s, %s", pair.ExpiresAt, pair.RefreshExpiresAt)
	}
	if !strings.HasPrefix(pair.RefreshToken, refreshTokenPrefix) {
		t.Errorf("refresh token lacks its prefix")
	}
	if s := fmt.Sprintf("%v %+v %#v", pair, pair, pair); strings.Contains(s, pair.AccessToken) || strings.Contains(s, pair.RefreshToken) {
		t.Error("printing a TokenPair shows the tokens")
	}

	claims, err := env.mgr.Verify(ctx, pair.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if claims.User != "alice" || claims.Issuer != testIssuer || !slices.Equal(claims.Audience, []string{"gantry"}) ||
		!slices.Equal(claims.Groups, []string{"dev", "ops"}) || claims.Kind != KindSession || claims.ID == "" ||
		!claims.IssuedAt.Equal(now) || !claims.ExpiresAt.Equal(pair.ExpiresAt) {
		t.Errorf("claims %+v", claims)
	}

	// The header carries the current kid and the access token type.
	kid, _ := env.signer.SigningKey()
	header := decodeSegment(t, pair.AccessToken, 0)
	for _, want := range []string{`"alg":"ES256"`, `"kid":"` + kid + `"`, `"typ":"at+jwt"`} {
		if !strings.Contains(header, want) {
			t.Errorf("header %s lacks %s", header, want)
		}
	}
	// The refresh token is stored hashed only.
	if _, ok := env.refresh.records[pair.RefreshToken]; ok {
		t.Error("refresh token stored in plain")
	}
	if _, ok := env.refresh.records[hashToken(pair.RefreshToken)]; !ok {
		t.Error("refresh token hash not stored")
	}

	other, _ := env.mgr.Issue(ctx, Subject{User: "alice"})
	if c2, _ := env.mgr.Verify(ctx, other.AccessToken); c2 == nil || c2.ID == claims.ID {
		t.Error("two tokens share a jti")
	}
}

func decodeSegment(t *testing.T, token string, i int) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[i])
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestIssueNeedsUser(t *testing.T) {
	env := newTestEnv(t, Config{})
	if _, err := env.mgr.Issue(context.Background(), Subject{}); err == nil {
		t.Fatal("issued a session for nobody")
	}
}

func TestNewManagerChecksConfig(t *testing.T) {
	env := newTestEnv(t, Config{})
	for _, cfg := range []Config{
		{},
		{Issuer: "gantry.example.com"},
		{Issuer: "ftp://gantry.example.com"},
		{Issuer: "https://gantry.example.com?x=1"},
		{Issuer: testIssuer, AccessTTL: 2 * time.Hour}, // beyond the signer's MaxTokenTTL
	} {
		if _, err := NewManager(env.signer, env.refresh, cfg); err == nil {
			t.Errorf("config %+v accepted", cfg)
		}
	}
}

func TestVerifyExpiry(t *testing.T) {
	ctx := context.Background()
	env := newTestEnv(t, Config{})
	pair, _ := env.mgr.Issue(ctx, Subject{User: "alice"})

	env.clock.Advance(DefaultAccessTTL + DefaultLeeway - time.Second)
	if _, err := env.mgr.Verify(ctx, pair.AccessToken); err != nil {
		t.Fatalf("token refused within leeway: %v", err)
	}
	env.clock.Advance(2 * time.Second)
	_, err := env.mgr.Verify(ctx, pair.AccessToken)
	if !errors.Is(err, ErrTokenExpired) {
		t.Fatalf("err = %v, want ErrTokenExpired", err)
	}
}

func TestVerifyNotYetValid(t *testing.T) {
	ctx := context.Background()
	env := newTestEnv(t, Config{})
	pair, _ := env.mgr.Issue(ctx, Subject{User: "alice"})
	env.clock.Advance(-time.Minute) // verifier's clock behind the issuer's
	if _, err := env.mgr.Verify(ctx, pair.AccessToken); !errors.Is(err, ErrInvalidToken) || !strings.Contains(err.Error(), "clocks") {
		t.Fatalf("err = %v, want not valid yet", err)
	}
}

func TestVerifyRefusesForeignTokens(t *testing.T) {
	ctx := context.Background()
	env := newTestEnv(t, Config{})
	stranger := newTestEnv(t, Config{}) // another installation: other keys, same issuer
	fromStranger, _ := stranger.mgr.Issue(ctx, Subject{User: "alice"})
	otherAud, _ := env.manager(t, Config{Audience: "argocd"}).Issue(ctx, Subject{User: "alice"})
	otherIss, _ := env.manager(t, Config{Issuer: "https://evil.example.com"}).Issue(ctx, Subject{User: "alice"})
	good, _ := env.mgr.Issue(ctx, Subject{User: "alice", Groups: []string{"dev"}})

	// A payload edited to claim admin groups, signature kept.
	parts := strings.Split(good.AccessToken, ".")
	payload := strings.Replace(decodeSegment(t, good.AccessToken, 1), `"dev"`, `"admin"`, 1)
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(payload)) + "." + parts[2]

	// Valid signature and claims, but typ JWT as an ID token would have.
	idToken, err := env.signer.sign(&tokenClaims{RegisteredClaims: jwt.RegisteredClaims{
		Issuer: testIssuer, Subject: "alice", Audience: jwt.ClaimStrings{"gantry"}, ID: "x",
		IssuedAt: jwt.NewNumericDate(env.clock.Now()), ExpiresAt: jwt.NewNumericDate(env.clock.Now().Add(time.Minute)),
	}, Kind: KindSession}, "JWT")
	if err != nil {
		t.Fatal(err)
	}

	// alg none, and HS256 keyed with the public key (algorithm confusion).
	noneToken, _ := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"iss": testIssuer, "aud": "gantry", "sub": "alice"}).
		SignedString(jwt.UnsafeAllowNoneSignatureType)
	jwks := mustJWKS(t, env.signer)
	hmac := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": testIssuer, "aud": "gantry", "sub": "alice",
		"exp": env.clock.Now().Add(time.Minute).Unix(), "iat": env.clock.Now().Unix(), "jti": "x", "kind": "session"})
	hmac.Header["kid"] = jwks.Keys[0].KeyID
	hmac.Header["typ"] = accessTokenType
	hmacToken, _ := hmac.SignedString([]byte(jwks.Keys[0].X))

	tests := []struct {
		name, token, reason string
	}{
		{"unknown key", fromStranger.AccessToken, "key gantry does not know"},
		{"wrong audience", otherAud.AccessToken, "another audience"},
		{"wrong issuer", otherIss.AccessToken, "another issuer"},
		{"tampered payload", tampered, "signature"},
		{"ID token type", idToken, "not an access token"},
		{"alg none", noneToken, "signature"},
		{"HS256 confusion", hmacToken, "signature"},
		{"refresh token", good.RefreshToken, "malformed"},
		{"empty", "", "malformed"},
		{"too long", strings.Repeat("a", maxTokenLength+1), "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := env.mgr.Verify(ctx, tt.token)
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("err = %v, want ErrInvalidToken", err)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("error %q does not say %q", err, tt.reason)
			}
			if len(tt.token) > 10 && strings.Contains(err.Error(), tt.token[:10]) {
				t.Errorf("error %q quotes the token", err)
			}
		})
	}
}

func TestRefreshRotatesAndDetectsReuse(t *testing.T) {
	ctx := context.Background()
	env := newTestEnv(t, Config{})
	first, _ := env.mgr.Issue(ctx, Subject{User: "alice", Groups: []string{"dev"}})

	env.clock.Advance(10 * time.Minute)
	second, err := env.mgr.Refresh(ctx, first.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if second.RefreshToken == first.RefreshToken || second.AccessToken == first.AccessToken {
		t.Fatal("refresh returned the same tokens")
	}
	claims, err := env.mgr.Verify(ctx, second.AccessToken)
	if err != nil || claims.User != "alice" || !slices.Equal(claims.Groups, []string{"dev"}) {
		t.Fatalf("refreshed claims %+v, %v", claims, err)
	}

	third, err := env.mgr.Refresh(ctx, second.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}

	// The first token again: stolen. The whole family goes.
	_, err = env.mgr.Refresh(ctx, first.RefreshToken)
	if !errors.Is(err, ErrRefreshTokenReused) {
		t.Fatalf("reuse: err = %v, want ErrRefreshTokenReused", err)
	}
	if strings.Contains(err.Error(), first.RefreshToken) {
		t.Error("error quotes the refresh token")
	}
	if _, err := env.mgr.Refresh(ctx, third.RefreshToken); !errors.Is(err, ErrInvalidRefreshToken) {
		t.Fatalf("latest token after reuse: err = %v, want ErrInvalidRefreshToken", err)
	}
	if env.refresh.Len() != 0 {
		t.Errorf("%d records left after the family was revoked", env.refresh.Len())
	}
}

func TestRefreshOtherFamiliesUntouched(t *testing.T) {
	ctx := context.Background()
	env := newTestEnv(t, Config{})
	laptop, _ := env.mgr.Issue(ctx, Subject{User: "alice"})
	phone, _ := env.mgr.Issue(ctx, Subject{User: "alice"})
	if _, err := env.mgr.Refresh(ctx, laptop.RefreshToken); err != nil {
		t.Fatal(err)
	}
	_, _ = env.mgr.Refresh(ctx, laptop.RefreshToken) // reuse: revokes the laptop's family
	if _, err := env.mgr.Refresh(ctx, phone.RefreshToken); err != nil {
		t.Fatalf("another session of the same user was revoked: %v", err)
	}
}

func TestRefreshConcurrentOnlyOneWins(t *testing.T) {
	ctx := context.Background()
	env := newTestEnv(t, Config{})
	pair, _ := env.mgr.Issue(ctx, Subject{User: "alice"})
	var wg sync.WaitGroup
	results := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			_, err := env.mgr.Refresh(ctx, pair.RefreshToken)
			results <- err
		})
	}
	wg.Wait()
	close(results)
	wins := 0
	for err := range results {
		if err == nil {
			wins++
		}
	}
	if wins != 1 {
		t.Fatalf("%d concurrent refreshes with one token succeeded, want 1", wins)
	}
}

func TestRefreshExpiry(t *testing.T) {
	ctx := context.Background()
	env := newTestEnv(t, Config{RefreshTTL: time.Hour, SessionMaxAge: 90 * time.Minute})
	pair, _ := env.mgr.Issue(ctx, Subject{User: "alice"})
	env.clock.Advance(time.Hour)
	if _, err := env.mgr.Refresh(ctx, pair.RefreshToken); !errors.Is(err, ErrInvalidRefreshToken) {
		t.Fatalf("expired refresh token: err = %v", err)
	}

	// Refreshing never extends past SessionMaxAge.
	pair, _ = env.mgr.Issue(ctx, Subject{User: "alice"})
	sessionEnd := env.clock.Now().Add(90 * time.Minute)
	env.clock.Advance(50 * time.Minute)
	next, err := env.mgr.Refresh(ctx, pair.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if !next.RefreshExpiresAt.Equal(sessionEnd) {
		t.Errorf("refresh token expires %s, want the session end %s", next.RefreshExpiresAt, sessionEnd)
	}
	env.clock.Advance(40 * time.Minute)
	if _, err := env.mgr.Refresh(ctx, next.RefreshToken); !errors.Is(err, ErrInvalidRefreshToken) {
		t.Fatalf("refresh past session end: err = %v", err)
	}
}

func TestRefreshRevalidate(t *testing.T) {
	ctx := context.Background()
	disabled := errors.New("user alice is disabled")
	var fail bool
	env := newTestEnv(t, Config{Revalidate: func(_ context.Context, s Subject) (Subject, error) {
		if fail {
			return Subject{}, disabled
		}
		s.Groups = []string{"ops"}
		return s, nil
	}})
	pair, _ := env.mgr.Issue(ctx, Subject{User: "alice", Groups: []string{"dev"}})
	next, err := env.mgr.Refresh(ctx, pair.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := env.mgr.Verify(ctx, next.AccessToken); !slices.Equal(c.Groups, []string{"ops"}) {
		t.Errorf("groups not updated on refresh: %v", c.Groups)
	}
	fail = true
	if _, err := env.mgr.Refresh(ctx, next.RefreshToken); !errors.Is(err, disabled) {
		t.Fatalf("err = %v, want the revalidation error", err)
	}
	if env.refresh.Len() != 0 {
		t.Error("session kept after revalidation failed")
	}
}

func TestRevoke(t *testing.T) {
	ctx := context.Background()
	env := newTestEnv(t, Config{})
	pair, _ := env.mgr.Issue(ctx, Subject{User: "alice"})
	next, _ := env.mgr.Refresh(ctx, pair.RefreshToken)
	if err := env.mgr.Revoke(ctx, next.RefreshToken); err != nil {
		t.Fatal(err)
	}
	if _, err := env.mgr.Refresh(ctx, next.RefreshToken); !errors.Is(err, ErrInvalidRefreshToken) {
		t.Fatalf("refresh after logout: err = %v", err)
	}
	// Logout is idempotent and says nothing about unknown tokens.
	for _, tok := range []string{next.RefreshToken, pair.RefreshToken, "grt_unknown", "garbage", ""} {
		if err := env.mgr.Revoke(ctx, tok); err != nil {
			t.Errorf("Revoke(%q) = %v", tok, err)
		}
	}
}

func TestMemoryRefreshStoreCollects(t *testing.T) {
	ctx := context.Background()
	env := newTestEnv(t, Config{})
	for range 10 {
		if _, err := env.mgr.Issue(ctx, Subject{User: "alice"}); err != nil {
			t.Fatal(err)
		}
	}
	env.clock.Advance(DefaultRefreshTTL)
	// The next Put sweeps the expired ones.
	if _, err := env.mgr.Issue(ctx, Subject{User: "bob"}); err != nil {
		t.Fatal(err)
	}
	if n := env.refresh.Len(); n != 1 {
		t.Fatalf("%d records after expiry, want 1", n)
	}
	if len(env.refresh.families) != 1 {
		t.Fatalf("%d families after expiry, want 1", len(env.refresh.families))
	}
	env.clock.Advance(DefaultRefreshTTL)
	if n := env.refresh.Collect(); n != 1 || env.refresh.Len() != 0 {
		t.Fatalf("Collect removed %d, %d left", n, env.refresh.Len())
	}
}
