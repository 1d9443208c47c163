package cli

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"gantry.dev/gantry/internal/runstate"
	"gantry.dev/gantry/internal/server"
	"gantry.dev/gantry/internal/vcproxy"
)

// apiClient calls gantry's REST API of the running gantry on the data directory,
// with its admin token and trusting its CA.
type apiClient struct {
	base  string
	token string
	http  *http.Client
}

// apiClient uses the CLI's session (gantry login) when there is one, else the
// local admin token of the data directory.
func (g *globals) apiClient() (*apiClient, error) {
	c, err := g.apiClientAnonymous()
	if err != nil {
		return nil, err
	}
	if data, err := os.ReadFile(g.sessionFile()); err == nil {
		var s cliSession
		if json.Unmarshal(data, &s) == nil && s.Token != "" {
			c.token = s.Token
			return c, nil
		}
	}
	token, err := os.ReadFile(vcproxy.AdminTokenPath(g.absDataDir()))
	if err != nil {
		return nil, err
	}
	c.token = strings.TrimSpace(string(token))
	return c, nil
}

// apiClientAnonymous reaches the running gantry without credentials.
func (g *globals) apiClientAnonymous() (*apiClient, error) {
	dir := g.absDataDir()
	st, err := runstate.Read(dir)
	if err != nil {
		return nil, fmt.Errorf("gantry is not running on %s: start it first (gantry up --data-dir %s)", dir, dir)
	}
	// gantry's own CA when it serves one of its certificates, else the system's.
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if ca, err := os.ReadFile(server.CAPath(dir)); err == nil {
		pool.AppendCertsFromPEM(ca)
	}
	base := st.ExternalURL
	if base == "" {
		base = "https://" + st.HTTPAddr
	}
	return &apiClient{
		base: base,
		http: &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}},
	}, nil
}

// do sends body (JSON) and decodes the answer into out; an error answer becomes
// an error carrying the server's message.
func (c *apiClient) do(method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var e struct{ Message string }
		if json.Unmarshal(data, &e) == nil && e.Message != "" {
			return fmt.Errorf("%s", e.Message)
		}
		return fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}
