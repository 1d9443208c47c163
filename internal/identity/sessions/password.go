package sessions

import (
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
)

const (
	// PasswordCost is the bcrypt cost, the same as Argo CD's: about 50 ms a
	// check on one core, which bounds guessing without making login slow.
	PasswordCost = bcrypt.DefaultCost
	// MinPasswordLength is the shortest password the policy accepts, in
	// characters.
	MinPasswordLength = 8
	// MaxPasswordBytes is bcrypt's input limit; longer passwords would be
	// silently truncated by other implementations, so they are refused.
	MaxPasswordBytes = 72

	// dummyHash is a cost-10 bcrypt hash of a random string nobody knows.
	// CheckPassword compares against it when there is no hash, so a login
	// for an unknown user takes as long as one for a known user.
	dummyHash = "$2a$10$jWj4h0yEe0wHjKV5IRaIV.k1HWFUjk2wPUvWyMQ/FlpJlqxN.2r7u"
)

// HashPassword returns the bcrypt hash of password, to be stored instead of
// it. It does not apply the policy: call CheckPasswordPolicy first for
// passwords chosen by people.
func HashPassword(password string) (string, error) {
	if len(password) > MaxPasswordBytes {
		return "", fmt.Errorf("%w: it is longer than %d bytes, choose a shorter one", ErrPasswordPolicy, MaxPasswordBytes)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), PasswordCost)
	if err != nil {
		return "", fmt.Errorf("hashing password: %w", err)
	}
	return string(hash), nil
}

// CheckPassword reports whether password matches hash. The comparison is
// bcrypt's, which is constant-time. An empty hash (unknown user, or a user
// without a password) is compared against a dummy hash, so callers can pass
// "" and still spend the same time as for a real user, which keeps user
// names from being discovered by timing.
func CheckPassword(hash, password string) bool {
	if hash == "" {
		_ = bcrypt.CompareHashAndPassword([]byte(dummyHash), []byte(password))
		return false
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
}

// CheckPasswordPolicy returns an error wrapping ErrPasswordPolicy when
// password may not be set for username. The error never contains the
// password.
func CheckPasswordPolicy(username, password string) error {
	var problems []error
	if n := utf8.RuneCountInString(password); n < MinPasswordLength {
		problems = append(problems, fmt.Errorf("%w: it has %d characters, use at least %d",
			ErrPasswordPolicy, n, MinPasswordLength))
	}
	if len(password) > MaxPasswordBytes {
		problems = append(problems, fmt.Errorf("%w: it is longer than %d bytes, choose a shorter one",
			ErrPasswordPolicy, MaxPasswordBytes))
	}
	if username != "" && strings.EqualFold(strings.TrimSpace(password), strings.TrimSpace(username)) {
		problems = append(problems, fmt.Errorf("%w: it is the user name, choose something else",
			ErrPasswordPolicy))
	}
	return errors.Join(problems...)
}

// GeneratePassword returns a random password (26 characters, 130 bits) for
// the bootstrap admin. The caller shows it once and stores only its hash.
func GeneratePassword() string {
	return rand.Text()
}
