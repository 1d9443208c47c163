package clusterdns

import (
	"context"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

type fakeZone struct {
	services map[string]Service    // namespace/name
	pods     map[netip.Addr]string // pod IP -> namespace
}

func (z fakeZone) Service(ns, name string) (Service, bool) {
	s, ok := z.services[ns+"/"+name]
	return s, ok
}

func (z fakeZone) PodNamespace(ip netip.Addr) (string, bool) {
	ns, ok := z.pods[ip]
	return ns, ok
}

var (
	loopback = netip.MustParseAddr("127.0.0.1")
	podIP    = netip.MustParseAddr("10.88.0.7")
)

// serve starts a Server on free loopback ports and returns its address.
func serve(t *testing.T, s *Server) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		pc.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, pc, l) }()
	t.Cleanup(func() { cancel(); <-done })
	return pc.LocalAddr().String()
}

func ask(t *testing.T, addr, network, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	c := &dns.Client{Net: network}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("asking %s %s over %s: %v", name, dns.TypeToString[qtype], network, err)
	}
	return r
}

func answers(r *dns.Msg) []string {
	var out []string
	for _, rr := range r.Answer {
		switch rr := rr.(type) {
		case *dns.A:
			out = append(out, rr.A.String())
		case *dns.AAAA:
			out = append(out, rr.AAAA.String())
		case *dns.CNAME:
			out = append(out, "CNAME "+rr.Target)
		case *dns.SRV:
			out = append(out, "SRV "+rr.Target+" "+strconv.Itoa(int(rr.Port)))
		}
	}
	slices.Sort(out)
	return out
}

func shopZone() fakeZone {
	return fakeZone{
		services: map[string]Service{
			"shop/web": {ClusterIPs: []netip.Addr{netip.MustParseAddr("10.96.0.20")},
				Ports: []Port{{Name: "http", Protocol: "TCP", Port: 8080}}},
			"shop/db": {Endpoints: []Endpoint{{IP: netip.MustParseAddr("10.88.0.9"), Hostname: "db-0"}, {IP: netip.MustParseAddr("10.88.0.10")}},
				Ports: []Port{{Name: "pg", Protocol: "TCP", Port: 5432}}},
			"shop/ext": {ExternalName: "example.org"},
		},
		pods: map[netip.Addr]string{podIP: "shop"},
	}
}

// A pod asks for its own virtual cluster's names: Services by every name
// Kubernetes gives them, headless Services by their pods, SRV records by
// named port, its pods by address; unknown names are NXDOMAIN.
func TestServiceNames(t *testing.T) {
	r := &Registry{}
	r.Set("p-a/dev", shopZone(), func(ip netip.Addr) bool { return ip == loopback })
	addr := serve(t, &Server{Registry: r})

	for _, network := range []string{"udp", "tcp"} {
		for _, c := range []struct {
			name  string
			qtype uint16
			want  []string
			rcode int
		}{
			{"web.shop.svc.cluster.local", dns.TypeA, []string{"10.96.0.20"}, dns.RcodeSuccess},
			{"WEB.Shop.svc.cluster.local", dns.TypeA, []string{"10.96.0.20"}, dns.RcodeSuccess},
			{"web.shop.svc.cluster.local", dns.TypeAAAA, nil, dns.RcodeSuccess}, // exists, no IPv6: NODATA
			{"db.shop.svc.cluster.local", dns.TypeA, []string{"10.88.0.10", "10.88.0.9"}, dns.RcodeSuccess},
			{"db-0.db.shop.svc.cluster.local", dns.TypeA, []string{"10.88.0.9"}, dns.RcodeSuccess},
			{"_http._tcp.web.shop.svc.cluster.local", dns.TypeSRV, []string{"SRV web.shop.svc.cluster.local. 8080"}, dns.RcodeSuccess},
			{"_pg._tcp.db.shop.svc.cluster.local", dns.TypeSRV, []string{"SRV 10-88-0-10.db.shop.svc.cluster.local. 5432", "SRV db-0.db.shop.svc.cluster.local. 5432"}, dns.RcodeSuccess},
			{"ext.shop.svc.cluster.local", dns.TypeA, []string{"CNAME example.org."}, dns.RcodeSuccess},
			{"10-88-0-7.shop.pod.cluster.local", dns.TypeA, []string{"10.88.0.7"}, dns.RcodeSuccess},
			{"10-88-0-8.shop.pod.cluster.local", dns.TypeA, nil, dns.RcodeNameError},  // no such pod of this cluster
			{"10-88-0-7.other.pod.cluster.local", dns.TypeA, nil, dns.RcodeNameError}, // not in that namespace
			{"nope.shop.svc.cluster.local", dns.TypeA, nil, dns.RcodeNameError},
			{"web.other.svc.cluster.local", dns.TypeA, nil, dns.RcodeNameError},
			{"_https._tcp.web.shop.svc.cluster.local", dns.TypeSRV, nil, dns.RcodeNameError},
		} {
			got := ask(t, addr, network, c.name, c.qtype)
			if got.Rcode != c.rcode || !slices.Equal(answers(got), c.want) {
				t.Errorf("%s %s over %s: rcode %s, answers %v; want %s, %v", c.name, dns.TypeToString[c.qtype], network,
					dns.RcodeToString[got.Rcode], answers(got), dns.RcodeToString[c.rcode], c.want)
			}
			if c.rcode == dns.RcodeSuccess && !got.Authoritative {
				t.Errorf("%s: a cluster name's answer is not authoritative", c.name)
			}
		}
	}
}

// The boundary: a pod sees only its own virtual cluster's Services, and an
// address that is nobody's pod gets no answer at all, forwarded ones
// included.
func TestOtherClustersAndStrangers(t *testing.T) {
	r := &Registry{}
	other := fakeZone{services: map[string]Service{"shop/secret": {ClusterIPs: []netip.Addr{netip.MustParseAddr("10.96.0.99")}}}}
	r.Set("p-b/prod", other, func(netip.Addr) bool { return false })
	r.Set("p-a/dev", shopZone(), func(ip netip.Addr) bool { return ip == loopback })
	addr := serve(t, &Server{Registry: r})
	if got := ask(t, addr, "udp", "secret.shop.svc.cluster.local", dns.TypeA); got.Rcode != dns.RcodeNameError {
		t.Errorf("p-a's pod resolved p-b's Service: %s %v", dns.RcodeToString[got.Rcode], answers(got))
	}

	r.Delete("p-a/dev")
	for _, name := range []string{"web.shop.svc.cluster.local", "example.org"} {
		if got := ask(t, addr, "udp", name, dns.TypeA); got.Rcode != dns.RcodeRefused || len(got.Answer) > 0 {
			t.Errorf("%s asked by no virtual cluster's pod: %s %v, want REFUSED", name, dns.RcodeToString[got.Rcode], answers(got))
		}
	}
}

// Names outside the cluster domain go to the host's resolvers.
func TestForwarding(t *testing.T) {
	upstream := serveFunc(t, func(w dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(req)
		m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: req.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.ParseIP("192.0.2.1")}}
		w.WriteMsg(m)
	})
	r := &Registry{}
	r.Set("p-a/dev", shopZone(), func(ip netip.Addr) bool { return ip == loopback })
	addr := serve(t, &Server{Registry: r, Upstream: []string{"127.0.0.1:1", upstream}}) // the first is down
	for _, network := range []string{"udp", "tcp"} {
		if got := ask(t, addr, network, "example.org", dns.TypeA); got.Rcode != dns.RcodeSuccess || !slices.Equal(answers(got), []string{"192.0.2.1"}) {
			t.Errorf("example.org over %s: %s %v, want the upstream's 192.0.2.1", network, dns.RcodeToString[got.Rcode], answers(got))
		}
	}
	none := serve(t, &Server{Registry: r})
	if got := ask(t, none, "udp", "example.org", dns.TypeA); got.Rcode != dns.RcodeServerFailure {
		t.Errorf("no upstream: %s, want SERVFAIL", dns.RcodeToString[got.Rcode])
	}
}

func serveFunc(t *testing.T, h dns.HandlerFunc) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	us, ts := &dns.Server{PacketConn: pc, Handler: h}, &dns.Server{Listener: l, Handler: h}
	go us.ActivateAndServe()
	go ts.ActivateAndServe()
	t.Cleanup(func() { us.Shutdown(); ts.Shutdown() })
	return pc.LocalAddr().String()
}

func TestReadResolvConf(t *testing.T) {
	p := t.TempDir() + "/resolv.conf"
	if err := os.WriteFile(p, []byte("search example\nnameserver 192.0.2.53\nnameserver 2001:db8::53\noptions ndots:2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := ReadResolvConf(p)
	if err != nil || !slices.Equal(got, []string{"192.0.2.53:53", "[2001:db8::53]:53"}) {
		t.Fatalf("ReadResolvConf = %v, %v", got, err)
	}
	if _, err := ReadResolvConf(p + ".missing"); err == nil || !strings.Contains(err.Error(), "resolv.conf.missing") {
		t.Errorf("a missing file: %v, want an error naming it", err)
	}
}
