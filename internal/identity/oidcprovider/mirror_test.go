package oidcprovider

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
)

// discoveryRewrite is what kube-apiserver's JWT authenticator does with an
// AuthenticationConfiguration's discoveryURL: the issuer's well-known URL is
// fetched from discovery instead; every other request goes where it says.
// The issuer's own host is unreachable, as gantry's 127.0.0.1 is from a pod.
type discoveryRewrite struct {
	base               http.RoundTripper
	wellKnown          string
	discovery          *url.URL
	issuerHost         string
	toMirror, toIssuer int
}

func (d *discoveryRewrite) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.String() == d.wellKnown {
		r = r.Clone(r.Context())
		r.URL, r.Host = d.discovery, d.discovery.Host
	}
	if r.URL.Host == d.issuerHost {
		d.toIssuer++
		return nil, fmt.Errorf("%s is unreachable from here", d.issuerHost)
	}
	d.toMirror++
	return d.base.RoundTrip(r)
}

// TestMirror: a relying party that cannot reach the issuer verifies the
// issuer's tokens with the discovery document and keys of the mirror, which
// names the issuer as it is and its own keys URL; a rotation shows there.
func TestMirror(t *testing.T) {
	e := newEnv(t)
	mux := http.NewServeMux()
	var base string
	mux.HandleFunc("/elsewhere/", func(w http.ResponseWriter, r *http.Request) {
		e.provider.Load().ServeMirror(w, r, base)
	})
	mirror := httptest.NewTLSServer(mux)
	t.Cleanup(mirror.Close)
	base = mirror.URL + "/elsewhere"

	resp, err := mirror.Client().Get(base + MirrorDiscoveryPath)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Issuer string `json:"issuer"`
		JWKS   string `json:"jwks_uri"`
	}
	if err := json.Unmarshal([]byte(read(t, resp)), &d); err != nil {
		t.Fatal(err)
	}
	if d.Issuer != e.issuer || d.JWKS != base+MirrorKeysPath {
		t.Errorf("the mirror's document names issuer %q and keys %q; want %q and %q", d.Issuer, d.JWKS, e.issuer, base+MirrorKeysPath)
	}
	for path, want := range map[string]int{"/elsewhere/authorize": 404, "/elsewhere/oauth/token": 404, "/keys": 404} {
		resp, err := mirror.Client().Get(mirror.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s at the mirror: %d, want %d", path, resp.StatusCode, want)
		}
	}
	if resp, err := mirror.Client().Post(base+MirrorKeysPath, "text/plain", strings.NewReader("x")); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST to the mirror: %v %v", resp, err)
	}

	issuerURL, _ := url.Parse(e.issuer)
	discovery, _ := url.Parse(base + MirrorDiscoveryPath)
	rt := &discoveryRewrite{base: mirror.Client().Transport, wellKnown: e.issuer + "/.well-known/openid-configuration",
		discovery: discovery, issuerHost: issuerURL.Host}
	ctx := gooidc.ClientContext(context.Background(), &http.Client{Transport: rt})
	provider, err := gooidc.NewProvider(ctx, e.issuer)
	if err != nil {
		t.Fatalf("discovery through the mirror: %v", err)
	}
	verifier := provider.Verifier(&gooidc.Config{ClientID: "gantry:vcluster:p-shop/dev"})
	verify := func(what string) {
		t.Helper()
		raw, _, err := e.provider.Load().IssueIDToken(context.Background(), "alice", []string{"team:platform"}, "gantry:vcluster:p-shop/dev", 10*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		id, err := verifier.Verify(ctx, raw)
		if err != nil {
			t.Fatalf("%s: a token verified with the mirror's keys: %v", what, err)
		}
		if id.Subject != "alice" || id.Issuer != e.issuer {
			t.Errorf("%s: subject %q issuer %q", what, id.Subject, id.Issuer)
		}
		other, _, _ := e.provider.Load().IssueIDToken(context.Background(), "alice", nil, "gantry:vcluster:p-shop/qa", 10*time.Minute)
		if _, err := verifier.Verify(ctx, other); err == nil {
			t.Errorf("%s: a token for another virtual cluster verified", what)
		}
	}
	verify("first key")
	old, _ := e.signer.SigningKey()
	if err := e.signer.Rotate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if current, _ := e.signer.SigningKey(); current == old {
		t.Fatal("the key did not rotate")
	}
	verify("after a rotation")
	if rt.toIssuer != 0 || rt.toMirror < 3 {
		t.Errorf("%d requests went to the issuer, %d to the mirror: want none and every one", rt.toIssuer, rt.toMirror)
	}
}
