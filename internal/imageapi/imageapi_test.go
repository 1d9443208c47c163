package imageapi

import (
	"context"
	"io"
	"net/http"
	"os"
	"testing"

	"gantry.dev/gantry/internal/api/apitest"
	"gantry.dev/gantry/internal/identity/authn"
)

func TestMain(m *testing.M) { os.Exit(apitest.Main(m)) }

// fakeNode stands in for the real node (realnode's test loads through ctr).
type fakeNode struct{ loaded [][]byte }

func (f *fakeNode) Name() string { return "real-node-1" }
func (f *fakeNode) LoadImages(_ context.Context, r io.Reader) ([]string, error) {
	b, err := io.ReadAll(r)
	f.loaded = append(f.loaded, b)
	return []string{"example.local/web:v1"}, err
}
func (f *fakeNode) ListImages(context.Context) ([]Image, error) {
	return []Image{{Name: "example.local/web:v1", Digest: "sha256:ab", Size: "1.0 MiB"}}, nil
}

// Loading an image is the admin's: every pod of every project may then run
// it. Readers list; project members and callers without credentials do neither.
func TestImagesNeedAdminToLoadAndReadonlyToList(t *testing.T) {
	node := &fakeNode{}
	var store Store = node
	env := apitest.New(t, apitest.Options{Policy: "g, viewer, role:readonly\ng, admin, role:admin"})
	(&API{Node: func() Store { return store }}).Register(env.Router)
	env.Tokens.Set("admin", authn.Identity{User: "admin", Via: "session"})
	env.Tokens.Set("viewer", authn.Identity{User: "viewer", Via: "session"})
	env.Tokens.Set("member", authn.Identity{User: "member", Via: "session"})

	env.Expect("", "POST", Prefix, "archive", http.StatusUnauthorized)
	env.Expect("member", "POST", Prefix, "archive", http.StatusForbidden)
	env.Expect("viewer", "POST", Prefix, "archive", http.StatusForbidden)
	env.Expect("member", "GET", Prefix, nil, http.StatusForbidden)
	if len(node.loaded) != 0 {
		t.Fatalf("a refused caller loaded %d archives", len(node.loaded))
	}
	env.Expect("viewer", "GET", Prefix, nil, http.StatusOK, "example.local/web:v1")
	env.Expect("admin", "POST", Prefix, []byte("archive bytes"), http.StatusCreated, "example.local/web:v1", "real-node-1")
	if len(node.loaded) != 1 || string(node.loaded[0]) != "archive bytes" {
		t.Errorf("loaded %q, want the body as sent", node.loaded)
	}

	store = nil // no real node (any more)
	env.Expect("admin", "POST", Prefix, "archive", http.StatusConflict, "no real node")
	env.Expect("viewer", "GET", Prefix, nil, http.StatusConflict, "no real node")
}
