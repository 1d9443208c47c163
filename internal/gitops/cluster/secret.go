package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
)

// Argo CD's names for the cluster Secret format (operator-manual/declarative-setup.md).
const (
	SecretTypeLabel = "argocd.argoproj.io/secret-type"
	SecretTypeValue = "cluster"
)

// The host cluster, as Argo CD names the cluster it runs in.
const (
	HostServer = "https://kubernetes.default.svc"
	HostName   = "in-cluster"
)

// Config is the JSON in a cluster Secret's "config" key. Only the fields gantry can
// honour are listed; Parse reports any other one, so nothing is silently ignored.
type Config struct {
	BearerToken     string          `json:"bearerToken,omitempty"`
	Username        string          `json:"username,omitempty"`
	Password        string          `json:"password,omitempty"`
	TLSClientConfig TLSClientConfig `json:"tlsClientConfig"`
}

// TLSClientConfig holds base64-encoded PEM data, as in Argo CD.
type TLSClientConfig struct {
	Insecure   bool   `json:"insecure,omitempty"`
	ServerName string `json:"serverName,omitempty"`
	CAData     []byte `json:"caData,omitempty"`
	CertData   []byte `json:"certData,omitempty"`
	KeyData    []byte `json:"keyData,omitempty"`
}

// Cluster is one destination.
type Cluster struct {
	Name   string
	Server string
	// Project restricts the cluster to one project when set.
	Project string
	// Namespaces, when set, are the only namespaces apps may deploy to.
	Namespaces []string
	// Secret is the namespace/name of the Secret it came from ("" for the host).
	Secret string
	// REST is a client configuration for the cluster.
	REST *rest.Config
}

// Parse reads a cluster Secret. Errors name the Secret and what to fix.
func Parse(s *corev1.Secret) (*Cluster, error) {
	where := fmt.Sprintf("cluster Secret %s/%s", s.Namespace, s.Name)
	get := func(k string) string { return strings.TrimSpace(string(s.Data[k])) }
	c := &Cluster{Name: get("name"), Server: strings.TrimRight(get("server"), "/"), Project: get("project"),
		Secret: s.Namespace + "/" + s.Name}
	if c.Server == "" {
		return nil, fmt.Errorf("%s has no server: set data.server to the cluster's API URL", where)
	}
	if u, err := url.Parse(c.Server); err != nil || u.Scheme != "https" && u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("%s: server %q is not an http(s) URL", where, c.Server)
	}
	if c.Name == "" {
		c.Name = c.Server
	}
	if ns := get("namespaces"); ns != "" {
		for _, n := range strings.Split(ns, ",") {
			c.Namespaces = append(c.Namespaces, strings.TrimSpace(n))
		}
	}
	raw := s.Data["config"]
	if len(raw) == 0 {
		return nil, fmt.Errorf("%s has no config: set data.config to {\"bearerToken\": …} or {\"tlsClientConfig\": {…}}", where)
	}
	if err := unsupportedKeys(raw); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	var cfg Config
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return nil, fmt.Errorf("%s: config is not valid JSON in Argo CD's format: %w", where, err)
	}
	if cfg.BearerToken == "" && len(cfg.TLSClientConfig.CertData) == 0 && cfg.Username == "" {
		return nil, fmt.Errorf("%s: config has no credentials: set bearerToken, tlsClientConfig.certData/keyData, or username/password", where)
	}
	c.REST = &rest.Config{
		Host:        c.Server,
		BearerToken: cfg.BearerToken,
		Username:    cfg.Username,
		Password:    cfg.Password,
		TLSClientConfig: rest.TLSClientConfig{
			Insecure:   cfg.TLSClientConfig.Insecure,
			ServerName: cfg.TLSClientConfig.ServerName,
			CAData:     cfg.TLSClientConfig.CAData,
			CertData:   cfg.TLSClientConfig.CertData,
			KeyData:    cfg.TLSClientConfig.KeyData,
		},
	}
	return c, nil
}

// unsupportedKeys names config keys gantry cannot honour (exec and cloud
// providers' auth plugins), so such a Secret fails loudly instead of connecting
// without the credentials it asks for.
func unsupportedKeys(raw []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("config is not a JSON object: %w", err)
	}
	var bad []string
	for k := range m {
		switch k {
		case "bearerToken", "username", "password", "tlsClientConfig":
		default:
			bad = append(bad, k)
		}
	}
	if len(bad) > 0 {
		return errors.New("config field(s) " + strings.Join(bad, ", ") +
			" are not supported by gantry: use bearerToken or tlsClientConfig client certificates")
	}
	return nil
}

// Secret renders c as a cluster Secret in Argo CD's format with the
// credentials of cfg.
func Secret(namespace, name string, c Cluster, cfg Config, labels map[string]string) (*corev1.Secret, error) {
	raw, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	l := map[string]string{SecretTypeLabel: SecretTypeValue}
	for k, v := range labels {
		l[k] = v
	}
	data := map[string][]byte{"name": []byte(c.Name), "server": []byte(c.Server), "config": raw}
	if c.Project != "" {
		data["project"] = []byte(c.Project)
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: l},
		Type:       corev1.SecretTypeOpaque,
		Data:       data,
	}, nil
}
