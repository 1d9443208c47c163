package vcproxy

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// AdminToken authenticates gantry's admin by a bearer token. The token lives in the
// data directory (0600) for the CLI to use, the way the admin kubeconfig does; the
// server keeps only its SHA-256. It gives way to users and access keys with the
// Identity work.
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

// Authenticate accepts "Authorization: Bearer <admin token>".
func (a *AdminToken) Authenticate(r *http.Request) (string, error) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		return "", errors.New("no bearer token")
	}
	sum := sha256.Sum256([]byte(tok))
	if subtle.ConstantTimeCompare(sum[:], a.sum[:]) != 1 {
		return "", errors.New("invalid token")
	}
	return "admin", nil
}
