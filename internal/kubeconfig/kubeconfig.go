// Package kubeconfig writes kubeconfig files for a control plane's clients and turns
// them into client configurations.
package kubeconfig

import (
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Config is one cluster, one user, one context.
type Config struct {
	// Name names the cluster, user and context alike.
	Name   string
	Server string
	CA     []byte
	// Client certificate and key (PEM), or Token.
	CertPEM []byte
	KeyPEM  []byte
	Token   string
}

// Build returns the kubeconfig as a client-go structure.
func (c Config) Build() *clientcmdapi.Config {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[c.Name] = &clientcmdapi.Cluster{Server: c.Server, CertificateAuthorityData: c.CA}
	cfg.AuthInfos[c.Name] = &clientcmdapi.AuthInfo{ClientCertificateData: c.CertPEM, ClientKeyData: c.KeyPEM, Token: c.Token}
	cfg.Contexts[c.Name] = &clientcmdapi.Context{Cluster: c.Name, AuthInfo: c.Name}
	cfg.CurrentContext = c.Name
	return cfg
}

// Bytes returns the kubeconfig serialized as YAML.
func (c Config) Bytes() ([]byte, error) {
	return clientcmd.Write(*c.Build())
}

// Write stores the kubeconfig at path with mode 0600 (it holds credentials),
// replacing any previous file atomically.
func (c Config) Write(path string) error {
	data, err := c.Bytes()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// RESTConfig returns a client configuration for the kubeconfig.
func (c Config) RESTConfig() (*rest.Config, error) {
	return clientcmd.NewDefaultClientConfig(*c.Build(), nil).ClientConfig()
}

// Load reads a kubeconfig file and returns its current context's client
// configuration, with an error that names the file and what is wrong with it.
func Load(path string) (*rest.Config, error) {
	raw, err := clientcmd.LoadFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s cannot be read: %w", path, err)
	}
	cfg, err := clientcmd.NewDefaultClientConfig(*raw, nil).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s is not usable: %w", path, err)
	}
	return cfg, nil
}
