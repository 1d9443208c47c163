package sso

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/yaml"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/api"
	"gantry.dev/gantry/internal/identity/sso/ssotest"
	"gantry.dev/gantry/internal/kubetest"
)

// served is a Service on a real API server (its Secret watched by a
// controller manager) behind gantry's router, and an upstream provider.
type served struct {
	t       *testing.T
	env     *kubetest.Env
	svc     *Service
	url     string
	idp     *ssotest.IdP
	browser *http.Client

	mu       sync.Mutex
	sessions []string // StartSession's users, failed attempts included
	failures int      // how many StartSession calls fail before one succeeds
}

func serve(t *testing.T, users ...idpUser) *served {
	t.Helper()
	s := &served{t: t, env: kubetest.Shared(t, kubetest.Options{CRDs: true})}
	ns := s.env.Namespace(t)
	router := api.NewRouter(nil, nil) // every SSO route is public
	srv := httptest.NewUnstartedServer(router)
	s.url = "http://" + srv.Listener.Addr().String()
	s.idp = ssotest.Start(t, s.url+Prefix+"callback", users, nil)
	s.svc = &Service{Namespace: ns, ExternalURL: s.url, Logger: logr.Discard(),
		StartSession: func(w http.ResponseWriter, _ *http.Request, user string) error {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.sessions = append(s.sessions, user)
			if s.failures != 0 {
				s.failures--
				return errors.New("user " + user + " no longer exists")
			}
			http.SetCookie(w, &http.Cookie{Name: "test-session", Value: user, Path: "/"})
			return nil
		},
		Continue: func(_ *http.Request, user, returnTo string) string {
			if returnTo == "/oidc/login?authRequestID=r1" {
				return "/oidc/callback?id=r1&user=" + user
			}
			return returnTo
		},
		// Long enough for the two failures TestServiceSignIn asks for, short
		// enough for its refusal.
		sessionWait: time.Second}
	s.env.Manager(t, func(mgr ctrl.Manager) error {
		s.svc.Client = mgr.GetClient()
		return s.svc.SetupWithManager(mgr)
	})
	s.svc.Register(router)
	srv.Start()
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(s.idp.Server.Certificate())
	jar, _ := cookiejar.New(nil)
	s.browser = &http.Client{Jar: jar, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	return s
}

func (s *served) config(issuer string) []byte {
	b, err := yaml.Marshal(Config{Name: "Upstream", Issuer: issuer, ClientID: idpClientID, ClientSecret: idpClientSecret,
		RootCA: s.idp.RootCA, CreateUsers: true})
	if err != nil {
		s.t.Fatal(err)
	}
	return b
}

// writeSecret creates or replaces gantry-sso in namespace ns.
func (s *served) writeSecret(ns string, config []byte) {
	s.t.Helper()
	ctx := context.Background()
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: SecretName, Namespace: ns}, Data: map[string][]byte{SecretKey: config}}
	if err := s.env.Client.Create(ctx, secret); err == nil {
		return
	}
	if err := s.env.Client.Update(ctx, secret); err != nil {
		s.t.Fatal(err)
	}
}

func (s *served) get(path string) (int, string) {
	s.t.Helper()
	resp, err := s.browser.Get(s.url + path)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (s *served) info() Info {
	s.t.Helper()
	code, body := s.get(Prefix + "info")
	var info Info
	if code != http.StatusOK || json.Unmarshal([]byte(body), &info) != nil {
		s.t.Fatalf("GET info: %d %s", code, body)
	}
	return info
}

func (s *served) eventually(what string, cond func() bool) {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			s.t.Fatalf("not within 30s: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The operator turns SSO on, breaks it, fixes it and turns it off again by
// editing one Secret while gantry runs; the login page's question follows.
func TestServiceFollowsTheSecret(t *testing.T) {
	s := serve(t, alice)
	if info := s.info(); info.Enabled {
		t.Fatalf("SSO on without its Secret: %+v", info)
	}
	code, body := s.get(Prefix + "login?return=/")
	if code != http.StatusNotFound || !strings.Contains(body, SecretName) || !strings.Contains(body, s.svc.Namespace) {
		t.Errorf("login without SSO: %d %s; want 404 saying which Secret of which namespace turns it on", code, body)
	}

	s.writeSecret(s.svc.Namespace, s.config(s.idp.URL()))
	s.eventually("SSO on", func() bool { return s.info().Enabled })
	if info := s.info(); info.Name != "Upstream" || !strings.HasPrefix(info.LoginURL, Prefix+"login?return=") {
		t.Errorf("info: %+v", info)
	}
	if s.svc.Name() != "Upstream" || !strings.HasPrefix(s.svc.LoginURL("/x"), Prefix+"login?return=") {
		t.Errorf("Name %q LoginURL %q", s.svc.Name(), s.svc.LoginURL("/x"))
	}

	// A broken config turns SSO off rather than keeping what was replaced.
	s.writeSecret(s.svc.Namespace, []byte("issuer: not a URL\nclientID: gantry\n"))
	s.eventually("SSO off after a broken edit", func() bool { return !s.info().Enabled })
	if s.svc.LoginURL("/x") != "" {
		t.Error("LoginURL while SSO is off")
	}

	s.writeSecret(s.svc.Namespace, s.config(s.idp.URL()))
	s.eventually("SSO on again", func() bool { return s.info().Enabled })
	if err := s.env.Client.Delete(context.Background(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: SecretName, Namespace: s.svc.Namespace}}); err != nil {
		t.Fatal(err)
	}
	s.eventually("SSO off once the Secret is deleted", func() bool { return !s.info().Enabled })
}

// A tenant who can write Secrets in their own namespace names one gantry-sso
// to send gantry's sign-ins to a provider of theirs: it is not read.
func TestServiceIgnoresSecretsElsewhere(t *testing.T) {
	s := serve(t, alice)
	tenant := s.svc.Namespace + "-tenant"
	if err := s.env.Client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: tenant}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = s.env.Client.Delete(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: tenant}})
	})
	s.writeSecret(tenant, s.config(s.idp.URL()))
	for end := time.Now().Add(1500 * time.Millisecond); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if info := s.info(); info.Enabled {
			t.Fatalf("a gantry-sso Secret in namespace %s turned SSO on: %+v", tenant, info)
		}
	}
}

// A verified upstream sign-in starts gantry's session, waiting for the user
// it provisioned to be readable, and moves on, by a same-site page, to where
// Continue says: an application's sign-in at gantry's own provider.
func TestServiceSignIn(t *testing.T) {
	s := serve(t, alice)
	s.writeSecret(s.svc.Namespace, s.config(s.idp.URL()))
	s.eventually("SSO on", func() bool { return s.info().Enabled })
	t.Cleanup(func() {
		_ = s.env.Client.Delete(context.Background(), &platformv1alpha1.User{ObjectMeta: metav1.ObjectMeta{Name: alice.Username}})
	})
	signIn := func() (int, string) {
		t.Helper()
		code, body := s.get(s.svc.LoginURL("/oidc/login?authRequestID=r1"))
		id := ssotest.LoginForm(body)
		if id == "" {
			t.Fatalf("no login form from the provider (%d): %s", code, body)
		}
		resp, err := s.idp.SubmitLogin(s.browser, id, alice.Username)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	s.setFailures(2) // the new user is not in the cache for the first two tries
	code, body := signIn()
	if code != http.StatusOK || !strings.Contains(body, `content="0;url=/oidc/callback?id=r1&amp;user=alice"`) {
		t.Fatalf("after the sign-in: %d %s; want a page moving on to the OIDC callback", code, body)
	}
	if calls := s.calls(); len(calls) != 3 || calls[2] != alice.Username {
		t.Errorf("StartSession calls: %v; want alice three times", calls)
	}
	u := &platformv1alpha1.User{}
	if err := s.env.Client.Get(context.Background(), ctrlKey(alice.Username), u); err != nil {
		t.Errorf("the user was not provisioned: %v", err)
	}

	// A session that cannot be started refuses the sign-in, in bounded time.
	s.setFailures(-1)
	start := time.Now()
	code, body = signIn()
	if code != http.StatusForbidden || !strings.Contains(body, "signing in: user alice no longer exists") {
		t.Errorf("with no session: %d %s; want 403 saying why", code, body)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("the refusal took %s", time.Since(start))
	}
}

func ctrlKey(name string) types.NamespacedName { return types.NamespacedName{Name: name} }

func (s *served) setFailures(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = n
}

func (s *served) calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.sessions)
}
