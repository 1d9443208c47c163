package cluster

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func clusterSecret(data map[string]string) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "gantry-system",
		Labels: map[string]string{SecretTypeLabel: SecretTypeValue}}, Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	return s
}

func TestParse(t *testing.T) {
	for name, tc := range map[string]struct {
		data    map[string]string
		wantErr string
	}{
		"bearer token":   {map[string]string{"name": "prod", "server": "https://prod:6443/", "config": `{"bearerToken":"t","tlsClientConfig":{"insecure":false,"caData":"Y2E="}}`}, ""},
		"client certs":   {map[string]string{"server": "https://x", "config": `{"tlsClientConfig":{"certData":"Y2VydA==","keyData":"a2V5"}}`}, ""},
		"no server":      {map[string]string{"config": `{"bearerToken":"t"}`}, "has no server"},
		"not a URL":      {map[string]string{"server": "prod:6443", "config": `{"bearerToken":"t"}`}, "not an http(s) URL"},
		"no config":      {map[string]string{"server": "https://x"}, "has no config"},
		"no credentials": {map[string]string{"server": "https://x", "config": `{"tlsClientConfig":{"insecure":true}}`}, "no credentials"},
		"exec provider":  {map[string]string{"server": "https://x", "config": `{"execProviderConfig":{"command":"aws"}}`}, "execProviderConfig are not supported"},
		"not JSON":       {map[string]string{"server": "https://x", "config": `bearerToken: t`}, "not a JSON object"},
	} {
		c, err := Parse(clusterSecret(tc.data))
		if tc.wantErr == "" {
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: err %v, want %q (cluster %+v)", name, err, tc.wantErr, c)
		}
	}
	c, _ := Parse(clusterSecret(map[string]string{"server": "https://prod:6443/", "config": `{"bearerToken":"t","tlsClientConfig":{"caData":"Y2E="}}`}))
	if c.Name != "https://prod:6443" || c.Server != "https://prod:6443" || c.REST.BearerToken != "t" || string(c.REST.CAData) != "ca" {
		t.Errorf("parsed %+v / %+v", c, c.REST)
	}
}

func TestSecretRoundTrip(t *testing.T) {
	s, err := Secret("gantry-system", "vcluster-p-default-dev", Cluster{Name: "p-default/dev", Server: "https://127.0.0.1:4321"},
		Config{TLSClientConfig: TLSClientConfig{CAData: []byte("ca"), CertData: []byte("cert"), KeyData: []byte("key")}}, map[string]string{"a": "b"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Labels[SecretTypeLabel] != SecretTypeValue || s.Labels["a"] != "b" {
		t.Errorf("labels %v", s.Labels)
	}
	c, err := Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "p-default/dev" || string(c.REST.CertData) != "cert" || string(c.REST.KeyData) != "key" || string(c.REST.CAData) != "ca" {
		t.Errorf("round trip lost data: %+v", c.REST.TLSClientConfig)
	}
}
