package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Validity of what this package issues. Long, because a local control plane has no
// rotation machinery yet; the CA outlives the leaves so that re-issuing a leaf never
// invalidates kubeconfigs that trust the CA.
const (
	caValidity   = 10 * 365 * 24 * time.Hour
	leafValidity = 5 * 365 * 24 * time.Hour
	// renewBefore: a leaf this close to expiry is re-issued on load.
	renewBefore = 30 * 24 * time.Hour
)

// KeyPair is a certificate with its private key.
type KeyPair struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// CertPEM returns the certificate PEM-encoded.
func (kp *KeyPair) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: kp.Cert.Raw})
}

// KeyPEM returns the private key PEM-encoded.
func (kp *KeyPair) KeyPEM() ([]byte, error) {
	return encodeKey(kp.Key)
}

// CertSpec says what a leaf certificate is for.
type CertSpec struct {
	CommonName   string
	Organization []string
	DNSNames     []string
	IPs          []net.IP
	Server       bool
	Client       bool
}

// NewCA creates a self-signed CA.
func NewCA(commonName string) (*KeyPair, error) {
	key, err := newKey()
	if err != nil {
		return nil, err
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("creating CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &KeyPair{Cert: cert, Key: key}, nil
}

// Issue signs a new leaf certificate with the CA.
func (ca *KeyPair) Issue(spec CertSpec) (*KeyPair, error) {
	key, err := newKey()
	if err != nil {
		return nil, err
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: spec.CommonName, Organization: spec.Organization},
		DNSNames:     spec.DNSNames,
		IPAddresses:  spec.IPs,
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(leafValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
	}
	if spec.Server {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	}
	if spec.Client {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return nil, fmt.Errorf("issuing certificate for %q: %w", spec.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &KeyPair{Cert: cert, Key: key}, nil
}

// Write stores the pair as <dir>/<name>.crt and <dir>/<name>.key (0600).
func (kp *KeyPair) Write(dir, name string) error {
	keyPEM, err := kp.KeyPEM()
	if err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, name+".key"), keyPEM); err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, name+".crt"), kp.CertPEM())
}

// Load reads <dir>/<name>.crt and .key.
func Load(dir, name string) (*KeyPair, error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, name+".crt"))
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, name+".key"))
	if err != nil {
		return nil, err
	}
	kp, err := Parse(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return kp, nil
}

// Parse reads a PEM certificate and its PEM private key, as kept elsewhere
// than in files (a Secret's tls.crt and tls.key).
func Parse(certPEM, keyPEM []byte) (*KeyPair, error) {
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM certificate")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing the certificate: %w", err)
	}
	key, err := ParseKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("parsing the key: %w", err)
	}
	return &KeyPair{Cert: cert, Key: key}, nil
}

// LoadOrCreateCA loads the CA <dir>/<name>.{crt,key}, creating it when absent.
func LoadOrCreateCA(dir, name, commonName string) (*KeyPair, error) {
	ca, err := Load(dir, name)
	if err == nil {
		return ca, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	ca, err = NewCA(commonName)
	if err != nil {
		return nil, err
	}
	return ca, ca.Write(dir, name)
}

// LoadOrIssue loads the leaf <dir>/<name>, issuing a new one when it is absent, not
// signed by ca, near expiry, or does not match spec (a changed SAN list, say).
func (ca *KeyPair) LoadOrIssue(dir, name string, spec CertSpec) (*KeyPair, error) {
	if kp, err := Load(dir, name); err == nil && ca.stillGood(kp, spec) {
		return kp, nil
	}
	kp, err := ca.Issue(spec)
	if err != nil {
		return nil, err
	}
	return kp, kp.Write(dir, name)
}

func (ca *KeyPair) stillGood(kp *KeyPair, spec CertSpec) bool {
	if kp.Cert.CheckSignatureFrom(ca.Cert) != nil {
		return false
	}
	if time.Until(kp.Cert.NotAfter) < renewBefore {
		return false
	}
	if kp.Cert.Subject.CommonName != spec.CommonName || !sameStrings(kp.Cert.Subject.Organization, spec.Organization) ||
		!sameStrings(kp.Cert.DNSNames, spec.DNSNames) {
		return false
	}
	if len(kp.Cert.IPAddresses) != len(spec.IPs) {
		return false
	}
	for i := range spec.IPs {
		if !kp.Cert.IPAddresses[i].Equal(spec.IPs[i]) {
			return false
		}
	}
	return true
}

// LoadOrCreateKey loads the private key <dir>/<name>.key and writes its public half to
// <dir>/<name>.pub, creating both when absent. It is the service-account signing key.
func LoadOrCreateKey(dir, name string) (crypto.Signer, error) {
	keyPath := filepath.Join(dir, name+".key")
	if data, err := os.ReadFile(keyPath); err == nil {
		return ParseKey(data)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	key, err := newKey()
	if err != nil {
		return nil, err
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return nil, err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return nil, err
	}
	if err := writeFile(filepath.Join(dir, name+".pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})); err != nil {
		return nil, err
	}
	return key, writeFile(keyPath, keyPEM)
}

// ParseKey parses a PEM private key (PKCS#8, EC or PKCS#1).
func ParseKey(data []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		if s, ok := k.(crypto.Signer); ok {
			return s, nil
		}
		return nil, errors.New("PKCS#8 key is not a signer")
	}
	if k, err := x509.ParseECPrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	return nil, errors.New("unsupported private key format")
}

func newKey() (*ecdsa.PrivateKey, error) {
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

func newSerial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

func encodeKey(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encoding private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// writeFile writes atomically (temp file + rename) so that a crash never leaves a
// half-written key behind, and with 0600 because these are secrets.
func writeFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func sameStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
