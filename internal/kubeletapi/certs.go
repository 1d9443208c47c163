package kubeletapi

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"path/filepath"

	"k8s.io/apimachinery/pkg/types"

	"gantry.dev/gantry/internal/pki"
)

// ca is the server's own CA: it signs the server's serving certificate and
// each virtual API server's client certificate, and nothing else trusts it,
// nor does the server trust anything else. Server and client certificates
// carry only their own extended key usage, so neither can stand in for the
// other. One gantry keeps it in its data directory; replicas share one from
// a Secret (shared.go).
type ca struct {
	kp      *pki.KeyPair
	dir     string
	serving *pki.KeyPair
}

const (
	caName       = "kubelet-api-ca"
	caCommonName = "gantry-kubelet-api-ca"
)

// loadCA loads or makes the CA of this gantry alone in dir.
func loadCA(dir, bindAddress string) (*ca, error) {
	kp, err := pki.LoadOrCreateCA(dir, caName, caCommonName)
	if err != nil {
		return nil, fmt.Errorf("kubelet API CA: %w", err)
	}
	return withServing(kp, dir, bindAddress, nil, nil)
}

// withServing loads or issues the server's certificate in dir from kp, for
// bindAddress and any other addresses and names it is reached at.
func withServing(kp *pki.KeyPair, dir, bindAddress string, ips []net.IP, names []string) (*ca, error) {
	ip := net.ParseIP(bindAddress)
	if ip == nil {
		return nil, fmt.Errorf("kubelet API: bind address %q is not an IP address", bindAddress)
	}
	spec := pki.CertSpec{CommonName: "gantry-kubelet-api", IPs: append([]net.IP{ip}, ips...), DNSNames: names, Server: true}
	serving, err := kp.LoadOrIssue(dir, "kubelet-api-serving", spec)
	if err != nil {
		return nil, fmt.Errorf("kubelet API serving certificate: %w", err)
	}
	return &ca{kp: kp, dir: dir, serving: serving}, nil
}

func (c *ca) serverTLS() *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(c.kp.Cert)
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{{Certificate: [][]byte{c.serving.Cert.Raw}, PrivateKey: c.serving.Key, Leaf: c.serving.Cert}},
		// Verified when given; the handler answers 401 without one, which
		// says more than a failed handshake.
		ClientAuth: tls.VerifyClientCertIfGiven,
		ClientCAs:  pool,
		// HTTP/1.1 only: exec and port-forward upgrade the connection.
		NextProtos: []string{"http/1.1"},
	}
}

// errNotJoined: a shared server's CA comes from the host, in Join.
var errNotJoined = errors.New("kubelet API: the replicas' CA is not read yet (Join first)")

// CAFile is the CA certificate virtual API servers verify the server with
// (in a shared server's PKIDir, a copy of the Secret's).
func (s *Server) CAFile() string { return filepath.Join(s.opts.PKIDir, caName+".crt") }

// APIServerFlags writes virtual cluster vc's client certificate into dir
// (its control plane's directory) and returns the kube-apiserver flags that
// make it call this server as a kubelet: its client certificate, the CA
// that must have signed the server's, and the virtual Nodes' InternalIP as
// the only address to use (they carry this server's address there). A
// certificate already in dir that the CA signed for vc is kept: the flags'
// files then do not change, nor does a control plane started with them.
func (s *Server) APIServerFlags(dir string, vc types.NamespacedName) (map[string]string, error) {
	if s.ca == nil {
		return nil, errNotJoined
	}
	name := "kubelet-api-client"
	if _, err := s.ca.kp.LoadOrIssue(dir, name, pki.CertSpec{CommonName: ClientName(vc), Client: true}); err != nil {
		return nil, fmt.Errorf("kubelet API client certificate for %s: %w", vc, err)
	}
	return map[string]string{
		"kubelet-client-certificate":      filepath.Join(dir, name+".crt"),
		"kubelet-client-key":              filepath.Join(dir, name+".key"),
		"kubelet-certificate-authority":   s.CAFile(),
		"kubelet-preferred-address-types": "InternalIP",
	}, nil
}
