package cluster

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"k8s.io/client-go/rest"
)

func TestProbe(t *testing.T) {
	const secretBody = "internal-metadata-do-not-show"
	mux := http.NewServeMux()
	mux.HandleFunc("/ok/version", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, secretBody, http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte(`{"major":"1","minor":"37","gitVersion":"v1.37.2"}`))
	})
	mux.HandleFunc("/plus/version", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"major":"","minor":"","gitVersion":"v1.29.4-eks-1"}`))
	})
	mux.HandleFunc("/html/version", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("<html>" + secretBody)) })
	mux.HandleFunc("/moved/version", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ok/version", http.StatusFound)
	})
	srv := httptest.NewTLSServer(mux)
	defer srv.Close()
	cfg := func(path, token string) *rest.Config {
		return &rest.Config{Host: srv.URL + path, BearerToken: token, TLSClientConfig: rest.TLSClientConfig{Insecure: true}}
	}
	for name, tc := range map[string]struct {
		cfg         *rest.Config
		status, msg string
		version     string
	}{
		"answers":          {cfg("/ok", "tok"), ConnectionSuccessful, "", "1.37"},
		"trailing slash":   {cfg("/ok/", "tok"), ConnectionSuccessful, "", "1.37"},
		"version from git": {cfg("/plus", ""), ConnectionSuccessful, "", "1.29"},
		"wrong token":      {cfg("/ok", "bad"), ConnectionFailed, "401 Unauthorized: the credentials are not accepted", ""},
		"not kubernetes":   {cfg("/html", ""), ConnectionFailed, "did not answer as a Kubernetes API server", ""},
		"redirect":         {cfg("/moved", "tok"), ConnectionFailed, "302 Found", ""},
		"untrusted":        {&rest.Config{Host: srv.URL + "/ok", BearerToken: "tok"}, ConnectionFailed, "certificate", ""},
		"nothing there":    {&rest.Config{Host: "https://127.0.0.1:1", BearerToken: "tok"}, ConnectionFailed, "connection refused", ""},
		"no config":        {nil, ConnectionUnknown, "no client configuration", ""},
	} {
		state, version := Probe(t.Context(), tc.cfg)
		if state.Status != tc.status || !strings.Contains(state.Message, tc.msg) || version != tc.version {
			t.Errorf("%s: %+v, version %q; want %s containing %q, version %q", name, state, version, tc.status, tc.msg, tc.version)
		}
		if strings.Contains(state.Message, secretBody) {
			t.Errorf("%s: the answer's body is in the message: %s", name, state.Message)
		}
		if tc.cfg != nil && state.AttemptedAt.IsZero() {
			t.Errorf("%s: no attemptedAt", name)
		}
	}
}
