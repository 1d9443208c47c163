// Package server is gantry's HTTP server: the listener (bound before anything
// starts, loopback unless told otherwise), TLS, the health and readiness
// probes and Prometheus metrics. It serves one api.Router, on which the
// platform registers everything else (the REST API, the virtual-cluster proxy,
// the UI); the server has no mux of its own.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"gantry.dev/gantry/internal/api"
)

// Check reports whether one part of gantry is ready; nil means ready.
type Check func(ctx context.Context) error

// Server serves gantry's HTTP endpoints.
type Server struct {
	listener net.Listener
	handler  http.Handler
	scheme   string

	mu     sync.RWMutex
	checks map[string]Check
}

// Listen binds addr now, so that a port in use is reported before anything starts.
// With a TLS configuration the server speaks HTTPS.
func Listen(addr string, tlsConfig *tls.Config) (*Server, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("HTTP address %s is already in use; stop what listens there or choose another with --http-addr", addr)
		}
		return nil, fmt.Errorf("cannot listen on HTTP address %s: %w; choose another with --http-addr", addr, err)
	}
	s := &Server{listener: l, checks: map[string]Check{}, scheme: "http"}
	if tlsConfig != nil {
		s.listener, s.scheme = tls.NewListener(l, tlsConfig), "https"
	}
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.listener.Addr().String() }

// URL is the server's base URL.
func (s *Server) URL() string { return s.scheme + "://" + s.Addr() }

// Route makes the server serve r, adding the probes (public) and the given
// registries at /metrics (for any authenticated caller: scrape with a bearer
// token, such as an access key). Call it once, before Serve.
func (s *Server) Route(r *api.Router, gatherers ...prometheus.Gatherer) {
	r.Public("GET /healthz", "liveness probe: says only that the process answers",
		http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") }))
	r.Public("GET /readyz", "readiness probe: says which part is not ready, never a secret", http.HandlerFunc(s.readyz))
	metrics := promhttp.HandlerFor(prometheus.Gatherers(gatherers), promhttp.HandlerOpts{})
	r.Handle("GET /metrics", func(w http.ResponseWriter, req *http.Request, _ *api.Caller) error {
		metrics.ServeHTTP(w, req)
		return nil
	})
	s.handler = r
}

// AddCheck registers a readiness check under a name shown by /readyz?verbose.
func (s *Server) AddCheck(name string, c Check) {
	s.mu.Lock()
	s.checks[name] = c
	s.mu.Unlock()
}

// Ready runs every check.
func (s *Server) Ready(ctx context.Context) (bool, []string) {
	s.mu.RLock()
	names := make([]string, 0, len(s.checks))
	for n := range s.checks {
		names = append(names, n)
	}
	checks := s.checks
	s.mu.RUnlock()
	sort.Strings(names)
	ok := len(names) > 0
	var lines []string
	for _, n := range names {
		if err := checks[n](ctx); err != nil {
			ok = false
			lines = append(lines, fmt.Sprintf("[-] %s: %v", n, err))
		} else {
			lines = append(lines, "[+] "+n+" ok")
		}
	}
	return ok, lines
}

// readyz answers like kube-apiserver's: 200 "ok", or 503 with what is not ready.
// Check errors say which part is not ready, never secrets.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	ok, lines := s.Ready(ctx)
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	if _, verbose := r.URL.Query()["verbose"]; verbose || !ok {
		fmt.Fprintln(w, strings.Join(lines, "\n"))
	}
	if ok {
		fmt.Fprintln(w, "ok")
	} else {
		fmt.Fprintln(w, "not ready")
	}
}

// Serve serves until ctx ends, then shuts down gracefully.
func (s *Server) Serve(ctx context.Context) error {
	if s.handler == nil {
		return errors.New("the HTTP server has no routes: call Route before Serve")
	}
	srv := &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(s.listener) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		return nil
	}
}
