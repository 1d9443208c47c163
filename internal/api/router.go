package api

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"gantry.dev/gantry/internal/identity/authn"
	"gantry.dev/gantry/internal/jsonapi"
)

// Authenticator says who makes a request; an error means 401
// (authn.Authenticator).
type Authenticator interface {
	Authenticate(r *http.Request) (authn.Identity, error)
}

// Authorize says whether subjects may act on an object; an error means 403
// (rbac.Enforcer.Authorize).
type Authorize func(subjects []string, resource, action, object string) error

// HandlerFunc serves an authenticated request. An error it returns is
// written as the answer (jsonapi.WriteError: its own code for a
// jsonapi.StatusError or a Kubernetes status error, else 500); a handler that
// has written an answer returns nil.
type HandlerFunc func(w http.ResponseWriter, r *http.Request, c *Caller) error

// Auth says how a route authenticates its callers.
type Auth string

const (
	// Authenticated routes take a bearer token or the browser's session
	// cookie (authn.CookieName).
	Authenticated Auth = "authenticated"
	// BearerOnly routes take a bearer token and ignore cookies: what a
	// browser sends on its own cannot act there (the virtual-cluster proxy,
	// whose answers may be a tenant's pages).
	BearerOnly Auth = "bearer-only"
	// Public routes need no credentials; their Reason says why.
	Public Auth = "public"
)

// Route is one registered route, as Routes reports it.
type Route struct {
	// Pattern is the ServeMux pattern: "GET /api/v1/applications/{name}", or
	// a path alone for a handler that takes every method.
	Pattern string
	Auth    Auth
	// Reason says why a public route needs no credentials.
	Reason string
}

// Method is the pattern's method, "" for every method.
func (r Route) Method() string {
	if m, _, ok := strings.Cut(r.Pattern, " "); ok {
		return m
	}
	return ""
}

// Path is the pattern's path, wildcards ({name}, {rest...}) included.
func (r Route) Path() string {
	if _, p, ok := strings.Cut(r.Pattern, " "); ok {
		return p
	}
	return r.Pattern
}

// Option changes how one route answers.
type Option func(*route)

// ErrorWriter makes the router write this route's 401 and 403 answers (and
// the errors its handler returns) with fn instead of jsonapi.Error: the
// virtual-cluster proxy answers kubectl with a Kubernetes Status.
func ErrorWriter(fn func(w http.ResponseWriter, code int, msg string)) Option {
	return func(rt *route) { rt.writeError = fn }
}

type route struct {
	Route
	writeError func(w http.ResponseWriter, code int, msg string)
	bodyLimit  int64
}

func newRoute(r Route, opts []Option) *route {
	ro := &route{Route: r, writeError: jsonapi.Error, bodyLimit: DefaultBodyLimit}
	for _, o := range opts {
		o(ro)
	}
	return ro
}

// limitBody bounds r's body as the route says (BodyLimit).
func (ro *route) limitBody(w http.ResponseWriter, r *http.Request) {
	if ro.bodyLimit > 0 && r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, ro.bodyLimit)
	}
}

// Router is gantry's HTTP routes: authentication first, then the handler.
// Register every route before serving; a Router is then safe for concurrent use.
type Router struct {
	mux       *http.ServeMux
	auth      Authenticator
	authorize Authorize
	routes    []Route
	// fallback serves what no route matches, outside /api/.
	fallback http.Handler
}

// NewRouter returns a router that authenticates with auth and authorizes
// with authorize.
func NewRouter(auth Authenticator, authorize Authorize) *Router {
	return &Router{mux: http.NewServeMux(), auth: auth, authorize: authorize}
}

// Handle registers an authenticated route: h runs only for a caller auth
// accepts (401 otherwise), and receives them.
func (rt *Router) Handle(pattern string, h HandlerFunc, opts ...Option) {
	rt.handle(Route{Pattern: pattern, Auth: Authenticated}, h, opts)
}

// HandleBearer registers a route authenticated by bearer token only.
func (rt *Router) HandleBearer(pattern string, h HandlerFunc, opts ...Option) {
	rt.handle(Route{Pattern: pattern, Auth: BearerOnly}, h, opts)
}

// Public registers a route that needs no credentials. reason says why, for
// the readers of Routes; a public route without one is a mistake (panic at
// start-up, as the ServeMux does for a bad pattern).
func (rt *Router) Public(pattern, reason string, h http.Handler, opts ...Option) {
	if strings.TrimSpace(reason) == "" {
		panic(fmt.Sprintf("api: public route %q needs a reason", pattern))
	}
	ro := newRoute(Route{Pattern: pattern, Auth: Public, Reason: reason}, opts)
	rt.mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ro.limitBody(w, r)
		h.ServeHTTP(w, r)
	}))
	rt.routes = append(rt.routes, ro.Route)
}

// Fallback makes h answer every request outside /api/ that no route matches
// (the web UI: its files and client-side routes), public for reason. It is
// not a ServeMux pattern: "/" for every method would take the methods a
// route does not serve, and "GET /" would conflict with the routes that
// take every method (the proxy, the OpenID Connect provider).
func (rt *Router) Fallback(reason string, h http.Handler) {
	if strings.TrimSpace(reason) == "" {
		panic("api: the fallback needs a reason")
	}
	rt.fallback = h
	rt.routes = append(rt.routes, Route{Pattern: "/", Auth: Public, Reason: reason})
}

func (rt *Router) handle(r Route, h HandlerFunc, opts []Option) {
	ro := newRoute(r, opts)
	rt.mux.Handle(r.Pattern, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		rt.serve(ro, h, w, req)
	}))
	rt.routes = append(rt.routes, r)
}

// serve authenticates, then runs h and writes the error it returns.
func (rt *Router) serve(ro *route, h HandlerFunc, w http.ResponseWriter, r *http.Request) {
	c := &Caller{auth: rt.auth, authorize: rt.authorize, bearerOnly: ro.Auth == BearerOnly}
	if err := c.Refresh(r); err != nil {
		ro.writeError(w, http.StatusUnauthorized, "Unauthorized: "+err.Error())
		return
	}
	ro.limitBody(w, r)
	if err := h(w, r, c); err != nil {
		var se *jsonapi.StatusError
		if errors.As(err, &se) && se.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(se.RetryAfter))
		}
		code, msg := jsonapi.StatusOf(err)
		ro.writeError(w, code, msg)
	}
}

// Routes returns every registered route, in the order of registration.
func (rt *Router) Routes() []Route { return slices.Clone(rt.routes) }

// ServeHTTP routes r. On API paths the ServeMux's own plain-text 404 and 405
// become JSON errors, and a trailing slash is ignored (as before the router:
// /api/v1/applications/ lists too); elsewhere the Fallback answers what no
// route matches.
func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if !strings.HasPrefix(p, "/api/") {
		if _, pattern := rt.mux.Handler(r); pattern == "" && rt.fallback != nil {
			rt.fallback.ServeHTTP(w, r)
			return
		}
		rt.mux.ServeHTTP(w, r)
		return
	}
	if trimmed := strings.TrimRight(p, "/"); trimmed != p && trimmed != "/api" {
		r = r.Clone(r.Context())
		r.URL.Path, r.URL.RawPath = trimmed, ""
	}
	if _, pattern := rt.mux.Handler(r); pattern != "" {
		rt.mux.ServeHTTP(w, r)
		return
	}
	// No route: the mux answers 404, or 405 with Allow; say it in JSON.
	rec := &statusRecorder{header: http.Header{}}
	rt.mux.ServeHTTP(rec, r)
	switch rec.code {
	case http.StatusMethodNotAllowed:
		allow := rec.header.Get("Allow")
		w.Header().Set("Allow", allow)
		jsonapi.Error(w, rec.code, fmt.Sprintf("%s %s is not supported: use %s", r.Method, r.URL.Path, strings.ReplaceAll(allow, ", ", " or ")))
	default:
		jsonapi.Error(w, http.StatusNotFound, "no such API path: "+r.Method+" "+r.URL.Path)
	}
}

// statusRecorder keeps the code and headers of the mux's own error answer.
type statusRecorder struct {
	header http.Header
	code   int
}

func (s *statusRecorder) Header() http.Header         { return s.header }
func (s *statusRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (s *statusRecorder) WriteHeader(code int)        { s.code = code }

// Reply makes a handler of fn, whose answer is a value to write as JSON
// with code (jsonapi.Write), or an error.
func Reply(code int, fn func(r *http.Request, c *Caller) (any, error)) HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, c *Caller) error {
		out, err := fn(r, c)
		if err != nil {
			return err
		}
		jsonapi.Write(w, code, out)
		return nil
	}
}
