package pki

import (
	"crypto"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"testing"
)

func TestIssueAndVerify(t *testing.T) {
	dir := t.TempDir()
	ca, err := LoadOrCreateCA(dir, "ca", "test-ca")
	if err != nil {
		t.Fatal(err)
	}
	spec := CertSpec{CommonName: "kube-apiserver", DNSNames: []string{"localhost"}, IPs: []net.IP{net.ParseIP("127.0.0.1")}, Server: true}
	srv, err := ca.LoadOrIssue(dir, "apiserver", spec)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	if _, err := srv.Cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: "localhost"}); err != nil {
		t.Fatalf("serving cert does not verify against its CA: %v", err)
	}
	if _, err := srv.Cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
		t.Fatal("a server-only certificate verified for client auth")
	}
	info, err := os.Stat(filepath.Join(dir, "apiserver.key"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Fatalf("key mode %v, want 0600", info.Mode().Perm())
	}
}

func TestLoadOrIssueKeepsAndRenews(t *testing.T) {
	dir := t.TempDir()
	ca, _ := LoadOrCreateCA(dir, "ca", "test-ca")
	spec := CertSpec{CommonName: "admin", Organization: []string{"system:masters"}, Client: true}
	first, err := ca.LoadOrIssue(dir, "admin", spec)
	if err != nil {
		t.Fatal(err)
	}
	again, err := ca.LoadOrIssue(dir, "admin", spec)
	if err != nil {
		t.Fatal(err)
	}
	if first.Cert.SerialNumber.Cmp(again.Cert.SerialNumber) != 0 {
		t.Fatal("an unchanged certificate was re-issued")
	}
	spec.Organization = []string{"other"}
	changed, _ := ca.LoadOrIssue(dir, "admin", spec)
	if changed.Cert.SerialNumber.Cmp(first.Cert.SerialNumber) == 0 {
		t.Fatal("a certificate whose spec changed was kept")
	}
	// A certificate from another CA must be replaced.
	other, _ := NewCA("other")
	if got, _ := other.LoadOrIssue(dir, "admin", spec); got.Cert.CheckSignatureFrom(other.Cert) != nil {
		t.Fatal("certificate signed by a foreign CA was kept")
	}
}

func TestCAPersists(t *testing.T) {
	dir := t.TempDir()
	a, _ := LoadOrCreateCA(dir, "ca", "x")
	b, err := LoadOrCreateCA(dir, "ca", "x")
	if err != nil {
		t.Fatal(err)
	}
	if !a.Cert.Equal(b.Cert) {
		t.Fatal("CA changed between loads")
	}
	k1, err := LoadOrCreateKey(dir, "sa")
	if err != nil {
		t.Fatal(err)
	}
	k2, _ := LoadOrCreateKey(dir, "sa")
	if !k1.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(k2.Public()) {
		t.Fatal("service-account key changed between loads")
	}
	if _, err := os.Stat(filepath.Join(dir, "sa.pub")); err != nil {
		t.Fatal(err)
	}
}
