package sessions

import (
	"context"
	"strings"
	"testing"
)

// FuzzVerify feeds arbitrary strings to the access token parser. It must
// never panic, and it may accept only a token gantry issued: any accepted
// input must carry the signed header and payload of the seed token (the
// signature segment may differ only by ECDSA's harmless malleability).
func FuzzVerify(f *testing.F) {
	env := newTestEnv(f, Config{})
	ctx := context.Background()
	pair, err := env.mgr.Issue(ctx, Subject{User: "alice", Groups: []string{"dev"}})
	if err != nil {
		f.Fatal(err)
	}
	signed := pair.AccessToken[:strings.LastIndex(pair.AccessToken, ".")]

	parts := strings.Split(pair.AccessToken, ".")
	for _, seed := range []string{
		pair.AccessToken,
		pair.RefreshToken,
		"",
		"..",
		"a.b.c",
		parts[0] + "." + parts[1] + ".",
		parts[0] + ".." + parts[2],
		"." + parts[1] + "." + parts[2],
		parts[1] + "." + parts[0] + "." + parts[2],
		pair.AccessToken + ".",
		"eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0." + parts[1] + ".",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		claims, err := env.mgr.Verify(ctx, token)
		if err != nil {
			if claims != nil {
				t.Fatal("claims returned with an error")
			}
			return
		}
		if claims == nil {
			t.Fatal("no claims and no error")
		}
		if i := strings.LastIndex(token, "."); i < 0 || token[:i] != signed {
			t.Fatalf("accepted a token gantry did not sign: %q", token)
		}
	})
}
