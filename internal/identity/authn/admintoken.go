package authn

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// AdminToken authenticates the local admin (AdminUser) by a bearer token. The
// token lives in the data directory (0600) for the CLI on the same machine, the
// way the admin kubeconfig does; the server keeps only its SHA-256.
type AdminToken struct {
	sum [sha256.Size]byte
}

// AdminTokenPath is where the token is kept.
func AdminTokenPath(dataDir string) string { return filepath.Join(dataDir, "admin-token") }

// LoadOrCreateAdminToken reads the token, creating a random one on first use.
func LoadOrCreateAdminToken(dataDir string) (*AdminToken, error) {
	path := AdminTokenPath(dataDir)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		buf := make([]byte, 32)
		if _, err := rand.Read(buf); err != nil {
			return nil, err
		}
		data = []byte(base64.RawURLEncoding.EncodeToString(buf))
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return nil, fmt.Errorf("writing the admin token: %w", err)
		}
	} else if err != nil {
		return nil, err
	}
	return &AdminToken{sum: sha256.Sum256([]byte(strings.TrimSpace(string(data))))}, nil
}

// Matches says whether token is the admin token, in constant time.
func (a *AdminToken) Matches(token string) bool {
	sum := sha256.Sum256([]byte(token))
	return subtle.ConstantTimeCompare(sum[:], a.sum[:]) == 1
}
