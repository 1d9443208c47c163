package platform

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"gantry.dev/gantry/internal/clusterdns"
	"gantry.dev/gantry/internal/syncer"
)

// ClusterDNS is cluster DNS for virtual clusters' pods where they really run
// (Options.ClusterDNS).
type ClusterDNS struct {
	// Listen is the address gantry's DNS server listens on (a free port is
	// chosen): one the host's pods reach, such as the real node's address.
	Listen netip.Addr
	// ResolvConf names the host's resolvers for names outside the cluster;
	// default /etc/resolv.conf.
	ResolvConf string
}

// DNSService is the host Service pods send their questions to: port 53 of a
// ClusterIP, which kube-proxy forwards to gantry's listener, as kube-dns's
// Service does for CoreDNS.
const DNSService = "gantry-dns"

// startClusterDNS listens, points the Service gantry-dns at the listener and
// serves until ctx ends; the syncers started after it send pods there.
func (p *Platform) startClusterDNS(ctx context.Context, c client.Client) error {
	o := p.opts.ClusterDNS
	resolv := o.ResolvConf
	if resolv == "" {
		resolv = "/etc/resolv.conf"
	}
	upstream, err := clusterdns.ReadResolvConf(resolv)
	if err != nil {
		// Cluster names still resolve; the log says why others do not.
		p.opts.Logger.Error(err, "cluster DNS: names outside the cluster will not resolve")
	}
	pc, l, err := listenDNS(o.Listen)
	if err != nil {
		return fmt.Errorf("cluster DNS: %w", err)
	}
	port := int32(pc.LocalAddr().(*net.UDPAddr).Port)
	clusterIP, err := ensureDNSService(ctx, c, o.Listen, port)
	if err != nil {
		pc.Close()
		l.Close()
		return fmt.Errorf("cluster DNS: %w", err)
	}
	reg := &clusterdns.Registry{}
	srv := &clusterdns.Server{Registry: reg, Upstream: upstream, Log: p.opts.Logger.WithName("clusterdns")}
	go func() {
		if err := srv.Serve(ctx, pc, l); err != nil {
			p.opts.Logger.Error(err, "cluster DNS stopped")
		}
	}()
	p.dns = &syncer.DNS{Registry: reg, Server: clusterIP}
	p.opts.Logger.Info("cluster DNS", "service", SystemNamespace+"/"+DNSService, "clusterIP", clusterIP.String(),
		"listen", net.JoinHostPort(o.Listen.String(), strconv.Itoa(int(port))))
	return nil
}

// listenDNS opens UDP and TCP on one free port of ip.
func listenDNS(ip netip.Addr) (net.PacketConn, net.Listener, error) {
	var errs []error
	for range 10 {
		pc, err := net.ListenPacket("udp", net.JoinHostPort(ip.String(), "0"))
		if err != nil {
			return nil, nil, fmt.Errorf("listening on %s: %w", ip, err)
		}
		l, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, l, nil
		}
		pc.Close() // that port is taken over TCP: another one
		errs = append(errs, err)
	}
	return nil, nil, fmt.Errorf("no port of %s is free over both UDP and TCP: %w", ip, errors.Join(errs...))
}

// ensureDNSService makes (or updates) the Service gantry-dns pointing at
// ip:port over UDP and TCP, and returns its ClusterIP.
func ensureDNSService(ctx context.Context, c client.Client, ip netip.Addr, port int32) (netip.Addr, error) {
	return ensureHostService(ctx, c, DNSService, ip, []corev1.ServicePort{
		{Name: "dns", Protocol: corev1.ProtocolUDP, Port: 53, TargetPort: intstr.FromInt32(port)},
		{Name: "dns-tcp", Protocol: corev1.ProtocolTCP, Port: 53, TargetPort: intstr.FromInt32(port)},
	})
}
