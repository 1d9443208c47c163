package authn

import (
	"net/http/httptest"
	"os"
	"testing"
)

// The admin token is made once, kept 0600 in the data directory, and
// authenticates as the local admin; nothing else does.
func TestAdminToken(t *testing.T) {
	dir := t.TempDir()
	tok, err := LoadOrCreateAdminToken(dir)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(AdminTokenPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(AdminTokenPath(dir)); fi.Mode().Perm() != 0o600 {
		t.Errorf("token file mode %v, want 0600", fi.Mode().Perm())
	}
	again, err := LoadOrCreateAdminToken(dir)
	if err != nil || !again.Matches(string(data)) {
		t.Fatalf("a second start does not keep the token: %v", err)
	}
	a := &Authenticator{Admin: tok}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer "+string(data))
	if id, err := a.Authenticate(r); err != nil || id.User != AdminUser || id.Via != "admin-token" {
		t.Fatalf("admin token: %+v %v", id, err)
	}
	r.Header.Set("Authorization", "Bearer "+string(data)+"x")
	if _, err := a.Authenticate(r); err == nil {
		t.Fatal("a wrong token was accepted")
	}
}
