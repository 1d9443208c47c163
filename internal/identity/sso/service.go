package sso

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/wait"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"gantry.dev/gantry/internal/api"
	"gantry.dev/gantry/internal/jsonapi"
)

// Service is SSO as the Secret gantry-sso configures it while gantry runs:
// a reconciler rebuilds the Handler whenever the Secret changes (as Argo CD
// rereads oidc.config from argocd-cm), and the routes under Prefix serve
// whichever Handler is current. Without the Secret, SSO is off and the
// routes say how to turn it on.
type Service struct {
	// Client reads the Secret, and reads and writes Users (see Options.Client).
	Client client.Client
	// Namespace holds the Secret SecretName (gantry's own).
	Namespace string
	// ExternalURL is gantry's URL as browsers see it (Options.ExternalURL).
	ExternalURL string
	// StartSession gives the browser a gantry session for user
	// (sessionapi.API.StartSession).
	StartSession func(w http.ResponseWriter, r *http.Request, user string) error
	// Continue returns where the browser goes once user has signed in, given
	// the local path the sign-in was to return to: an application's sign-in
	// at gantry's OpenID Connect provider is finished there
	// (oidcprovider.Provider.ContinueUpstream). Nil goes to that path.
	Continue func(r *http.Request, user, returnTo string) string
	Logger   logr.Logger

	handler atomic.Pointer[Handler]
	// sessionWait bounds how long a sign-in waits for its new user to be
	// readable by StartSession; 5 s when zero.
	sessionWait time.Duration
}

// Info is GET <Prefix>info, for the login page: whether to show a "Sign in
// with <Name>" button, and where it goes.
type Info struct {
	Enabled  bool   `json:"enabled"`
	Name     string `json:"name,omitempty"`
	LoginURL string `json:"loginURL,omitempty"`
}

// Register mounts SSO's routes, all public: the login page's question (it
// has no credentials yet, and nothing in the answer is secret), and the
// sign-in through the upstream provider, whose answer carries its own proof
// (state, PKCE, the provider's signed ID token).
func (s *Service) Register(r *api.Router) {
	r.Public("GET "+Prefix+"info", "the login page asks whether to show an SSO button; nothing secret", http.HandlerFunc(s.info))
	r.Public("GET "+Prefix+"login", "starts a sign-in at the upstream identity provider", http.HandlerFunc(s.serve))
	r.Public("GET "+Prefix+"callback", "the upstream identity provider's answer: checked against the sign-in's state, nonce and PKCE", http.HandlerFunc(s.serve))
}

func (s *Service) info(w http.ResponseWriter, _ *http.Request) {
	info := Info{}
	if h := s.handler.Load(); h != nil {
		info = Info{Enabled: true, Name: h.Name(), LoginURL: h.LoginURL("/")}
	}
	jsonapi.Write(w, http.StatusOK, info)
}

func (s *Service) serve(w http.ResponseWriter, r *http.Request) {
	h := s.handler.Load()
	if h == nil {
		jsonapi.Error(w, http.StatusNotFound, "single sign-on is not configured: put an identity provider's settings in the Secret "+
			SecretName+" (key "+SecretKey+") of namespace "+s.Namespace)
		return
	}
	h.ServeHTTP(w, r)
}

// LoginURL is the upstream login that comes back to returnTo, or "" when SSO
// is off.
func (s *Service) LoginURL(returnTo string) string {
	if h := s.handler.Load(); h != nil {
		return h.LoginURL(returnTo)
	}
	return ""
}

// Name is the provider's display name, or "" when SSO is off.
func (s *Service) Name() string {
	if h := s.handler.Load(); h != nil {
		return h.Name()
	}
	return ""
}

// SetupWithManager watches the one Secret, on every replica of gantry
// (leader or not): each one serves sign-ins.
func (s *Service) SetupWithManager(mgr ctrl.Manager) error {
	notLeaderOnly := false
	return builder.ControllerManagedBy(mgr).
		Named("sso-config").
		WithOptions(controller.Options{NeedLeaderElection: &notLeaderOnly}).
		For(&corev1.Secret{}, builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool {
			return o.GetNamespace() == s.Namespace && o.GetName() == SecretName
		}))).
		Complete(s)
}

// Reconcile rebuilds the Handler from the Secret. A broken config turns SSO
// off (logged) rather than keeping settings the operator has just replaced.
func (s *Service) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	log := ctrl.LoggerFrom(ctx)
	secret := &corev1.Secret{}
	if err := s.Client.Get(ctx, req.NamespacedName, secret); err != nil {
		if apierrors.IsNotFound(err) {
			s.handler.Store(nil)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	cfg, err := ParseConfig(secret.Data[SecretKey])
	if err == nil {
		var h *Handler
		if h, err = New(ctx, Options{Config: cfg, ExternalURL: s.ExternalURL, Complete: s.complete,
			Client: s.Client, Logger: s.Logger}); err == nil {
			s.handler.Store(h)
			log.Info("single sign-on configured", "provider", cfg.Name, "issuer", cfg.Issuer)
			return ctrl.Result{}, nil
		}
	}
	s.handler.Store(nil)
	log.Error(err, "single sign-on is off until the Secret is fixed", "secret", SecretName)
	return ctrl.Result{}, nil
}

// complete starts a gantry session for a verified upstream login, as a
// password login does, and sends the browser on.
func (s *Service) complete(w http.ResponseWriter, r *http.Request, login Login, returnTo string) {
	// A user this very login created reaches the cache StartSession reads
	// a moment later: wait for it, briefly.
	timeout := s.sessionWait
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	var err error
	_ = wait.PollUntilContextTimeout(r.Context(), 100*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		err = s.StartSession(w, r, login.Username)
		return err == nil, nil
	})
	if err != nil {
		http.Error(w, "signing in: "+err.Error(), http.StatusForbidden)
		return
	}
	next := LocalPath(returnTo)
	if s.Continue != nil {
		next = s.Continue(r, login.Username, next)
	}
	// Not a redirect: browsers withhold SameSite=Strict cookies from a
	// redirect chain that began at another site (the identity provider), so
	// the next page would look logged out. A page that moves on by itself
	// starts a same-site navigation.
	target := template.HTMLEscapeString(LocalPath(next))
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	fmt.Fprintf(w, `<!doctype html><meta http-equiv="refresh" content="0;url=%s"><title>gantry</title><p>Signed in. <a href="%s">Continue</a></p>`, target, target)
}
