package sessions

import "errors"

// Sentinel errors, for errors.Is. The errors returned wrap them with the
// reason and what to do about it; none carries a secret or a token.
var (
	// ErrPasswordPolicy: a new password does not meet the policy.
	ErrPasswordPolicy = errors.New("password does not meet the policy")

	// ErrInvalidToken: an access token is malformed, signed by an unknown
	// key, badly signed, or meant for another issuer or audience.
	ErrInvalidToken = errors.New("access token is not valid")
	// ErrTokenExpired: an access token was valid but has expired.
	ErrTokenExpired = errors.New("access token has expired")

	// ErrInvalidRefreshToken: a refresh token is unknown, expired or revoked.
	ErrInvalidRefreshToken = errors.New("refresh token is not valid")
	// ErrRefreshTokenReused: a refresh token was presented a second time. The
	// whole session (its token family) has been revoked in response.
	ErrRefreshTokenReused = errors.New("refresh token was already used")
)
