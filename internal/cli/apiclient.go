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
	"net/url"
	"os"
	"strings"
	"time"

	"gantry.dev/gantry/internal/identity/authn"
	"gantry.dev/gantry/internal/identity/sessionapi"
	"gantry.dev/gantry/internal/project"
	"gantry.dev/gantry/internal/runstate"
	"gantry.dev/gantry/internal/server"
)

// target is the gantry the REST commands talk to.
type target struct {
	// server is its URL, https://host:port.
	server string
	// ca is the PEM trusted for it besides the system's roots.
	ca []byte
	// store is where a login to it is kept (whether or not there is one).
	store sessionStore
	// dataDir is set when the target is the gantry running on this machine's
	// data directory: its admin token may be at hand.
	dataDir string
}

// remote says whether the target was named by URL (--server, GANTRY_SERVER,
// a login context) rather than found through a local data directory.
func (t target) remote() bool { return t.dataDir == "" }

// target resolves which gantry to talk to:
//
//  1. --server;
//  2. the gantry running on --data-dir, when that flag is given;
//  3. $GANTRY_SERVER;
//  4. the current context of the CLI config file (gantry login SERVER);
//  5. the gantry running on the default data directory ($GANTRY_DATA_DIR or
//     ~/.gantry), found through its run state.
//
// A URL (1, 3) uses the config file's context for that server when there is one.
func (g *globals) target() (target, error) {
	cfgPath := configPath()
	srv := g.server
	if srv == "" && !g.dataDirGiven() {
		srv = os.Getenv(EnvServer)
	}
	if srv == "" && !g.dataDirGiven() {
		cfg, err := readConfig(cfgPath)
		if err != nil {
			return target{}, err
		}
		srv = cfg.Current
	}
	if srv != "" {
		base, err := normalizeServer(srv)
		if err != nil {
			return target{}, err
		}
		t := target{server: base, store: sessionStore{file: cfgPath, server: base}}
		if s, err := t.store.load(); err == nil {
			t.ca = []byte(s.CA)
		}
		return t, nil
	}
	dir := g.absDataDir()
	st, err := runstate.Read(dir)
	if err != nil {
		return target{}, fmt.Errorf("gantry is not running on %s: start it first (gantry up --data-dir %s), or log in to a remote gantry (gantry login https://…)", dir, dir)
	}
	base := st.ExternalURL
	if base == "" {
		base = "https://" + st.HTTPAddr
	}
	// gantry's own CA when it serves one of its certificates, else the system's roots.
	ca, _ := os.ReadFile(server.CAPath(dir))
	return target{server: strings.TrimRight(base, "/"), ca: ca, dataDir: dir, store: sessionStore{file: g.sessionFile()}}, nil
}

// normalizeServer checks a gantry URL: https only (tokens and passwords go
// to it), no path; "host:port" means https://host:port.
func normalizeServer(s string) (string, error) {
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Scheme != "https" || strings.Trim(u.Path, "/") != "" || u.RawQuery != "" {
		return "", fmt.Errorf("server %q: give gantry's https URL, such as https://gantry.example.com:8080 (gantry serves HTTPS only)", s)
	}
	return "https://" + u.Host, nil
}

// loginHint is the command that logs in to the target again.
func (t target) loginHint() string {
	if t.remote() {
		return "gantry login " + t.server
	}
	return "gantry login"
}

// apiClient calls gantry's REST API: the one REST client of every command.
type apiClient struct {
	target
	token string
	http  *http.Client
	// session is set when token is a login's: an expired token is refreshed
	// with its refresh token and saved back to the store.
	session bool
	// username is the login's user ("" with the local admin token).
	username string
	// expires is when token stops working, when known.
	expires time.Time
}

// apiClient is authenticated: with the login to the target when there is one,
// else (local targets only) with the data directory's admin token.
func (g *globals) apiClient() (*apiClient, error) {
	t, err := g.target()
	if err != nil {
		return nil, err
	}
	c := newAPIClient(t)
	s, err := t.store.load()
	switch {
	case err == nil && s.Token != "":
		c.token, c.session, c.username, c.expires = s.Token, true, s.Username, s.ExpiresAt
		return c, nil
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return nil, err
	case t.remote():
		return nil, fmt.Errorf("not logged in to %s: log in first (gantry login %s)", t.server, t.server)
	}
	token, err := os.ReadFile(authn.AdminTokenPath(t.dataDir))
	if err != nil {
		return nil, fmt.Errorf("not logged in, and the admin token of %s cannot be read (%v): log in first (gantry login)", t.dataDir, err)
	}
	c.token = strings.TrimSpace(string(token))
	return c, nil
}

// apiClientAnonymous reaches the target without credentials (to log in).
func (g *globals) apiClientAnonymous() (*apiClient, error) {
	t, err := g.target()
	if err != nil {
		return nil, err
	}
	return newAPIClient(t), nil
}

func newAPIClient(t target) *apiClient {
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	pool.AppendCertsFromPEM(t.ca)
	return &apiClient{
		target: t,
		http:   &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, TLSClientConfig: &tls.Config{RootCAs: pool}}},
	}
}

// apiError is an answer other than 2xx: its status and the server's message.
type apiError struct {
	code int
	msg  string
}

func (e *apiError) Error() string { return e.msg }

// httpStatus is err's HTTP status, 0 when err is not an answer of gantry's.
func httpStatus(err error) int {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.code
	}
	return 0
}

// do sends body (JSON, or an io.Reader's bytes as they are) and decodes the answer into out (a *[]byte takes it
// as it is); an error answer becomes an *apiError carrying the server's
// message. A login's access token is refreshed when it is about to expire or
// is refused (they live minutes).
func (c *apiClient) do(method, path string, body, out any) error {
	if c.session && !c.expires.IsZero() && time.Until(c.expires) < 30*time.Second {
		_ = c.refreshSession() // failing, the request's 401 below says so
	}
	err := c.once(method, path, body, out)
	if _, stream := body.(io.Reader); stream {
		return err // consumed: it cannot be sent again
	}
	if c.session && httpStatus(err) == http.StatusUnauthorized {
		if rerr := c.refreshSession(); rerr != nil {
			return fmt.Errorf("%w (and refreshing the session failed: %v; log in again: %s)", err, rerr, c.loginHint())
		}
		return c.once(method, path, body, out)
	}
	return err
}

// refreshSession exchanges the session's refresh token for new tokens and
// saves them, under the store's lock (see sessionStore.lock).
func (c *apiClient) refreshSession() error {
	unlock, err := c.store.lock()
	if err != nil {
		return err
	}
	defer unlock()
	s, err := c.store.load()
	if err != nil {
		return err
	}
	if s.Token != c.token && s.Token != "" {
		// Another process refreshed it meanwhile.
		c.token, c.expires = s.Token, s.ExpiresAt
		return nil
	}
	if s.RefreshToken == "" {
		return errors.New("the session has no refresh token")
	}
	var resp sessionapi.Response
	if err := c.once("POST", sessionapi.Prefix+"/refresh", map[string]string{"refreshToken": s.RefreshToken}, &resp); err != nil {
		return err
	}
	s.Token, s.RefreshToken, s.ExpiresAt = resp.Token, resp.RefreshToken, resp.ExpiresAt
	if err := c.store.save(s, false); err != nil {
		return err
	}
	c.token, c.expires = s.Token, s.ExpiresAt
	return nil
}

func (c *apiClient) once(method, path string, body, out any) error {
	var rd io.Reader
	contentType := "application/json"
	if r, ok := body.(io.Reader); ok {
		rd, contentType = r, "application/x-tar" // an upload, sent as it is
	} else if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.server+path, rd)
	if err != nil {
		return err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("reaching gantry at %s: %w", c.server, err)
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
		return &apiError{code: resp.StatusCode, msg: msg}
	}
	switch out := out.(type) {
	case nil:
		return nil
	case *[]byte:
		*out = data // an answer that is not JSON (a kubeconfig)
		return nil
	default:
		return json.Unmarshal(data, out)
	}
}

// projectNamespace is the host namespace of a project: where its
// applications and sets live, the appNamespace of the REST API.
func projectNamespace(name string) string { return project.Namespace(name) }

// pathOf joins escaped path segments to an API prefix.
func pathOf(prefix string, segments ...string) string {
	for _, s := range segments {
		prefix += "/" + url.PathEscape(s)
	}
	return prefix
}
