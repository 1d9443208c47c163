package server

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"gantry.dev/gantry/internal/api"
	"gantry.dev/gantry/internal/identity/authn"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestProbesAndMetrics(t *testing.T) {
	s, err := Listen("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "gantry_test_total", Help: "test"})
	reg.MustRegister(c)
	c.Inc()
	// One caller, "scraper", with the token "t".
	s.Route(api.NewRouter(bearer("t"), nil), reg)
	ready := errors.New("host not ready")
	s.AddCheck("host", func(context.Context) error { return ready })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Serve(ctx)

	if code, _ := get(t, s.URL()+"/healthz"); code != 200 {
		t.Fatalf("healthz %d", code)
	}
	if code, body := get(t, s.URL()+"/readyz"); code != 503 || !strings.Contains(body, "host not ready") {
		t.Fatalf("readyz before ready: %d %q", code, body)
	}
	ready = nil
	if code, body := get(t, s.URL()+"/readyz"); code != 200 || !strings.Contains(body, "ok") {
		t.Fatalf("readyz when ready: %d %q", code, body)
	}
	if code, body := get(t, s.URL()+"/metrics"); code != 401 {
		t.Fatalf("metrics without credentials: %d %q", code, body)
	}
	req, _ := http.NewRequest("GET", s.URL()+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer t")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if body, _ := io.ReadAll(resp.Body); !strings.Contains(string(body), "gantry_test_total 1") {
		t.Fatalf("metrics: %q", body)
	}
}

// bearer accepts one token.
type bearer string

func (b bearer) Authenticate(r *http.Request) (authn.Identity, error) {
	if r.Header.Get("Authorization") != "Bearer "+string(b) {
		return authn.Identity{}, authn.ErrNoCredentials
	}
	return authn.Identity{User: "scraper"}, nil
}

func TestServeNeedsRoutes(t *testing.T) {
	s, err := Listen("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(context.Background()); err == nil || !strings.Contains(err.Error(), "call Route") {
		t.Fatalf("serving without routes: %v", err)
	}
}

func TestPortInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, err = Listen(l.Addr().String(), nil)
	if err == nil || !strings.Contains(err.Error(), "already in use") || !strings.Contains(err.Error(), "--http-addr") {
		t.Fatalf("got %v", err)
	}
}
