// Package server is gantry's HTTP server: health and readiness probes, Prometheus
// metrics, and (as later parts land) the REST API, the virtual-cluster proxy and the
// UI. It binds loopback unless told otherwise.
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
)

// Check reports whether one part of gantry is ready; nil means ready.
type Check func(ctx context.Context) error

// Server serves gantry's HTTP endpoints.
type Server struct {
	listener net.Listener
	mux      *http.ServeMux
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
	s := &Server{listener: l, mux: http.NewServeMux(), checks: map[string]Check{}, scheme: "http"}
	if tlsConfig != nil {
		s.listener, s.scheme = tls.NewListener(l, tlsConfig), "https"
	}
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	s.mux.HandleFunc("GET /readyz", s.readyz)
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.listener.Addr().String() }

// URL is the server's base URL.
func (s *Server) URL() string { return s.scheme + "://" + s.Addr() }

// Handle registers a handler (http.ServeMux patterns).
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// ServeMetrics exposes the given registries at /metrics to callers that auth
// accepts (any authenticated caller: scrape with a bearer token, such as an
// access key); nil auth leaves them open.
func (s *Server) ServeMetrics(auth func(*http.Request) error, gatherers ...prometheus.Gatherer) {
	h := promhttp.HandlerFor(prometheus.Gatherers(gatherers), promhttp.HandlerOpts{})
	s.mux.Handle("GET /metrics", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if auth != nil {
			if err := auth(r); err != nil {
				http.Error(w, "Unauthorized: "+err.Error(), http.StatusUnauthorized)
				return
			}
		}
		h.ServeHTTP(w, r)
	}))
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
	srv := &http.Server{Handler: s.mux, ReadHeaderTimeout: 10 * time.Second}
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
