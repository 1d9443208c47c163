package sso

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

const testPEM = `-----BEGIN CERTIFICATE-----
MIIBhTCCASugAwIBAgIQIRi6zePL6mKjOipn+dNuaTAKBggqhkjOPQQDAjASMRAw
DgYDVQQKEwdBY21lIENvMB4XDTE3MTAyMDE5NDMwNloXDTE4MTAyMDE5NDMwNlow
EjEQMA4GA1UEChMHQWNtZSBDbzBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABD0d
7VNhbWvZLWPuj/RtHFjvtJBEwOkhbN/BnnE8rnZR8+sbwnc/KhCk3FhnpHZnQz7B
5aETbbIgmuvewdjvSBSjYzBhMA4GA1UdDwEB/wQEAwICpDATBgNVHSUEDDAKBggr
BgEFBQcDATAPBgNVHRMBAf8EBTADAQH/MCkGA1UdEQQiMCCCDmxvY2FsaG9zdDo1
NDUzgg4xMjcuMC4wLjE6NTQ1MzAKBggqhkjOPQQDAgNIADBFAiEA2zpJEPQyz6/l
Wf86aX6PepsntZv2GYlA5UpabfT2EZICICpJ5h/iI+i341gBmLiAFQOyTDT+/wQc
6MF9+Yw1Yy0t
-----END CERTIFICATE-----
`

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig([]byte("issuer: https://dex.example.com\nclientID: gantry\nclientSecret: hunter2\nrootCA: |\n" +
		indent(testPEM) + "allowedGroups: [' platform ', platform, '']\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "SSO" || c.UsernameClaim != "preferred_username" || c.GroupsClaim != "groups" ||
		!slices.Equal(c.Scopes, []string{"openid", "profile", "email", "groups"}) || !slices.Equal(c.AllowedGroups, []string{"platform"}) {
		t.Errorf("defaults: %+v", c)
	}
	c, err = ParseConfig([]byte("issuer: http://127.0.0.1:5556/dex\nclientID: gantry\nscopes: [email, groups]\nusernameClaim: nickname\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Scopes, []string{"openid", "email", "groups"}) || c.UsernameClaim != "nickname" {
		t.Errorf("scopes %v claim %s", c.Scopes, c.UsernameClaim)
	}

	for yaml, want := range map[string]string{
		"clientID: gantry\nclientSecret: hunter2":                                        "issuer is missing",
		"issuer: https://dex.example.com\nclientSecret: hunter2":                         "clientID is missing",
		"issuer: dex.example.com\nclientID: g\nclientSecret: hunter2":                    "not an absolute URL",
		"issuer: http://dex.example.com\nclientID: g\nclientSecret: hunter2":             "only https is allowed",
		"issuer: https://dex.example.com?x=1\nclientID: g\nclientSecret: hunter2":        "query",
		"issuer: https://d\nclientID: g\nclientSecret: hunter2\nredirectURL: /cb":        "redirectURL",
		"issuer: https://d\nclientID: g\nclientSecret: hunter2\nrootCA: nope":            "rootCA holds no valid PEM",
		"issuer: https://d\nclientID: g\nclientSecret: hunter2\nclientSecrte: hunter2":   "unknown field",
		"issuer: https://d\nclientID: g\nclientSecret: [hunter2]":                        "not valid YAML",
		"issuer: https://d\nclientID: g\nclientSecret: hunter2\n  bad: [":                "not valid YAML",
		"issuer: https://d\nclientID: g\nclientSecret: \"hunter2\nx":                     "not valid YAML",
		"issuer: https://d\nclientID: g\nclientSecret: hunter2\nallowedGroups: hunter2x": "not valid YAML",
	} {
		_, err := ParseConfig([]byte(yaml))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want it to say %q", yaml, err, want)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%q: the error holds the secret: %v", yaml, err)
		}
		if !strings.Contains(err.Error(), "gantry-sso") {
			t.Errorf("%q: the error does not name the Secret: %v", yaml, err)
		}
	}
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n  ") + "\n"
}

func TestConfigRedacted(t *testing.T) {
	c := Config{Issuer: "https://d", ClientID: "g", ClientSecret: "hunter2"}
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprint(c.MarshalLog())} {
		if strings.Contains(s, "hunter2") || !strings.Contains(s, "https://d") {
			t.Errorf("printed as %s", s)
		}
	}
}

func TestNewOptions(t *testing.T) {
	cfg := Config{Issuer: "https://127.0.0.1:1", ClientID: "g"} // nothing listens there
	c := fake.NewClientBuilder().WithScheme(newScheme(t)).Build()
	complete := func(http.ResponseWriter, *http.Request, Login, string) {}
	h, err := New(context.Background(), Options{Config: cfg, ExternalURL: "https://gantry.example.com/gantry/",
		Complete: complete, Client: c, Logger: logr.Discard()})
	if err != nil {
		t.Fatalf("an unreachable provider must not fail New: %v", err)
	}
	if ck := h.cookie("x"); !ck.Secure || ck.Path != "/gantry"+Prefix {
		t.Errorf("cookie %+v", ck)
	}
	if u := h.LoginURL("https://evil.com"); u != "/gantry/api/v1/sso/login?return=%2F" {
		t.Errorf("LoginURL %s", u)
	}
	if h.cfg.RedirectURL != "https://gantry.example.com/gantry/api/v1/sso/callback" {
		t.Errorf("redirect URL %s", h.cfg.RedirectURL)
	}
	if _, err := New(context.Background(), Options{Config: cfg, Complete: complete, Client: c}); err == nil || !strings.Contains(err.Error(), "external URL") {
		t.Errorf("no external URL nor redirectURL: %v", err)
	}
	if _, err := New(context.Background(), Options{Config: cfg, ExternalURL: "https://g"}); err == nil {
		t.Error("no Complete nor Client: no error")
	}
}

func TestClaimsToLogin(t *testing.T) {
	h := &Handler{cfg: Config{UsernameClaim: "user", GroupsClaim: "roles"}}
	idt := &oidc.IDToken{Issuer: "https://idp", Subject: "42"}
	l, perr := h.login(map[string]any{"user": " Dana ", "roles": "admins", "email": "d@example.com", "email_verified": false, "name": "Dana"}, idt)
	if perr != nil {
		t.Fatal(perr.msg)
	}
	if l.Username != "dana" || !slices.Equal(l.Groups, []string{"admins"}) || l.Email != "" || l.Name != "Dana" || l.Subject != "42" {
		t.Errorf("login %+v (an unverified email must be dropped)", l)
	}
	_, perr = h.login(map[string]any{"preferred_username": "dana"}, idt)
	if perr == nil || perr.status != http.StatusForbidden || !strings.Contains(perr.msg, `"user" claim`) {
		t.Errorf("missing claim: %+v", perr)
	}
	if g := groupsOf([]any{"b", "a", 3, "b", ""}); !slices.Equal(g, []string{"a", "b"}) {
		t.Errorf("groups %v", g)
	}
}
