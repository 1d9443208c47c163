package server

import (
	"crypto/tls"
	"fmt"
	"net"
	"path/filepath"

	"gantry.dev/gantry/internal/pki"
)

// CAPath is where gantry's own CA certificate is kept in the data directory; clients
// of gantry's HTTPS server trust it.
func CAPath(dataDir string) string { return filepath.Join(dataDir, "pki", "ca.crt") }

// SelfSignedTLS returns a TLS configuration with a serving certificate from gantry's
// own CA (made on first use in <dataDir>/pki), valid for localhost, the loopback
// addresses and the host of addr.
func SelfSignedTLS(dataDir, addr string, extraHosts ...string) (*tls.Config, error) {
	dir := filepath.Join(dataDir, "pki")
	ca, err := pki.LoadOrCreateCA(dir, "ca", "gantry")
	if err != nil {
		return nil, fmt.Errorf("gantry's CA: %w", err)
	}
	// Not "gantry", the CA's name: OpenSSL (curl) takes a certificate whose subject
	// equals its issuer for self-signed and refuses it.
	spec := pki.CertSpec{CommonName: "gantry-server", DNSNames: []string{"localhost"},
		IPs: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")}, Server: true}
	if host, _, err := net.SplitHostPort(addr); err == nil && host != "" {
		if ip := net.ParseIP(host); ip != nil {
			if !ip.IsLoopback() && !ip.IsUnspecified() {
				spec.IPs = append(spec.IPs, ip)
			}
		} else if host != "localhost" {
			spec.DNSNames = append(spec.DNSNames, host)
		}
	}
	for _, h := range extraHosts {
		if ip := net.ParseIP(h); ip != nil {
			spec.IPs = append(spec.IPs, ip)
		} else if h != "" && h != "localhost" {
			spec.DNSNames = append(spec.DNSNames, h)
		}
	}
	kp, err := ca.LoadOrIssue(dir, "server", spec)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{{Certificate: [][]byte{kp.Cert.Raw}, PrivateKey: kp.Key, Leaf: kp.Cert}},
		NextProtos:   []string{"h2", "http/1.1"},
	}, nil
}

// FileTLS serves a certificate and key the user gives (PEM files), instead of one
// from gantry's own CA.
func FileTLS(certFile, keyFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("loading the TLS certificate %s and key %s: %w", certFile, keyFile, err)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}}, nil
}
