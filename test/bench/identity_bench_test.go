//go:build bench

package bench

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// BenchmarkIdentity: what a person waits for when signing in. Password login
// to a session token (POST /api/v1/session: bcrypt, groups, ES256 signing),
// and a whole OpenID Connect sign-in of another application at gantry's
// provider (authorize → sign-in page → password → code → token exchange), as
// x/oauth2 drives it, each over HTTPS on loopback against a running gantry.
func BenchmarkIdentity(b *testing.B) {
	dir := b.TempDir()
	addr := freeAddr()
	_, stop, _ := upWith(b, dir, "--http-addr", addr, "--nodes", "1")
	defer stop()
	cmd := exec.Command(gantryBin, "user", "create", "bench", "--password-stdin", "--data-dir", dir)
	cmd.Stdin = strings.NewReader("bench-secret-pw\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("user create: %v\n%s", err, out)
	}
	const redirect = "http://127.0.0.1:5555/callback"
	out := gantryCmd(b, "oidc-client", "create", "bench", "--redirect-uri", redirect, "--data-dir", dir)
	m := regexp.MustCompile(`client secret: (\S+)`).FindStringSubmatch(out)
	if m == nil {
		b.Fatalf("no client secret:\n%s", out)
	}
	ca, _ := os.ReadFile(filepath.Join(dir, "pki", "ca.crt"))
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	transport := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	base := "https://" + addr

	const n = 30
	var logins, signIns []time.Duration
	for range n {
		t0 := time.Now()
		resp, err := (&http.Client{Transport: transport}).Post(base+"/api/v1/session", "application/json",
			strings.NewReader(`{"username":"bench","password":"bench-secret-pw"}`))
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("login: %v %v", err, resp)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		logins = append(logins, time.Since(t0))
	}
	cfg := oauth2.Config{ClientID: "bench", ClientSecret: m[1], RedirectURL: redirect, Scopes: []string{"openid", "groups"},
		Endpoint: oauth2.Endpoint{AuthURL: base + "/oidc/authorize", TokenURL: base + "/oidc/oauth/token"}}
	for range n {
		jar, _ := cookiejar.New(nil) // a new browser each time: no single sign-on
		browser := &http.Client{Transport: transport, Jar: jar, CheckRedirect: func(r *http.Request, _ []*http.Request) error {
			if strings.HasPrefix(r.URL.String(), redirect) || r.URL.Path == "/login" {
				return http.ErrUseLastResponse
			}
			return nil
		}}
		verifier := oauth2.GenerateVerifier()
		t0 := time.Now()
		// What the login page does: the provider sends the browser to
		// /login?oidc=ID; the page reads the sign-in (its CSRF token) and
		// posts the password as JSON from gantry's origin.
		resp, err := browser.Get(cfg.AuthCodeURL("state", oauth2.S256ChallengeOption(verifier)))
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		login, err := resp.Location()
		if err != nil || login.Query().Get("oidc") == "" {
			b.Fatalf("not sent to the login page: %v %s", err, resp.Status)
		}
		id := login.Query().Get("oidc")
		resp, err = browser.Get(base + "/oidc/login/request?authRequestID=" + url.QueryEscape(id))
		if err != nil {
			b.Fatal(err)
		}
		var info struct{ CSRF string }
		err = json.NewDecoder(resp.Body).Decode(&info)
		resp.Body.Close()
		if err != nil || info.CSRF == "" {
			b.Fatalf("the login page's sign-in: %v %s", err, resp.Status)
		}
		body, _ := json.Marshal(map[string]string{"authRequestID": id, "csrf": info.CSRF, "username": "bench", "password": "bench-secret-pw"})
		req, _ := http.NewRequest(http.MethodPost, base+"/oidc/login", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Origin", base)
		resp, err = browser.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		var next struct{ Redirect string }
		err = json.NewDecoder(resp.Body).Decode(&next)
		resp.Body.Close()
		if err != nil || next.Redirect == "" {
			b.Fatalf("signing in: %v %s", err, resp.Status)
		}
		resp, err = browser.Get(next.Redirect)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		loc, err := resp.Location()
		if err != nil || loc.Query().Get("code") == "" {
			b.Fatalf("no code after signing in: %v %s", err, resp.Status)
		}
		tok, err := cfg.Exchange(context.WithValue(b.Context(), oauth2.HTTPClient, &http.Client{Transport: transport}),
			loc.Query().Get("code"), oauth2.VerifierOption(verifier))
		if err != nil || tok.Extra("id_token") == nil {
			b.Fatalf("exchange: %v", err)
		}
		signIns = append(signIns, time.Since(t0))
	}
	fmt.Printf("\n  sign-in (%d each, HTTPS on loopback)          p50        p95\n", n)
	fmt.Printf("  %-40s %8.1fms %8.1fms\n", "password → session token", ms(percentile(logins, 0.5)), ms(percentile(logins, 0.95)))
	fmt.Printf("  %-40s %8.1fms %8.1fms\n", "OIDC code flow + PKCE → ID token", ms(percentile(signIns, 0.5)), ms(percentile(signIns, 0.95)))
	b.ReportMetric(ms(percentile(logins, 0.5)), "ms-login-p50")
	b.ReportMetric(ms(percentile(signIns, 0.5)), "ms-oidc-p50")
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
