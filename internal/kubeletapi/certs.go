package kubeletapi

import (
	"crypto/tls"
	"crypto/x509"
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
// other.
type ca struct {
	kp      *pki.KeyPair
	dir     string
	serving *pki.KeyPair
}

const caName = "kubelet-api-ca"

func loadCA(dir, bindAddress string) (*ca, error) {
	kp, err := pki.LoadOrCreateCA(dir, caName, "gantry-kubelet-api-ca")
	if err != nil {
		return nil, fmt.Errorf("kubelet API CA: %w", err)
	}
	spec := pki.CertSpec{CommonName: "gantry-kubelet-api", IPs: []net.IP{net.ParseIP(bindAddress)}, Server: true}
	if net.ParseIP(bindAddress) == nil {
		return nil, fmt.Errorf("kubelet API: bind address %q is not an IP address", bindAddress)
	}
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

// CAFile is the CA certificate virtual API servers verify the server with.
func (s *Server) CAFile() string { return filepath.Join(s.ca.dir, caName+".crt") }

// APIServerFlags writes virtual cluster vc's client certificate into dir
// (its control plane's directory) and returns the kube-apiserver flags that
// make it call this server as a kubelet: its client certificate, the CA
// that must have signed the server's, and the virtual Nodes' InternalIP as
// the only address to use (they carry this server's address there).
func (s *Server) APIServerFlags(dir string, vc types.NamespacedName) (map[string]string, error) {
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
