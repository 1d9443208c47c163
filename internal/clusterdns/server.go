package clusterdns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/miekg/dns"
)

// DefaultDomain is the cluster domain of virtual clusters, as in Kubernetes.
const DefaultDomain = "cluster.local"

// ttl of the answers: short, as Services come and go (CoreDNS's kubernetes
// plugin answers with 5 s too).
const ttl = 5

// Server answers pods' questions over UDP and TCP.
type Server struct {
	// Registry says which virtual cluster a client is a pod of.
	Registry *Registry
	// Domain is the cluster domain; default DefaultDomain.
	Domain string
	// Upstream are the resolvers (host:port) names outside Domain are
	// forwarded to; none answers them SERVFAIL. ReadResolvConf gives the host's.
	Upstream []string
	Log      logr.Logger

	forward *dns.Client
}

// ReadResolvConf returns the name servers of a resolv.conf file as host:port,
// for Server.Upstream.
func ReadResolvConf(path string) ([]string, error) {
	cfg, err := dns.ClientConfigFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the host's resolvers from %s: %w", path, err)
	}
	out := make([]string, 0, len(cfg.Servers))
	for _, s := range cfg.Servers {
		out = append(out, net.JoinHostPort(s, cfg.Port))
	}
	return out, nil
}

// Serve answers on the UDP socket pc and the TCP listener l (either may be
// nil) until ctx ends; it closes both.
func (s *Server) Serve(ctx context.Context, pc net.PacketConn, l net.Listener) error {
	if s.Domain == "" {
		s.Domain = DefaultDomain
	}
	s.forward = &dns.Client{Timeout: 2 * time.Second}
	var servers []*dns.Server
	if pc != nil {
		servers = append(servers, &dns.Server{PacketConn: pc, Handler: s})
	}
	if l != nil {
		servers = append(servers, &dns.Server{Listener: l, Handler: s})
	}
	errc := make(chan error, len(servers))
	for _, srv := range servers {
		go func() { errc <- srv.ActivateAndServe() }()
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	for _, srv := range servers {
		_ = srv.Shutdown()
	}
	return err
}

// ServeDNS answers one message.
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	m := s.answer(clientAddr(w.RemoteAddr()), req, w.RemoteAddr().Network())
	if err := w.WriteMsg(m); err != nil {
		s.Log.V(1).Info("writing a DNS answer", "client", w.RemoteAddr().String(), "error", err.Error())
	}
}

func clientAddr(a net.Addr) netip.Addr {
	switch a := a.(type) {
	case *net.UDPAddr:
		ip, _ := netip.AddrFromSlice(a.IP)
		return ip.Unmap()
	case *net.TCPAddr:
		ip, _ := netip.AddrFromSlice(a.IP)
		return ip.Unmap()
	}
	return netip.Addr{}
}

// answer builds the reply to req from client.
func (s *Server) answer(client netip.Addr, req *dns.Msg, network string) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(req)
	if req.Opcode != dns.OpcodeQuery || len(req.Question) != 1 {
		m.Rcode = dns.RcodeNotImplemented
		return m
	}
	zone, ok := s.Registry.ZoneOf(client)
	if !ok {
		// Not a pod of any virtual cluster: no answers, not even forwarded
		// ones, so gantry is nobody's open resolver.
		m.Rcode = dns.RcodeRefused
		return m
	}
	q := req.Question[0]
	name := strings.ToLower(q.Name)
	suffix := "." + dns.Fqdn(s.Domain)
	if name != dns.Fqdn(s.Domain) && !strings.HasSuffix(name, suffix) {
		return s.forwardTo(req, network)
	}
	m.Authoritative = true
	labels := dns.SplitDomainName(strings.TrimSuffix(name, suffix))
	rrs, exists := s.lookup(zone, labels, q)
	if !exists {
		m.Rcode = dns.RcodeNameError
		m.Ns = []dns.RR{s.soa()}
		return m
	}
	m.Answer = rrs
	if len(rrs) == 0 {
		m.Ns = []dns.RR{s.soa()} // the name exists, but not with that type: NODATA
	}
	return m
}

// lookup answers q for the name labels (without the cluster domain), and
// reports whether the name exists at all.
func (s *Server) lookup(zone Zone, labels []string, q dns.Question) ([]dns.RR, bool) {
	n := len(labels)
	switch {
	case n == 0:
		return nil, true // the domain itself
	case labels[n-1] == "svc":
		return s.lookupService(zone, labels[:n-1], q)
	case labels[n-1] == "pod" && n == 3:
		// <a-b-c-d>.<namespace>.pod: the pod's own address, for its own pods.
		ip, err := netip.ParseAddr(strings.ReplaceAll(labels[0], "-", dotOrColon(labels[0])))
		if err != nil {
			return nil, false
		}
		if ns, ok := zone.PodNamespace(ip); !ok || ns != labels[1] {
			return nil, false
		}
		return s.addresses(q, []netip.Addr{ip}), true
	case labels[n-1] == "pod" && n < 3:
		return nil, true
	}
	return nil, false
}

// dotOrColon tells an IPv4 name (1-2-3-4) from an IPv6 one (fd00--1).
func dotOrColon(label string) string {
	if strings.Count(label, "-") == 3 && !strings.Contains(label, "--") {
		return "."
	}
	return ":"
}

// lookupService answers [<hostname>.]<service>.<namespace> and the SRV form
// _<port>._<proto>.<service>.<namespace>.
func (s *Server) lookupService(zone Zone, labels []string, q dns.Question) ([]dns.RR, bool) {
	switch len(labels) {
	case 0, 1:
		return nil, len(labels) == 0 // svc.<domain> exists; a namespace alone is not a name
	case 2:
		svc, ok := zone.Service(labels[1], labels[0])
		if !ok {
			return nil, false
		}
		switch q.Qtype {
		case dns.TypeSRV:
			return s.srv(q.Name, svc, "", ""), true
		case dns.TypeA, dns.TypeAAAA, dns.TypeANY:
			if svc.ExternalName != "" {
				return []dns.RR{&dns.CNAME{Hdr: s.hdr(q.Name, dns.TypeCNAME), Target: dns.Fqdn(svc.ExternalName)}}, true
			}
			ips := svc.ClusterIPs
			if len(ips) == 0 {
				for _, e := range svc.Endpoints {
					ips = append(ips, e.IP)
				}
			}
			return s.addresses(q, ips), true
		}
		return nil, true
	case 3:
		svc, ok := zone.Service(labels[2], labels[1])
		if !ok {
			return nil, false
		}
		var ips []netip.Addr
		for _, e := range svc.Endpoints {
			if e.Hostname == labels[0] {
				ips = append(ips, e.IP)
			}
		}
		if len(ips) == 0 {
			return nil, false
		}
		return s.addresses(q, ips), true
	case 4:
		// _port._proto.service.namespace
		if !strings.HasPrefix(labels[0], "_") || !strings.HasPrefix(labels[1], "_") {
			return nil, false
		}
		svc, ok := zone.Service(labels[3], labels[2])
		if !ok {
			return nil, false
		}
		rrs := s.srv(q.Name, svc, labels[0][1:], labels[1][1:])
		if len(rrs) == 0 {
			return nil, false
		}
		if q.Qtype != dns.TypeSRV && q.Qtype != dns.TypeANY {
			return nil, true
		}
		return rrs, true
	}
	return nil, false
}

// srv lists the SRV records of svc's named ports (port and proto empty: all),
// pointing at the Service's name, or at each endpoint's for a headless one.
func (s *Server) srv(qname string, svc Service, port, proto string) []dns.RR {
	var rrs []dns.RR
	labels := dns.SplitDomainName(qname)
	target := qname
	if port != "" {
		target = strings.Join(labels[2:], ".") + "."
	}
	for _, p := range svc.Ports {
		if p.Name == "" || (port != "" && !strings.EqualFold(p.Name, port)) || (proto != "" && !strings.EqualFold(p.Protocol, proto)) {
			continue
		}
		if len(svc.ClusterIPs) == 0 && len(svc.Endpoints) > 0 {
			for _, e := range svc.Endpoints {
				host := e.Hostname
				if host == "" {
					host = strings.NewReplacer(".", "-", ":", "-").Replace(e.IP.String())
				}
				rrs = append(rrs, &dns.SRV{Hdr: s.hdr(qname, dns.TypeSRV), Priority: 0, Weight: 100, Port: uint16(p.Port), Target: host + "." + target})
			}
			continue
		}
		rrs = append(rrs, &dns.SRV{Hdr: s.hdr(qname, dns.TypeSRV), Priority: 0, Weight: 100, Port: uint16(p.Port), Target: target})
	}
	return rrs
}

// addresses are the A or AAAA records of ips that q asks for.
func (s *Server) addresses(q dns.Question, ips []netip.Addr) []dns.RR {
	var rrs []dns.RR
	for _, ip := range ips {
		switch {
		case ip.Is4() && (q.Qtype == dns.TypeA || q.Qtype == dns.TypeANY):
			rrs = append(rrs, &dns.A{Hdr: s.hdr(q.Name, dns.TypeA), A: ip.AsSlice()})
		case ip.Is6() && (q.Qtype == dns.TypeAAAA || q.Qtype == dns.TypeANY):
			rrs = append(rrs, &dns.AAAA{Hdr: s.hdr(q.Name, dns.TypeAAAA), AAAA: ip.AsSlice()})
		}
	}
	return rrs
}

func (s *Server) hdr(name string, t uint16) dns.RR_Header {
	return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: ttl}
}

// soa is the authority of a negative answer, so that resolvers cache it
// only briefly.
func (s *Server) soa() dns.RR {
	d := dns.Fqdn(s.Domain)
	return &dns.SOA{Hdr: dns.RR_Header{Name: d, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: ttl},
		Ns: "ns.dns." + d, Mbox: "hostmaster." + d, Serial: 1, Refresh: 7200, Retry: 1800, Expire: 86400, Minttl: ttl}
}

// forwardTo asks the upstream resolvers, in order, and relays the first answer.
func (s *Server) forwardTo(req *dns.Msg, network string) *dns.Msg {
	c := *s.forward
	if network == "tcp" {
		c.Net = "tcp"
	}
	var errs []error
	for _, up := range s.Upstream {
		r, _, err := c.Exchange(req, up)
		if err == nil {
			r.Id = req.Id
			return r
		}
		errs = append(errs, err)
	}
	m := new(dns.Msg)
	m.SetRcode(req, dns.RcodeServerFailure)
	if len(errs) > 0 {
		s.Log.V(1).Info("forwarding a DNS question", "name", req.Question[0].Name, "error", errors.Join(errs...).Error())
	}
	return m
}
