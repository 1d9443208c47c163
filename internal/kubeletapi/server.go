package kubeletapi

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/proxy"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"gantry.dev/gantry/internal/simnodes"
	"gantry.dev/gantry/internal/syncer"
)

// Options configure the server.
type Options struct {
	// PKIDir holds the server's CA (a copy of the Secret's when Shared), its
	// serving certificate, and nothing else.
	PKIDir string
	// Host is an admin client configuration of the host cluster, where the
	// calls go.
	Host *rest.Config
	// BindAddress is where the server listens and, unless Shared, what
	// virtual Nodes give as their address (default 127.0.0.1: virtual API
	// servers run beside gantry).
	BindAddress string
	// Shared, when set, makes this server one of several replicas' that are
	// one kubelet API to virtual clusters (shared.go): one CA, one address.
	Shared *Shared
	// HostNamespace names the host namespace of a virtual cluster
	// (vcluster.HostNamespace).
	HostNamespace func(vc types.NamespacedName) string
	// Issuer, when set, serves gantry's OpenID Connect discovery document
	// and keys under IssuerPath, to anyone (no client certificate): what
	// every issuer publishes. Virtual API servers in pods, which cannot
	// reach the issuer's own address, fetch them here (IssuerDiscovery).
	Issuer http.Handler
	Logger logr.Logger
}

// IssuerPath is where Options.Issuer is served.
const IssuerPath = "/oidc"

// Server is the kubelet API of every virtual cluster's pods. New prepares it
// (certificates, the listener); Start serves until its context ends.
type Server struct {
	opts     Options
	ca       *ca
	listener net.Listener
	host     kubernetes.Interface
	hostURL  *url.URL
	// transport carries plain calls (logs) with the host credentials;
	// upgrade dials the host for upgraded ones and adds those credentials.
	transport http.RoundTripper
	upgrade   proxy.UpgradeRequestRoundTripper
	handler   http.Handler
	// service is the shared Service's address (Join); unset, virtual
	// Nodes are given the listener's.
	service net.IP
}

// New loads or makes the CA and serving certificate (Shared: see Join) and
// takes a free port.
func New(opts Options) (*Server, error) {
	if opts.BindAddress == "" {
		opts.BindAddress = "127.0.0.1"
	}
	if opts.Host == nil || opts.HostNamespace == nil {
		return nil, errors.New("kubelet API: the host configuration and HostNamespace are required")
	}
	s := &Server{opts: opts}
	var err error
	if opts.Shared == nil {
		if s.ca, err = loadCA(opts.PKIDir, opts.BindAddress); err != nil {
			return nil, err
		}
	} else if net.ParseIP(opts.BindAddress) == nil {
		return nil, fmt.Errorf("kubelet API: bind address %q is not an IP address", opts.BindAddress)
	}
	if s.host, err = kubernetes.NewForConfig(opts.Host); err != nil {
		return nil, err
	}
	if s.hostURL, err = url.Parse(opts.Host.Host); err != nil {
		return nil, fmt.Errorf("kubelet API: host URL %q: %w", opts.Host.Host, err)
	}
	if s.transport, s.upgrade, err = hostTransports(opts.Host); err != nil {
		return nil, err
	}
	s.handler = s.routes()
	s.listener, err = net.Listen("tcp", net.JoinHostPort(opts.BindAddress, "0"))
	if err != nil {
		return nil, fmt.Errorf("kubelet API: listening on %s: %w", opts.BindAddress, err)
	}
	return s, nil
}

// hostTransports are the two ways to the host API server. Upgraded calls go
// over HTTP/1.1 (a stream cannot cross HTTP/2); the credentials are added to
// the request written on the dialled connection (what kube-aggregator does).
func hostTransports(host *rest.Config) (http.RoundTripper, proxy.UpgradeRequestRoundTripper, error) {
	plain, err := rest.TransportFor(host)
	if err != nil {
		return nil, nil, fmt.Errorf("kubelet API: host transport: %w", err)
	}
	tlsCfg, err := rest.TLSConfigFor(host)
	if err != nil {
		return nil, nil, fmt.Errorf("kubelet API: host TLS: %w", err)
	}
	if tlsCfg != nil {
		tlsCfg = tlsCfg.Clone()
		tlsCfg.NextProtos = []string{"http/1.1"}
	}
	dial := &http.Transport{TLSClientConfig: tlsCfg, Proxy: http.ProxyFromEnvironment}
	auth, err := rest.HTTPWrappersForConfig(host, proxy.MirrorRequest)
	if err != nil {
		return nil, nil, fmt.Errorf("kubelet API: host credentials: %w", err)
	}
	return plain, proxy.NewUpgradeRequestRoundTripper(dial, auth), nil
}

// Endpoint is what a virtual Node gives as its kubelet: address and port,
// the shared Service's once joined.
func (s *Server) Endpoint() (string, int32) {
	if s.service != nil {
		return s.service.String(), ServicePort
	}
	return s.opts.BindAddress, s.port()
}

// IssuerBase is the absolute URL under which Options.Issuer is served, at
// the shared Service's address; "" unless shared (see IssuerDiscovery).
func (s *Server) IssuerBase() string {
	if s.service == nil {
		return ""
	}
	return "https://" + net.JoinHostPort(s.service.String(), fmt.Sprint(ServicePort)) + IssuerPath
}

// IssuerDiscovery is where a virtual API server in a pod fetches gantry's
// OpenID Connect discovery document (its AuthenticationConfiguration's
// discoveryURL) and the CA that verifies it: this server, at the shared
// Service's ClusterIP, which does not change when gantry restarts, moves or
// fails over (the listener's own port and a pod's IP would, and every
// control plane would restart with them). ok is false without Options.Issuer,
// before Join, when not shared, or when the host's pods cannot reach the
// listener (a loopback address).
func (s *Server) IssuerDiscovery() (url string, ca []byte, ok bool) {
	ip := net.ParseIP(s.opts.BindAddress)
	if s.opts.Issuer == nil || s.ca == nil || s.service == nil || ip == nil || ip.IsLoopback() || ip.IsUnspecified() {
		return "", nil, false
	}
	return s.IssuerBase() + "/.well-known/openid-configuration", s.ca.kp.CertPEM(), true
}

// port is the listener's.
func (s *Server) port() int32 { return int32(s.listener.Addr().(*net.TCPAddr).Port) }

// Start serves until ctx ends (a manager.Runnable).
func (s *Server) Start(ctx context.Context) error {
	if s.ca == nil {
		s.listener.Close()
		return errNotJoined
	}
	srv := &http.Server{
		Handler:           s.handler,
		TLSConfig:         s.ca.serverTLS(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          nil,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(tls.NewListener(s.listener, srv.TLSConfig)) }()
	select {
	case err := <-errc:
		return fmt.Errorf("kubelet API: %w", err)
	case <-ctx.Done():
		// Streams (exec, logs -f) are hijacked or long: close, do not drain.
		_ = srv.Close()
		<-errc
		return nil
	}
}

// routes: the kubelet paths kube-apiserver calls for a pod's logs and
// streams; nothing else of the kubelet API (stats, metrics, pods, /run) is
// served, as the virtual cluster has no business there.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /containerLogs/{namespace}/{pod}/{container}", s.serve(pathLogs))
	for _, k := range []string{pathExec, pathAttach} {
		mux.HandleFunc("GET /"+k+"/{namespace}/{pod}/{container}", s.serve(k))
		mux.HandleFunc("POST /"+k+"/{namespace}/{pod}/{container}", s.serve(k))
	}
	mux.HandleFunc("GET /portForward/{namespace}/{pod}", s.serve(pathPortForward))
	mux.HandleFunc("POST /portForward/{namespace}/{pod}", s.serve(pathPortForward))
	if s.opts.Issuer != nil {
		mux.Handle("GET "+IssuerPath+"/", s.opts.Issuer)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "not served: gantry's kubelet API for virtual clusters serves containerLogs, exec, attach and portForward "+
			"(and gantry's OpenID Connect keys under "+IssuerPath+")", http.StatusNotFound)
	})
	return mux
}

func (s *Server) serve(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		vc, err := caller(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		c := call{kind: kind, namespace: r.PathValue("namespace"), pod: r.PathValue("pod"),
			container: r.PathValue("container"), query: r.URL.Query()}
		hostNS, hostPod, code, err := s.resolve(r.Context(), vc, c)
		if err != nil {
			s.opts.Logger.V(1).Info("kubelet call refused", "vcluster", vc, "call", kind, "namespace", c.namespace, "pod", c.pod, "reason", err.Error())
			http.Error(w, err.Error(), code)
			return
		}
		target, err := c.hostURL(s.hostURL, hostNS, hostPod)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.forward(w, r, target)
	}
}

// caller is the virtual cluster whose API server presented the client
// certificate (verified against the CA by the TLS handshake).
func caller(r *http.Request) (types.NamespacedName, error) {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
		return types.NamespacedName{}, errors.New("a client certificate of a virtual cluster is required")
	}
	vc, ok := parseClientName(r.TLS.VerifiedChains[0][0].Subject.CommonName)
	if !ok {
		return types.NamespacedName{}, errors.New("the client certificate does not name a virtual cluster")
	}
	return vc, nil
}

// resolve finds the host pod of the virtual pod in c, for virtual cluster vc,
// or says why there is none it may reach (with the HTTP status to answer).
// The host pod must be in vc's host namespace, made by vc's syncer (labels),
// and be the copy of exactly that virtual pod (annotations): host names are
// "<pod>-x-<namespace>-x-<vcluster>", so a crafted pod or namespace name may
// produce another object's host name, and only the annotations tell.
func (s *Server) resolve(ctx context.Context, vc types.NamespacedName, c call) (string, string, int, error) {
	for what, v := range map[string]string{"namespace": c.namespace, "container": c.container} {
		if v == "" && what == "container" && c.kind == pathPortForward {
			continue
		}
		if msgs := validation.IsDNS1123Label(v); len(msgs) > 0 {
			return "", "", http.StatusBadRequest, fmt.Errorf("invalid %s %q: %s", what, v, strings.Join(msgs, "; "))
		}
	}
	if msgs := validation.IsDNS1123Subdomain(c.pod); len(msgs) > 0 {
		return "", "", http.StatusBadRequest, fmt.Errorf("invalid pod name %q: %s", c.pod, strings.Join(msgs, "; "))
	}
	hostNS := s.opts.HostNamespace(vc)
	hostName := syncer.HostName(c.pod, c.namespace, vc.Name)
	pod, err := s.host.CoreV1().Pods(hostNS).Get(ctx, hostName, metav1.GetOptions{})
	notFound := fmt.Errorf("pod %s/%s of virtual cluster %s has no host pod (not synced yet, or refused by the syncer)", c.namespace, c.pod, vc)
	switch {
	case apierrors.IsNotFound(err):
		return "", "", http.StatusNotFound, notFound
	case err != nil:
		return "", "", http.StatusBadGateway, fmt.Errorf("reading the host pod: %w", err)
	}
	if !copyOf(pod, vc, c.namespace, c.pod) {
		// Not this pod's copy: say no more than for a missing one.
		return "", "", http.StatusNotFound, notFound
	}
	// On a simulated node nothing runs: say so at once, rather than let the
	// host API server time out dialling a kubelet that does not exist.
	if node := pod.Spec.NodeName; node != "" {
		n, err := s.host.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err == nil && n.Labels[simnodes.SimulatedLabel] == "true" {
			return "", "", http.StatusNotFound, fmt.Errorf("pod %s/%s runs on simulated node %s: no container runs there, "+
				"so there are no logs, exec or port-forward (a real node runs it when gantry up starts one)", c.namespace, c.pod, node)
		}
	}
	return hostNS, hostName, 0, nil
}

// copyOf reports whether host pod p is virtual pod namespace/name of vc, as
// its syncer marks it.
func copyOf(p *corev1.Pod, vc types.NamespacedName, namespace, name string) bool {
	l, a := p.Labels, p.Annotations
	return l[syncer.LabelManagedBy] == syncer.ManagedBySyncer &&
		l[syncer.LabelVCluster] == vc.Name &&
		l[syncer.LabelVClusterNamespace] == vc.Namespace &&
		l[syncer.LabelNamespace] == namespace &&
		a[syncer.AnnotationNamespace] == namespace &&
		a[syncer.AnnotationName] == name
}

// forward sends the call to the host API server with gantry's credentials
// there. Whatever credentials or impersonation the incoming request carries
// are dropped first (the virtual API server sends none; nobody else gets here).
func (s *Server) forward(w http.ResponseWriter, r *http.Request, target *url.URL) {
	r = r.Clone(r.Context())
	for h := range r.Header {
		lh := strings.ToLower(h)
		if lh == "authorization" || lh == "cookie" || strings.HasPrefix(lh, "impersonate-") || strings.HasPrefix(lh, "x-remote-") {
			r.Header.Del(h)
		}
	}
	r.URL.Path, r.URL.RawPath, r.URL.RawQuery = target.Path, "", target.RawQuery
	h := proxy.NewUpgradeAwareHandler(target, s.transport, false, false, responder{w: w})
	h.UpgradeTransport = s.upgrade
	h.UseLocationHost = true
	h.FlushInterval = -1 // logs -f: every line as it comes
	h.ServeHTTP(w, r)
}

type responder struct{ w http.ResponseWriter }

func (e responder) Error(w http.ResponseWriter, _ *http.Request, err error) {
	http.Error(w, "host API: "+err.Error(), http.StatusBadGateway)
}

// ClientName is the common name of virtual cluster vc's client certificate.
func ClientName(vc types.NamespacedName) string { return clientPrefix + vc.Namespace + "/" + vc.Name }

const clientPrefix = "gantry-vcluster:"

func parseClientName(cn string) (types.NamespacedName, bool) {
	rest, ok := strings.CutPrefix(cn, clientPrefix)
	if !ok {
		return types.NamespacedName{}, false
	}
	ns, name, ok := strings.Cut(rest, "/")
	if !ok || ns == "" || name == "" {
		return types.NamespacedName{}, false
	}
	return types.NamespacedName{Namespace: ns, Name: name}, true
}
