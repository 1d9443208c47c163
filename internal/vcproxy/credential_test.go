package vcproxy

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"gantry.dev/gantry/internal/api"
)

// TestCredentialSaysWhereItAnswers: the credential carries a token for the
// cluster's audience, its address and where that address answers; a runtime
// whose API servers could not verify a token (Direct's error) gets no token
// minted, and the caller reads why.
func TestCredentialSaysWhereItAnswers(t *testing.T) {
	var minted []string
	serve := func(direct func() (string, error)) (int, Credential, string) {
		router := api.NewRouter(anyone{}, func([]string, string, string, string) error { return nil })
		(&Credentials{
			Backend: oneCluster{&rest.Config{Host: "https://10.96.0.7:6443", TLSClientConfig: rest.TLSClientConfig{CAData: []byte("ca")}}},
			Mint: func(_ context.Context, user string, _ []string, audience string, ttl time.Duration) (string, time.Time, error) {
				minted = append(minted, user+"@"+audience)
				return "token-for-" + audience, time.Now().Add(ttl), nil
			},
			Audience: func(p, n string) string { return "aud:" + p + "/" + n },
			Direct:   direct,
		}).Register(router)
		rec := httptest.NewRecorder()
		router.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/v1/virtualclusters/shop/dev/credential", nil))
		var c Credential
		_ = json.Unmarshal(rec.Body.Bytes(), &c)
		return rec.Code, c, rec.Body.String()
	}

	code, c, body := serve(func() (string, error) { return "the host's nodes and pods", nil })
	if code != http.StatusOK || c.Token != "token-for-aud:shop/dev" || c.Server != "https://10.96.0.7:6443" || c.Reach != "the host's nodes and pods" {
		t.Errorf("credential: %d %s", code, body)
	}
	code, c, body = serve(nil)
	if code != http.StatusOK || c.Token == "" || c.Reach != "" {
		t.Errorf("credential without Direct: %d %s", code, body)
	}
	minted = nil
	code, c, body = serve(func() (string, error) { return "", errors.New("no address of gantry's that pods reach") })
	if code != http.StatusNotImplemented || c.Token != "" || len(minted) != 0 {
		t.Errorf("credential where no API server could verify it: %d %s (minted %v), want 501 and none", code, body, minted)
	}
}
