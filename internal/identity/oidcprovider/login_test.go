package oidcprovider

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http/httptest"
	"strings"
	"testing"
)

// The sign-in page carries the SPA's look in one stylesheet that its CSP
// allows by hash: no 'unsafe-inline', and the hash must match what is served.
func TestLoginPageStyleAndCSP(t *testing.T) {
	for _, pg := range []page{
		{Title: "Sign in to gantry", Form: true, Action: "/oidc/login", AuthRequestID: "id", CSRF: "c", Client: "Argo CD",
			Error: "invalid username or password", UpstreamURL: "/sso/login", UpstreamName: "Dex"},
		{Title: "Signed out", Message: "You have signed out of the application."},
	} {
		rec := httptest.NewRecorder()
		(&Provider{}).render(rec, 200, pg)
		body, csp := rec.Body.String(), rec.Header().Get("Content-Security-Policy")
		start, end := strings.Index(body, "<style>"), strings.Index(body, "</style>")
		if start < 0 || end < start || strings.Count(body, "<style>") != 1 {
			t.Fatalf("want one <style> element:\n%s", body)
		}
		sum := sha256.Sum256([]byte(body[start+len("<style>") : end]))
		if want := "style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(csp, want) {
			t.Errorf("CSP %q does not allow the served stylesheet (%s)", csp, want)
		}
		for _, bad := range []string{"unsafe-inline", "script-src", "*"} {
			if strings.Contains(csp, bad) {
				t.Errorf("CSP %q has %s", csp, bad)
			}
		}
		if !strings.Contains(csp, "default-src 'none'") || strings.Contains(body, "style=") || strings.Contains(body, "<script") {
			t.Errorf("page is not self-contained under %q:\n%s", csp, body)
		}
		for _, want := range []string{"prefers-color-scheme: dark", `class="login-card"`, `<span class="brand-mark">g</span> gantry`} {
			if !strings.Contains(body, want) {
				t.Errorf("page lacks %q", want)
			}
		}
		if rp := rec.Header().Get("Referrer-Policy"); rp != "same-origin" {
			t.Errorf("Referrer-Policy %q: no-referrer makes browsers post the form with Origin: null, which is refused", rp)
		}
		if pg.Form {
			for _, want := range []string{"<h1 id=\"login-title\">Log in</h1>", "to continue to <strong>Argo CD</strong>", ">User name</label>",
				">Password</label>", `name="username"`, `name="password"`, `name="csrf"`, `name="authRequestID"`,
				`class="alert alert-error" role="alert"`, ">Sign in with Dex</a>", "<title>Sign in to gantry · Argo CD</title>"} {
				if !strings.Contains(body, want) {
					t.Errorf("sign-in form lacks %q:\n%s", want, body)
				}
			}
		}
	}
}
