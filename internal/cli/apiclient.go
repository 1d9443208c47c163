package cli

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"

	"gantry.dev/gantry/internal/identity/sessionapi"
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
	// session is the CLI session file the token came from, if any: an expired
	// token is refreshed with its refresh token and saved back.
	session string
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
			c.token, c.session = s.Token, g.sessionFile()
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
	err := c.once(method, path, body, out)
	var unauthorized errUnauthorized
	if c.session != "" && errors.As(err, &unauthorized) {
		// The session's access token expired (they live minutes): refresh once.
		if rerr := c.refreshSession(); rerr != nil {
			return fmt.Errorf("%w (and refreshing the session failed: %v; log in again: gantry login)", err, rerr)
		}
		return c.once(method, path, body, out)
	}
	return err
}

// errUnauthorized is a 401 answer.
type errUnauthorized struct{ msg string }

func (e errUnauthorized) Error() string { return e.msg }

// refreshSession exchanges the session's refresh token for new tokens and saves
// them. A lock on the session file keeps concurrent gantry processes (kubectl
// runs the exec plugin in each) from using one refresh token twice, which
// gantry takes for theft and answers by ending the session.
func (c *apiClient) refreshSession() error {
	lock, err := os.OpenFile(c.session+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	data, err := os.ReadFile(c.session)
	if err != nil {
		return err
	}
	var s cliSession
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	if s.Token != c.token {
		c.token = s.Token // another process refreshed it meanwhile
		return nil
	}
	if s.RefreshToken == "" {
		return errors.New("the session has no refresh token")
	}
	var resp sessionapi.Response
	if err := c.once("POST", sessionapi.Prefix+"/refresh", map[string]string{"refreshToken": s.RefreshToken}, &resp); err != nil {
		return err
	}
	s.Token, s.RefreshToken = resp.Token, resp.RefreshToken
	out, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if err := os.WriteFile(c.session, out, 0o600); err != nil {
		return err
	}
	c.token = s.Token
	return nil
}

func (c *apiClient) once(method, path string, body, out any) error {
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
		msg := fmt.Sprintf("%s %s: %s", method, path, resp.Status)
		if json.Unmarshal(data, &e) == nil && e.Message != "" {
			msg = e.Message
		}
		if resp.StatusCode == http.StatusUnauthorized {
			return errUnauthorized{msg}
		}
		return errors.New(msg)
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}
