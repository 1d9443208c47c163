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
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"gantry.dev/gantry/internal/clusterdns"
	"gantry.dev/gantry/internal/syncer"
)

// ClusterDNS is cluster DNS for virtual clusters' pods where they really run,
// and for the host's own pods on the real node (Options.ClusterDNS).
type ClusterDNS struct {
	// Listen is the address gantry's DNS server listens on (a free port is
	// chosen): one the host's pods reach, such as the real node's address.
	Listen netip.Addr
	// ResolvConf names the host's resolvers for names outside the cluster;
	// default /etc/resolv.conf.
	ResolvConf string
	// ServiceIP, when set, is the ClusterIP of the Service gantry-dns: the
	// address the real node's kubelet was given as its clusterDNS before the
	// Service existed. Unset, the host allocates one.
	ServiceIP netip.Addr
	// HostNode, when set, is the node whose own pods (not virtual clusters')
	// are answered from the host's Services, as any cluster's DNS answers
	// them: the real node, whose kubelet sends them to ServiceIP.
	HostNode string
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
	clusterIP, err := ensureDNSService(ctx, c, o.Listen, port, o.ServiceIP)
	if err != nil {
		pc.Close()
		l.Close()
		return fmt.Errorf("cluster DNS: %w", err)
	}
	reg := &clusterdns.Registry{}
	if o.HostNode != "" {
		if err := p.serveHostDNS(ctx, reg, o.HostNode); err != nil {
			pc.Close()
			l.Close()
			return fmt.Errorf("cluster DNS: %w", err)
		}
	}
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

// serveHostDNS registers the host's names for the host's own pods on node,
// once its watches have synced (in the background: start-up does not wait).
// A pod of a virtual cluster is never one of them, even while its syncer is
// not running: it carries the syncer's label.
func (p *Platform) serveHostDNS(ctx context.Context, reg *clusterdns.Registry, node string) error {
	client, err := kubernetes.NewForConfig(p.opts.Host)
	if err != nil {
		return err
	}
	zone, err := clusterdns.NewHostZone(client, node, func(pod *corev1.Pod) bool {
		_, ok := pod.Labels[syncer.LabelVCluster]
		return ok
	})
	if err != nil {
		return err
	}
	go func() {
		if err := zone.Run(ctx); err != nil {
			if ctx.Err() == nil {
				p.opts.Logger.Error(err, "cluster DNS: the host's pods cannot resolve Service names")
			}
			return
		}
		reg.Set(hostZone, zone, zone.Member)
	}()
	return nil
}

// hostZone is the host's key in the Registry: no virtual cluster's key
// (project/name) is without a slash.
const hostZone = "host"

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
// ip:port over UDP and TCP, and returns its ClusterIP: serviceIP when set
// (the kubelet's clusterDNS names it before the Service exists).
func ensureDNSService(ctx context.Context, c client.Client, ip netip.Addr, port int32, serviceIP netip.Addr) (netip.Addr, error) {
	return ensureHostService(ctx, c, DNSService, ip, serviceIP, []corev1.ServicePort{
		{Name: "dns", Protocol: corev1.ProtocolUDP, Port: 53, TargetPort: intstr.FromInt32(port)},
		{Name: "dns-tcp", Protocol: corev1.ProtocolTCP, Port: 53, TargetPort: intstr.FromInt32(port)},
	})
}
