package oidcprovider

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"gantry.dev/gantry/internal/identity/sessions"
	"gantry.dev/gantry/internal/kubetest"
)

// pinned sends every request to one replica (header X-Replica), as a load
// balancer may.
type pinned struct {
	rt      http.RoundTripper
	replica string
}

func (p pinned) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Replica", p.replica)
	return p.rt.RoundTrip(r)
}

// on is the context of a relying party's calls that reach replica.
func (e *env) on(replica string) context.Context {
	return gooidc.ClientContext(context.Background(), e.client(replica))
}

func (e *env) client(replica string) *http.Client {
	return &http.Client{Transport: pinned{e.srv.Client().Transport, replica}}
}

// TestReplicasShareSignIns runs two providers, two replicas of gantry, on
// one real API server: any step of a sign-in and any token call may reach
// either, as behind a Service without session affinity, or with it for the
// browser but not for Argo CD's server-side code exchange.
func TestReplicasShareSignIns(t *testing.T) {
	kt := kubetest.Shared(t, kubetest.Options{CRDs: true})
	ns := kt.Namespace(t)
	ctx := context.Background()
	keys := sessions.SecretKeyStore{Client: kt.Client, Namespace: ns, Name: "gantry-session-keys"}
	e := newEnvOn(t, kt.Client, ns, keys)
	signerB, err := sessions.NewSigner(ctx, keys, sessions.SignerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a, b := e.newProvider(e.signer), e.newProvider(signerB)
	e.replicas.Store(&[]*Provider{a, b})

	const redirect = "https://argocd.example.com/auth/callback"
	secret := e.register(ClientSpec{ID: "argocd", Name: "Argo CD", RedirectURIs: []string{redirect}})
	r := e.rp("argocd", secret, redirect, "openid", "profile", "groups", "offline_access")
	var codes, tokens []string // what must be stored nowhere in clear

	// The browser on A, the code exchanged on B: Argo CD's flow behind a
	// Service with ClientIP affinity.
	f := newFlow()
	browserA := e.browser()
	browserA.Transport = pinned{browserA.Transport, "a"}
	pg := e.openLogin(browserA, r.authURL(f))
	var next struct{ Redirect string }
	if err := json.Unmarshal([]byte(read(t, e.postLogin(browserA, credentials(pg, "alice", "correct horse")))), &next); err != nil || next.Redirect == "" {
		t.Fatalf("signing in on A: %v", err)
	}
	resp, err := browserA.Get(next.Redirect)
	if err != nil {
		t.Fatal(err)
	}
	code := callback(t, resp, redirect).Get("code")
	// The callback replayed on B mints no second code.
	browserB := e.browser()
	browserB.Transport = pinned{browserB.Transport, "b"}
	if resp, err = browserB.Get(next.Redirect); err != nil {
		t.Fatal(err)
	}
	if body := read(t, resp); strings.Contains(resp.Header.Get("Location"), "code=") {
		t.Errorf("the callback replayed on B issued another code: %d %s\n%s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	tok, err := r.conf.Exchange(e.on("b"), code, oauth2.VerifierOption(f.verifier))
	if err != nil {
		t.Fatalf("a code issued on A, exchanged on B: %v", err)
	}
	if _, c := r.verify(tok); c.Subject != "alice" || c.Nonce != f.nonce {
		t.Errorf("ID token from B: %+v", c)
	}
	codes, tokens = append(codes, code), append(tokens, tok.AccessToken, tok.RefreshToken, jti(t, tok.AccessToken))

	// B's access token at A's userinfo.
	info, err := r.provider.UserInfo(e.on("a"), oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("userinfo on A with B's access token: %v", err)
	}
	var ic idClaims
	_ = info.Claims(&ic)
	if info.Subject != "alice" || !slices.Equal(ic.Groups, []string{"team:platform", "gantry:project:shop:admin"}) {
		t.Errorf("userinfo on A: %+v %+v", info, ic)
	}

	// No affinity at all: every step of the browser's and the client's on
	// the replica after the last one. A code redeemed on A is refused on B.
	f2 := newFlow()
	code2 := e.signIn(r, f2, "bob", "battery staple")
	tok2, err := r.conf.Exchange(e.on("a"), code2, oauth2.VerifierOption(f2.verifier))
	if err != nil {
		t.Fatalf("a sign-in over both replicas, exchanged on A: %v", err)
	}
	if _, err := r.conf.Exchange(e.on("b"), code2, oauth2.VerifierOption(f2.verifier)); !isInvalidGrant(err) {
		t.Errorf("a code redeemed on A, again on B: %v, want invalid_grant", err)
	}
	codes, tokens = append(codes, code2), append(tokens, tok2.AccessToken, tok2.RefreshToken, jti(t, tok2.AccessToken))

	// Both replicas redeem one code at the same moment: exactly one wins.
	for i := range 5 {
		f := newFlow()
		code := e.signIn(r, f, "bob", "battery staple")
		codes = append(codes, code)
		var wg sync.WaitGroup
		var mu sync.Mutex
		var won []*oauth2.Token
		var lost []error
		for _, replica := range []string{"a", "b"} {
			wg.Go(func() {
				tok, err := r.conf.Exchange(e.on(replica), code, oauth2.VerifierOption(f.verifier))
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					lost = append(lost, err)
					return
				}
				won = append(won, tok)
			})
		}
		wg.Wait()
		if len(won) != 1 || len(lost) != 1 || !isInvalidGrant(lost[0]) {
			t.Fatalf("round %d: one code redeemed on both replicas at once: %d tokens, errors %v; want one token and invalid_grant", i, len(won), lost)
		}
		tokens = append(tokens, won[0].AccessToken, won[0].RefreshToken, jti(t, won[0].AccessToken))
	}

	// A refresh token issued on A rotates on B.
	tok3, err := r.conf.TokenSource(e.on("b"), &oauth2.Token{RefreshToken: tok2.RefreshToken, Expiry: time.Unix(1, 0)}).Token()
	if err != nil {
		t.Fatalf("refreshing on B a token issued on A: %v", err)
	}
	tokens = append(tokens, tok3.AccessToken, tok3.RefreshToken, jti(t, tok3.AccessToken))

	// Revoked on one replica, refused on the other.
	if err := revokeWith(e, e.client("b"), "argocd", secret, tok.AccessToken, "access_token"); err != nil {
		t.Fatalf("revoking on B: %v", err)
	}
	if _, err := r.provider.UserInfo(e.on("a"), oauth2.StaticTokenSource(tok)); err == nil {
		t.Error("userinfo on A accepts an access token revoked on B")
	}
	if err := revokeWith(e, e.client("a"), "argocd", secret, tok3.RefreshToken); err != nil {
		t.Fatalf("revoking on A: %v", err)
	}
	if _, err := r.conf.TokenSource(e.on("b"), &oauth2.Token{RefreshToken: tok3.RefreshToken, Expiry: time.Unix(1, 0)}).Token(); err == nil {
		t.Error("B refreshes a refresh token revoked on A")
	}

	// Codes and tokens are stored only as their SHA-256: in no Secret's
	// name, label or value.
	var list corev1.SecretList
	if err := kt.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for _, s := range list.Items {
		meta, _ := json.Marshal(s.ObjectMeta)
		stored := string(meta)
		for _, v := range s.Data {
			stored += "\n" + string(v)
		}
		for _, v := range append(slices.Clone(codes), tokens...) {
			if strings.Contains(stored, v) {
				t.Errorf("Secret %s holds a code or token in clear", s.Name)
			}
		}
	}

	// A sign-in abandoned on A and every expired record go at the sweep,
	// which either replica may run.
	abandoned := e.browser() // no session: A sends it to the sign-in page
	abandoned.Transport = pinned{abandoned.Transport, "a"}
	e.openLogin(abandoned, r.authURL(newFlow()))
	count := func(label string) int {
		t.Helper()
		var list corev1.SecretList
		if err := kt.Client.List(ctx, &list, client.InNamespace(ns), client.MatchingLabels{label: "true"}); err != nil {
			t.Fatal(err)
		}
		return len(list.Items)
	}
	if n, m := count(LabelAuthRequest), count(LabelAccessToken); n != 1 || m != 7 {
		t.Errorf("before the sweep: %d sign-ins, %d access token records; want the abandoned one and 7", n, m)
	}
	later := time.Now().Add(AccessTokenLifetime + time.Minute)
	e.now.Store(&later)
	if err := b.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if n, m, k := count(LabelAuthRequest), count(LabelAccessToken), count(LabelRefreshToken); n != 0 || m != 0 || k != 6 {
		t.Errorf("after the sweep: %d sign-ins, %d access token records, %d refresh tokens; want 0, 0 and the 6 live ones", n, m, k)
	}
	if err := a.Sweep(ctx); err != nil {
		t.Errorf("a second sweep, on the other replica: %v", err)
	}
}

func isInvalidGrant(err error) bool {
	var re *oauth2.RetrieveError
	return errors.As(err, &re) && re.ErrorCode == "invalid_grant"
}

// jti reads an access token's jti (the JWT is verified elsewhere).
func jti(t *testing.T, accessToken string) string {
	t.Helper()
	parts := strings.Split(accessToken, ".")
	if len(parts) != 3 {
		t.Fatalf("the access token is not a JWT")
	}
	payload, err := base64URLDecode(parts[1])
	var c struct{ JTI string }
	if err != nil || json.Unmarshal(payload, &c) != nil || c.JTI == "" {
		t.Fatalf("the access token has no jti: %v", err)
	}
	return c.JTI
}
