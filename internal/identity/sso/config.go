package sso

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// SecretName and SecretKey are where the caller reads the Config from, in
// gantry's namespace; error messages name them so an admin knows what to edit.
const (
	SecretName = "gantry-sso"
	SecretKey  = "config.yaml"
)

// Defaults of the optional Config fields.
const (
	DefaultName          = "SSO"
	DefaultUsernameClaim = "preferred_username"
	DefaultGroupsClaim   = "groups"
)

// DefaultScopes are asked for when Config.Scopes is empty. Some providers
// (Google) refuse unknown scopes: list the scopes without "groups" for those.
var DefaultScopes = []string{"openid", "profile", "email", "groups"}

// Config says which upstream provider to trust and how to map its accounts to
// gantry users. It is the YAML of key config.yaml in the Secret gantry-sso:
//
//	name: Dex
//	issuer: https://dex.example.com
//	clientID: gantry
//	clientSecret: s3cr3t
//	allowedGroups: [platform-team]
//
// It holds the client secret: it prints itself redacted.
type Config struct {
	// Name is shown on the login button, "Sign in with <Name>".
	Name string `json:"name,omitempty"`
	// Issuer is the provider's issuer URL; discovery is read from
	// <issuer>/.well-known/openid-configuration. https, or http on loopback.
	Issuer       string `json:"issuer"`
	ClientID     string `json:"clientID"`
	ClientSecret string `json:"clientSecret,omitempty"`
	// RedirectURL is registered with the provider for gantry; it defaults to
	// <gantry external URL>/api/v1/sso/callback.
	RedirectURL string   `json:"redirectURL,omitempty"`
	Scopes      []string `json:"scopes,omitempty"`
	// UsernameClaim names the claim holding the gantry user name. There is no
	// fallback to another claim (email, say): a name picked from a different
	// claim on some logins would map one person to two users, or two to one.
	UsernameClaim string `json:"usernameClaim,omitempty"`
	GroupsClaim   string `json:"groupsClaim,omitempty"`
	// CreateUsers makes a gantry User on first login; otherwise an admin makes
	// the user first.
	CreateUsers bool `json:"createUsers,omitempty"`
	// AllowedGroups, when set, admits only members of one of these groups.
	AllowedGroups []string `json:"allowedGroups,omitempty"`
	// RootCA is PEM, for a provider whose certificate a private CA signed. It
	// is trusted in addition to the system's roots.
	RootCA string `json:"rootCA,omitempty"`
}

// ParseConfig reads and checks the YAML of the gantry-sso Secret and fills in
// the defaults (but not RedirectURL, which needs gantry's external URL: New
// does that). Unknown fields are errors, so a typo does not silently turn a
// setting off. Errors never carry the client secret.
func ParseConfig(data []byte) (Config, error) {
	var c Config
	if err := yaml.UnmarshalStrict(data, &c); err != nil {
		return Config{}, fmt.Errorf("key %s of the Secret %s is not valid YAML for the SSO config: %v", SecretKey, SecretName, err)
	}
	return c.normalize()
}

// normalize checks c and returns it with defaults filled in.
func (c Config) normalize() (Config, error) {
	in := func(err error) error {
		return fmt.Errorf("SSO config (key %s of the Secret %s): %w", SecretKey, SecretName, err)
	}
	c.Issuer = strings.TrimSpace(c.Issuer)
	c.ClientID = strings.TrimSpace(c.ClientID)
	if c.Issuer == "" {
		return Config{}, in(errors.New("issuer is missing: set it to the identity provider's issuer URL, e.g. issuer: https://dex.example.com"))
	}
	if err := checkIssuer(c.Issuer); err != nil {
		return Config{}, in(err)
	}
	if c.ClientID == "" {
		return Config{}, in(errors.New("clientID is missing: set it to the client ID the identity provider gave gantry"))
	}
	if c.RedirectURL != "" {
		u, err := url.Parse(c.RedirectURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return Config{}, in(fmt.Errorf("redirectURL %q is not an absolute http(s) URL: leave it out to use <gantry URL>%scallback", c.RedirectURL, Prefix))
		}
	}
	if c.RootCA != "" {
		if _, err := certPool(c.RootCA); err != nil {
			return Config{}, in(err)
		}
	}
	if c.Name = strings.TrimSpace(c.Name); c.Name == "" {
		c.Name = DefaultName
	}
	if c.UsernameClaim == "" {
		c.UsernameClaim = DefaultUsernameClaim
	}
	if c.GroupsClaim == "" {
		c.GroupsClaim = DefaultGroupsClaim
	}
	c.Scopes = clean(c.Scopes)
	if len(c.Scopes) == 0 {
		c.Scopes = slices.Clone(DefaultScopes)
	}
	if !slices.Contains(c.Scopes, "openid") {
		// Without it the provider does plain OAuth and sends no ID token.
		c.Scopes = append([]string{"openid"}, c.Scopes...)
	}
	c.AllowedGroups = clean(c.AllowedGroups)
	return c, nil
}

func checkIssuer(issuer string) error {
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("issuer %q is not an absolute URL: it should look like https://dex.example.com", issuer)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("issuer %q has a query, fragment or user: an issuer URL has none", issuer)
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		// ID tokens and codes would cross the network in clear text.
		return fmt.Errorf("issuer %q uses http: only https is allowed, except on loopback (localhost, 127.0.0.1, ::1)", issuer)
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// clean trims, drops empty entries and duplicates, keeping the order.
func clean(in []string) []string {
	var out []string
	for _, s := range in {
		if s = strings.TrimSpace(s); s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func certPool(pem string) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM([]byte(pem)) {
		return nil, errors.New("rootCA holds no valid PEM certificate: paste the CA certificate, from -----BEGIN CERTIFICATE----- to -----END CERTIFICATE-----")
	}
	return pool, nil
}

// httpClient talks to the provider: discovery, keys, token and userinfo.
func (c Config) httpClient() (*http.Client, error) {
	t := http.DefaultTransport.(*http.Transport).Clone()
	if c.RootCA != "" {
		pool, err := certPool(c.RootCA)
		if err != nil {
			return nil, err
		}
		t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: t, Timeout: 30 * time.Second}, nil
}

// redacted is Config without its methods, for printing.
type redacted Config

func (c Config) redact() redacted {
	if c.ClientSecret != "" {
		c.ClientSecret = "<redacted>"
	}
	return redacted(c)
}

// String, GoString and MarshalLog keep the client secret out of logs.
func (c Config) String() string   { return fmt.Sprintf("%+v", c.redact()) }
func (c Config) GoString() string { return fmt.Sprintf("%#v", c.redact()) }

// MarshalLog implements logr.Marshaler.
func (c Config) MarshalLog() any { return c.redact() }
