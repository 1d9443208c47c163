package sso

import (
	"testing"
	"time"
)

// The provider may send the browser back to another replica of gantry than
// the one that started the sign-in: sealers of one client secret open each
// other's cookies; another secret's (or a public client's) do not.
func TestSealerSharedByClientSecret(t *testing.T) {
	a, err := newSealer("client-secret")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := newSealer("client-secret")
	other, _ := newSealer("another-secret")
	public, _ := newSealer("")
	p := pending{State: "s", Nonce: "n", Verifier: "v", Return: "/", Expires: time.Now().Add(time.Minute)}
	sealed, err := a.seal(p)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := b.open(sealed, time.Now()); err != nil || got.State != "s" {
		t.Errorf("another replica's sealer: %+v %v", got, err)
	}
	for name, s := range map[string]sealer{"another client secret": other, "a public client": public} {
		if _, err := s.open(sealed, time.Now()); err == nil {
			t.Errorf("%s opened the cookie", name)
		}
	}
}
