package sessions

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Reasons the key lookup refuses a token, told apart in verifyError.
var (
	errUnknownKey = errors.New("unknown signing key")
	errWrongType  = errors.New("not an access token")
)

// Verify checks an access token: ES256 signature by a key the Signer still
// keeps (found by kid), typ, issuer, audience, and exp/nbf/iat with the
// configured leeway. Errors wrap ErrTokenExpired or ErrInvalidToken and
// never quote the token.
func (m *Manager) Verify(_ context.Context, accessToken string) (*Claims, error) {
	if len(accessToken) > maxTokenLength {
		return nil, fmt.Errorf("%w: it is longer than %d bytes: send the access token exactly as issued", ErrInvalidToken, maxTokenLength)
	}
	var tc tokenClaims
	if _, err := m.parser.ParseWithClaims(accessToken, &tc, m.keyFor); err != nil {
		return nil, verifyError(err)
	}
	return &Claims{
		Issuer:    tc.Issuer,
		User:      tc.Subject,
		Audience:  tc.Audience,
		Groups:    tc.Groups,
		Kind:      tc.Kind,
		ID:        tc.ID,
		IssuedAt:  tc.IssuedAt.Time,
		NotBefore: numericTime(tc.NotBefore),
		ExpiresAt: tc.ExpiresAt.Time,
	}, nil
}

// keyFor is the jwt Keyfunc: it runs after alg was checked and before the
// signature is, so it only picks the key; it trusts nothing in the token.
func (m *Manager) keyFor(t *jwt.Token) (any, error) {
	if typ, _ := t.Header["typ"].(string); typ != accessTokenType {
		return nil, errWrongType
	}
	kid, _ := t.Header["kid"].(string)
	key, ok := m.signer.publicKey(kid)
	if !ok {
		return nil, errUnknownKey
	}
	return key, nil
}

// verifyError turns a jwt error into one of ours. The reasons are our own
// words, not the library's, so no part of the token can leak through them.
// Signature problems are checked before claims, and wrong audience or
// issuer before expiry, so an expired token of another issuer is "invalid".
func verifyError(err error) error {
	reason := "its claims are not valid: log in again"
	switch {
	case errors.Is(err, errWrongType):
		reason = "it is not an access token (typ is not at+jwt): send the access token, not an ID or refresh token"
	case errors.Is(err, errUnknownKey):
		reason = "it was signed by a key gantry does not know (retired, or from another installation): log in again"
	case errors.Is(err, jwt.ErrTokenMalformed):
		reason = "it is malformed: send the access token exactly as issued"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		reason = "its signature does not verify with an ES256 gantry key: log in again"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		reason = "it was issued by another issuer: log in to this gantry"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		reason = "it is meant for another audience: use a gantry session token"
	case errors.Is(err, jwt.ErrTokenExpired):
		return fmt.Errorf("%w: refresh the session or log in again", ErrTokenExpired)
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		reason = "it is not valid yet: check the clocks of client and server"
	}
	return fmt.Errorf("%w: %s", ErrInvalidToken, reason)
}

func numericTime(d *jwt.NumericDate) (t0 time.Time) {
	if d == nil {
		return t0
	}
	return d.Time
}
