// Package vcproxy is the virtual-cluster proxy in gantry's HTTP server:
// /kubernetes/project/<project>/virtualcluster/<name>/... is forwarded to that
// virtual cluster's kube-apiserver (plain requests, watches, and upgraded streams
// such as exec, attach, port-forward and logs -f). A request to a sleeping virtual
// cluster wakes it and is held until its API answers. Requests that count as
// activity keep it awake.
//
// The routes authenticate by bearer token only (api.BearerOnly): the browser's
// session cookie is not accepted, and gantry's own cookies are not passed on,
// so that a tenant's page served through a service or pod proxy cannot act as
// whoever opens it. The caller needs "virtualclusters connect" on the cluster;
// the upstream connection uses the virtual cluster's admin identity and
// impersonates the caller (gantry:<user> with their groups), so that the
// virtual cluster's own RBAC decides.
package vcproxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptrace"
	"net/http/httputil"
	"net/textproto"
	"net/url"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/streaming/pkg/httpstream"

	"gantry.dev/gantry/internal/api"
	"gantry.dev/gantry/internal/identity/authn"
	"gantry.dev/gantry/internal/identity/rbac"
	"gantry.dev/gantry/internal/jsonapi"
	"gantry.dev/gantry/internal/vcluster"
)

// Prefix is where the proxy is mounted.
const Prefix = "/kubernetes/project/"

// Backend is what the proxy needs from the virtual cluster runtime.
type Backend interface {
	// Wake makes sure the virtual cluster runs (waking it if asleep) and returns its
	// admin client configuration once its API answers, or an error (not found, failed).
	Wake(ctx context.Context, project, name string) (*rest.Config, error)
	// Awake is Wake for passive callers: a sleeping cluster stays asleep
	// (AsleepError).
	Awake(ctx context.Context, project, name string) (*rest.Config, error)
	// Activity records a request that keeps the virtual cluster awake, unless its
	// user agent is one the virtual cluster ignores.
	Activity(project, name, userAgent string)
}

// Proxy serves Prefix on an api.Router (Register).
type Proxy struct {
	Backend Backend
	// WakeTimeout bounds how long a request is held while a virtual cluster wakes.
	WakeTimeout time.Duration

	mu sync.Mutex
	// proxies keeps one reverse proxy (and so one connection pool) per upstream.
	proxies map[string]*httputil.ReverseProxy
}

// upstream returns the cached reverse proxy for cfg, making it on first use.
func (p *Proxy) upstream(cfg *rest.Config) (*httputil.ReverseProxy, error) {
	key := cfg.Host + "\x00" + string(cfg.CAData) + "\x00" + string(cfg.CertData)
	p.mu.Lock()
	defer p.mu.Unlock()
	if rp, ok := p.proxies[key]; ok {
		return rp, nil
	}
	rp, err := reverseProxy(cfg)
	if err != nil {
		return nil, err
	}
	if p.proxies == nil {
		p.proxies = map[string]*httputil.ReverseProxy{}
	}
	p.proxies[key] = rp
	return rp, nil
}

// Route is the parsed target of a proxy request.
type Route struct {
	Project, Name, Path string
}

// ParsePath splits /kubernetes/project/<p>/virtualcluster/<n>/<rest> into its parts.
func ParsePath(p string) (Route, error) {
	rest, ok := strings.CutPrefix(p, Prefix)
	if !ok {
		return Route{}, errors.New("not a virtual cluster path")
	}
	parts := strings.SplitN(rest, "/", 4)
	if len(parts) < 3 || parts[0] == "" || parts[1] != "virtualcluster" || parts[2] == "" {
		return Route{}, fmt.Errorf("path must be %s<project>/virtualcluster/<name>/...", Prefix)
	}
	r := Route{Project: parts[0], Name: parts[2], Path: "/"}
	if len(parts) == 4 {
		r.Path = path.Clean("/" + parts[3])
		if strings.HasSuffix(parts[3], "/") && r.Path != "/" {
			r.Path += "/"
		}
	}
	return r, nil
}

// Register mounts the proxy: every method, anything under a virtual
// cluster's path, bearer tokens only, errors as Kubernetes Status objects
// (kubectl prints their message), bodies as large as kubectl sends.
func (p *Proxy) Register(r *api.Router) {
	cluster := Prefix + "{project}/virtualcluster/{name}"
	for _, pattern := range []string{cluster, cluster + "/{path...}"} {
		r.HandleBearer(pattern, p.serve, api.ErrorWriter(status), api.BodyLimit(0))
	}
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request, c *api.Caller) error {
	route, err := ParsePath(r.URL.Path)
	if err != nil {
		return jsonapi.Errorf(http.StatusNotFound, "%v", err)
	}
	if err := c.Can(rbac.ResourceVirtualClusters, rbac.ActionConnect, api.VirtualCluster(route.Project, route.Name)); err != nil {
		return err
	}
	// exec, attach and port-forward are upgraded requests (the API server
	// refuses them otherwise), so the Upgrade header, not a path that would
	// have to be decoded exactly as the API server does, decides: a stream
	// into the cluster's pods needs "virtualclusters exec" too. Inside, the
	// cluster's own RBAC decides again (viewers hold the view role, no exec).
	if httpstream.IsUpgradeRequest(r) {
		if err := c.Can(rbac.ResourceVirtualClusters, rbac.ActionExec, api.VirtualCluster(route.Project, route.Name)); err != nil {
			return err
		}
	}
	id := c.Identity
	timeout := p.WakeTimeout
	if timeout == 0 {
		timeout = time.Minute
	}
	wctx, cancel := context.WithTimeout(r.Context(), timeout)
	get := p.Backend.Wake
	if id.Passive {
		get = p.Backend.Awake
	}
	cfg, err := get(wctx, route.Project, route.Name)
	cancel()
	if err != nil {
		return wakeError(err)
	}
	if !id.Passive {
		p.Backend.Activity(route.Project, route.Name, r.UserAgent())
	}
	rp, err := p.upstream(cfg)
	if err != nil {
		return jsonapi.Errorf(http.StatusBadGateway, "%v", err)
	}
	r = r.Clone(r.Context())
	r.URL.Path, r.URL.RawPath = route.Path, ""
	impersonate(r, id, c.IsAdmin())
	rp.ServeHTTP(w, r)
	return nil
}

// wakeError is the answer when a virtual cluster cannot be reached: 404 when
// there is none, 503 otherwise (asleep for a passive caller, starting, failed).
func wakeError(err error) error {
	var nf vcluster.NotFoundError
	if errors.As(err, &nf) {
		return jsonapi.Errorf(http.StatusNotFound, "%v", err)
	}
	return jsonapi.Errorf(http.StatusServiceUnavailable, "%v", err)
}

func reverseProxy(cfg *rest.Config) (*httputil.ReverseProxy, error) {
	target, err := url.Parse(cfg.Host)
	if err != nil {
		return nil, err
	}
	tlsCfg, err := rest.TLSConfigFor(cfg)
	if err != nil {
		return nil, err
	}
	// HTTP/1.1 only: upgraded streams (exec, port-forward) cannot cross HTTP/2.
	tlsCfg = tlsCfg.Clone()
	tlsCfg.NextProtos = []string{"http/1.1"}
	transport := &http.Transport{
		TLSClientConfig:     tlsCfg,
		ForceAttemptHTTP2:   false,
		TLSNextProto:        map[string]func(string, *tls.Conn) http.RoundTripper{},
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     90 * time.Second,
	}
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = target.Scheme, target.Host
			pr.Out.Host = target.Host
			// The caller's credentials are for gantry, not for the virtual cluster;
			// the Impersonate-* headers are gantry's own (impersonate dropped the
			// client's before setting them).
			pr.Out.Header.Del("Authorization")
		},
		ModifyResponse: func(resp *http.Response) error {
			confine(resp.Header)
			return nil
		},
		Transport:     confining{transport},
		FlushInterval: -1, // stream watches and logs as they come
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			status(w, http.StatusBadGateway, "virtual cluster API: "+err.Error())
		},
	}, nil
}

// confine keeps whatever a virtual cluster answers from acting as the user
// who opened it in a browser. The proxy serves on gantry's own origin, and a
// tenant controls what its services, pods and nodes answer through their
// proxy subresources (/api/v1/namespaces/<ns>/services/<svc>/proxy/..., pods
// likewise, /api/v1/nodes/<n>/proxy/...): HTML with scripts, cookies.
//
// Every response gets the same treatment, not only those whose path names a
// proxy subresource: deciding by path would mean decoding it exactly as the
// virtual kube-apiserver does (%2F, %252F, "..", "//", case, port suffixes
// such as svc:8080 or https:svc:443), and any difference would fail open.
// Nor is content type a safe test: for a proxy subresource the tenant sets it.
// The cost is nil for API clients: kubectl and client-go ignore CSP and
// nosniff, and kube-apiserver sets no cookies.
//
//   - Content-Security-Policy: sandbox (replacing any the upstream sent): the
//     page gets an opaque origin, no scripts, forms, popups or top navigation,
//     so it can neither read gantry's storage nor call gantry as the user.
//   - X-Content-Type-Options: nosniff: a JSON or text answer holding markup is
//     never rendered as HTML.
//   - No Set-Cookie (nor the obsolete Set-Cookie2): a tenant cannot plant
//     cookies on gantry's origin (say, a gantry.token of its choosing).
//   - No Clear-Site-Data: a tenant cannot wipe the user's gantry session.
//
// Informational answers (103 Early Hints) bypass ModifyResponse: the reverse
// proxy forwards them as they arrive, so confining strips them in the
// transport.
func confine(h http.Header) {
	h.Set("Content-Security-Policy", "sandbox")
	h.Set("X-Content-Type-Options", "nosniff")
	dropStateHeaders(h)
}

// dropStateHeaders removes the headers with which an answer changes what the
// browser keeps for gantry's origin.
func dropStateHeaders(h http.Header) {
	h.Del("Set-Cookie")
	h.Del("Set-Cookie2")
	h.Del("Clear-Site-Data")
}

// confining is the upstream transport with dropStateHeaders applied to 1xx
// answers before the reverse proxy forwards them (its own trace hook runs
// after this one and copies the header map this one cleaned).
type confining struct{ rt http.RoundTripper }

func (c confining) RoundTrip(r *http.Request) (*http.Response, error) {
	trace := &httptrace.ClientTrace{Got1xxResponse: func(_ int, h textproto.MIMEHeader) error {
		dropStateHeaders(http.Header(h))
		return nil
	}}
	return c.rt.RoundTrip(r.WithContext(httptrace.WithClientTrace(r.Context(), trace)))
}

// status writes a Kubernetes-style Status so that kubectl prints the message.
func status(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	fmt.Fprintf(w, `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":%q,"code":%d}`+"\n", msg, code)
}

// impersonate makes the virtual API server act as the caller: their user name and
// groups (project roles, teams), so that its own RBAC decides. Whatever
// impersonation headers the client sent are dropped first: only gantry says who
// the caller is. gantry's administrators also get authn.GroupAdmins. gantry's
// credentials go no further: not the bearer token, nor gantry's cookies, which
// a browser may send along.
func impersonate(r *http.Request, id authn.Identity, admin bool) {
	for h := range r.Header {
		if strings.HasPrefix(strings.ToLower(h), "impersonate-") {
			r.Header.Del(h)
		}
	}
	r.Header.Del("Authorization")
	dropCookies(r, authn.CookieName)
	r.Header.Set("Impersonate-User", authn.UserPrefix+id.User)
	for _, g := range authn.ForwardedGroups(id.Groups, admin) {
		r.Header.Add("Impersonate-Group", g)
	}
}

// dropCookies removes the named cookies from r, keeping the others.
func dropCookies(r *http.Request, names ...string) {
	cookies := r.Cookies()
	if len(cookies) == 0 {
		return
	}
	r.Header.Del("Cookie")
	for _, c := range cookies {
		if !slices.Contains(names, c.Name) {
			r.AddCookie(c)
		}
	}
}
