package platform

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"gantry.dev/gantry/internal/api"
	"gantry.dev/gantry/internal/identity/sso"
	"gantry.dev/gantry/internal/jsonapi"
)

// upstreamSSO serves /api/v1/sso/ from the Secret gantry-sso, rebuilt whenever
// the Secret changes (as Argo CD rereads oidc.config from argocd-cm). Without
// the Secret, SSO is off and the endpoints say how to turn it on.
type upstreamSSO struct {
	p       *Platform
	client  client.Client
	handler atomic.Pointer[sso.Handler]
}

// ssoInfo is GET /api/v1/sso/info, for the login page: whether to show a
// "Sign in with <name>" button, and where it goes. It needs no credentials
// (the login page has none) and says nothing secret.
type ssoInfo struct {
	Enabled  bool   `json:"enabled"`
	Name     string `json:"name,omitempty"`
	LoginURL string `json:"loginURL,omitempty"`
}

// Register mounts SSO's public routes: the login page's question, and the
// sign-in through the upstream provider, whose answer carries its own proof
// (state, PKCE, the provider's signed ID token).
func (u *upstreamSSO) Register(r *api.Router) {
	r.Public("GET "+sso.Prefix+"info", "the login page asks whether to show an SSO button; nothing secret", http.HandlerFunc(u.info))
	r.Public("GET "+sso.Prefix+"login", "starts a sign-in at the upstream identity provider", u)
	r.Public("GET "+sso.Prefix+"callback", "the upstream identity provider's answer: checked against the sign-in's state, nonce and PKCE", u)
}

func (u *upstreamSSO) info(w http.ResponseWriter, _ *http.Request) {
	info := ssoInfo{}
	if h := u.handler.Load(); h != nil {
		info = ssoInfo{Enabled: true, Name: h.Name(), LoginURL: h.LoginURL("/")}
	}
	jsonapi.Write(w, http.StatusOK, info)
}

func (u *upstreamSSO) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := u.handler.Load()
	if h == nil {
		jsonapi.Error(w, http.StatusNotFound, "single sign-on is not configured: put an identity provider's settings in the Secret "+
			sso.SecretName+" (key "+sso.SecretKey+") of namespace "+SystemNamespace)
		return
	}
	h.ServeHTTP(w, r)
}

// loginURL is the upstream login that comes back to returnTo, or "" when SSO is off.
func (u *upstreamSSO) loginURL(returnTo string) string {
	if h := u.handler.Load(); h != nil {
		return h.LoginURL(returnTo)
	}
	return ""
}

func (u *upstreamSSO) name() string {
	if h := u.handler.Load(); h != nil {
		return h.Name()
	}
	return ""
}

func (u *upstreamSSO) SetupWithManager(mgr manager.Manager) error {
	return builder.ControllerManagedBy(mgr).
		Named("sso-config").
		For(&corev1.Secret{}, builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool {
			return o.GetNamespace() == SystemNamespace && o.GetName() == sso.SecretName
		}))).
		Complete(u)
}

// Reconcile rebuilds the handler; a broken config turns SSO off (logged) rather
// than keeping settings the operator has just replaced.
func (u *upstreamSSO) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	log := ctrl.LoggerFrom(ctx)
	s := &corev1.Secret{}
	if err := u.client.Get(ctx, req.NamespacedName, s); err != nil {
		if apierrors.IsNotFound(err) {
			u.handler.Store(nil)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	cfg, err := sso.ParseConfig(s.Data[sso.SecretKey])
	if err == nil {
		var h *sso.Handler
		if h, err = sso.New(u.p.ctx, sso.Options{Config: cfg, ExternalURL: u.p.externalURL(), Complete: u.complete,
			Client: u.client, Logger: u.p.opts.Logger.WithName("sso")}); err == nil {
			u.handler.Store(h)
			log.Info("single sign-on configured", "provider", cfg.Name, "issuer", cfg.Issuer)
			return ctrl.Result{}, nil
		}
	}
	u.handler.Store(nil)
	log.Error(err, "single sign-on is off until the Secret is fixed", "secret", sso.SecretName)
	return ctrl.Result{}, nil
}

// complete starts a gantry session for a verified upstream login, as a password
// login does, and sends the browser on.
func (u *upstreamSSO) complete(w http.ResponseWriter, r *http.Request, login sso.Login, returnTo string) {
	// A user created by this very login reaches the informer cache that
	// Groups reads a moment later: wait for it, briefly.
	err := u.p.sessionAPI.StartSession(w, r, login.Username)
	for i := 0; err != nil && i < 50 && r.Context().Err() == nil; i++ {
		time.Sleep(100 * time.Millisecond)
		err = u.p.sessionAPI.StartSession(w, r, login.Username)
	}
	if err != nil {
		http.Error(w, "signing in: "+err.Error(), http.StatusForbidden)
		return
	}
	// Back to an application's sign-in at gantry's provider: finish it here,
	// for this sign-in is fresh (prompt=login is met).
	next := sso.LocalPath(returnTo)
	if prov := u.p.identity.provider.Load(); prov != nil {
		if id, ok := prov.UpstreamReturn(next); ok {
			if callback, err := prov.CompleteUpstream(r, id, login.Username); err == nil {
				// op names it under the issuer, gantry's own URL: keep the path.
				if cu, err := url.Parse(callback); err == nil {
					next = cu.RequestURI()
				}
			}
		}
	}
	// Not a redirect: browsers withhold SameSite=Strict cookies from a redirect
	// chain that began at another site (the identity provider), so the next page
	// would look logged out. A page that moves on by itself starts a same-site
	// navigation.
	target := template.HTMLEscapeString(sso.LocalPath(next))
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	fmt.Fprintf(w, `<!doctype html><meta http-equiv="refresh" content="0;url=%s"><title>gantry</title><p>Signed in. <a href="%s">Continue</a></p>`, target, target)
}
