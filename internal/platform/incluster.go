package platform

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"gantry.dev/gantry/internal/incluster"
	"gantry.dev/gantry/internal/project"
	"gantry.dev/gantry/internal/syncer"
	"gantry.dev/gantry/internal/vcluster"
)

// InClusterAPI lets virtual clusters' pods reach their own API server with
// their in-cluster configuration (Options.InClusterAPI), where pods really
// run. It needs ClusterDNS.
type InClusterAPI struct {
	// Listen is the address gantry's relay listens on (a free port is
	// chosen): one the host's pods reach, such as the real node's address.
	Listen netip.Addr
}

// APIService is the host Service that virtual clusters' pods find as
// KUBERNETES_SERVICE_HOST and kubernetes.default.svc: port 443 of a
// ClusterIP, which kube-proxy forwards to gantry's relay (package
// incluster). One Service for every virtual cluster rather than one each:
// the relay tells clusters apart by the pod's address, and each virtual API
// server's certificate names this ClusterIP, so there is nothing to make or
// remove per cluster.
const APIService = "gantry-apiserver"

// startInClusterAPI listens, points the Service gantry-apiserver at the
// listener and relays until ctx ends; the syncers and control planes started
// after it use the Service's address.
func (p *Platform) startInClusterAPI(ctx context.Context, c client.Client) error {
	if p.dns == nil {
		return errors.New("in-cluster API: needs cluster DNS, which is off")
	}
	listen := p.opts.InClusterAPI.Listen
	l, err := net.Listen("tcp", net.JoinHostPort(listen.String(), "0"))
	if err != nil {
		return fmt.Errorf("in-cluster API: listening on %s: %w", listen, err)
	}
	port := int32(l.Addr().(*net.TCPAddr).Port)
	clusterIP, err := ensureHostService(ctx, c, APIService, listen, netip.Addr{}, []corev1.ServicePort{
		{Name: "https", Protocol: corev1.ProtocolTCP, Port: syncer.APIServerPort, TargetPort: intstr.FromInt32(port)},
	})
	if err != nil {
		l.Close()
		return fmt.Errorf("in-cluster API: %w", err)
	}
	srv := &incluster.Server{Owners: p.dns.Registry, Backend: relayBackend{p.sleeper}, Log: p.opts.Logger.WithName("incluster")}
	go func() {
		if err := srv.Serve(ctx, l); err != nil {
			p.opts.Logger.Error(err, "in-cluster API relay stopped")
		}
	}()
	p.apiServer = &syncer.APIServer{Address: clusterIP}
	p.opts.Logger.Info("in-cluster API", "service", SystemNamespace+"/"+APIService, "clusterIP", clusterIP.String(),
		"listen", net.JoinHostPort(listen.String(), strconv.Itoa(int(port))))
	return nil
}

// apiServerSANs names the Service gantry-apiserver in every virtual API
// server's certificate, once it exists (vcluster.RuntimeOptions.ExtraSANs).
func (p *Platform) apiServerSANs() []string {
	if p.apiServer == nil {
		return nil
	}
	return []string{p.apiServer.Address.String()}
}

// relayBackend wakes a virtual cluster for the relay as gantry's proxy does
// (vcluster.Sleeper). A pod's new connection counts as activity; the
// requests on it are not seen (they are encrypted to the API server), so a
// controller holding a watch open does not keep its cluster awake forever.
type relayBackend struct{ s *vcluster.Sleeper }

func (b relayBackend) Wake(ctx context.Context, key string) (string, error) {
	ns, name, _ := strings.Cut(key, "/")
	proj, ok := project.FromNamespace(ns)
	if !ok {
		return "", fmt.Errorf("virtual cluster %s is in no project's namespace", key)
	}
	cfg, err := b.s.Wake(ctx, proj, name)
	if err != nil {
		return "", err
	}
	b.s.Activity(proj, name, "")
	u, err := url.Parse(cfg.Host)
	if err != nil {
		return "", fmt.Errorf("virtual cluster %s: API server URL %q: %w", key, cfg.Host, err)
	}
	return u.Host, nil
}
