package platform

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"gantry.dev/gantry/internal/api"
	"gantry.dev/gantry/internal/clusterapi"
	"gantry.dev/gantry/internal/identity/accesskeyapi"
	"gantry.dev/gantry/internal/identity/accesskeys"
	"gantry.dev/gantry/internal/identity/authn"
	"gantry.dev/gantry/internal/identity/oidcprovider"
	"gantry.dev/gantry/internal/identity/rbac"
	"gantry.dev/gantry/internal/identity/rbacconfig"
	"gantry.dev/gantry/internal/identity/sessionapi"
	"gantry.dev/gantry/internal/identity/sessions"
	"gantry.dev/gantry/internal/identity/sso"
	"gantry.dev/gantry/internal/identity/users"
	"gantry.dev/gantry/internal/jsonapi"
	"gantry.dev/gantry/internal/projectapi"
	"gantry.dev/gantry/internal/userapi"
)

// sessionKeysSecret keeps the token signing keys.
const sessionKeysSecret = "gantry-session-keys"

// oidcPath is where gantry's OpenID Connect provider is served.
const oidcPath = "/oidc"

// identity is who may call gantry and what they may do.
type identity struct {
	auth     *authn.Authenticator
	enforcer *rbac.Enforcer
	// limiter counts failed password logins on every login path.
	limiter *sessions.Limiter
	// provider is gantry's OpenID Connect provider, set once the signing keys
	// are loaded (startTokens).
	provider atomic.Pointer[oidcprovider.Provider]
}

// setupIdentity builds authentication (sessions, the admin token) and
// authorization (casbin), the router every HTTP route goes through, and the
// routes of identity: session, access keys, OpenID Connect, projects, users
// and teams, SSO. The signing keys, and so the token manager and the OpenID
// Connect provider, come later (startTokens, from Run): the host's API may
// not answer yet when New runs.
func (p *Platform) setupIdentity(mgr manager.Manager, token *authn.AdminToken) (*identity, error) {
	enforcer, err := rbac.New(rbac.Options{})
	if err != nil {
		return nil, err
	}
	id := &identity{enforcer: enforcer, limiter: sessions.NewLimiter(sessions.LimiterOptions{})}
	// Uncached reads where a thing written a moment ago must be found by the
	// next request: OIDC clients, new access keys, users added to projects.
	direct, err := client.New(mgr.GetConfig(), client.Options{Scheme: mgr.GetScheme()})
	if err != nil {
		return nil, err
	}
	p.direct = direct
	keys := accesskeys.Store{Client: mgr.GetClient(), Namespace: SystemNamespace}
	// Keys are looked up in the cache; one made a moment ago may not be there
	// yet, so a miss asks the API server before the key is refused.
	fresh := accesskeys.Store{Client: direct, Namespace: SystemNamespace}
	lookup := func(ctx context.Context, keyID string) (accesskeys.Key, bool) {
		if k, ok := keys.Get(ctx, keyID); ok {
			return k, true
		}
		return fresh.Get(ctx, keyID)
	}
	id.auth = &authn.Authenticator{Admin: token, Users: mgr.GetClient(), AccessKeys: lookup}
	// The token manager needs the signing keys from the host; made in Run.
	p.identity = id
	p.router = api.NewRouter(id.auth, enforcer.Authorize)
	p.sessionAPI = &sessionapi.API{
		Passwords: users.Passwords{Reader: mgr.GetClient(), Namespace: SystemNamespace},
		Limiter:   id.limiter,
		Auth:      id.auth,
		Secure:    true,
	}
	p.sessionAPI.Register(p.router)
	(&accesskeyapi.API{Store: keys}).Register(p.router)
	if err := (&rbacconfig.Reconciler{Client: mgr.GetClient(), Enforcer: enforcer, Namespace: SystemNamespace}).SetupWithManager(mgr); err != nil {
		return nil, err
	}
	if err := (&rbacconfig.Projects{Client: mgr.GetClient(), Enforcer: enforcer}).SetupWithManager(mgr); err != nil {
		return nil, err
	}
	p.router.Public(oidcPath+"/", "gantry's OpenID Connect provider: clients, codes and tokens are its credentials; the sign-in page posts passwords",
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if prov := id.provider.Load(); prov != nil {
				prov.ServeHTTP(w, r)
				return
			}
			jsonapi.Error(w, http.StatusServiceUnavailable, "gantry's OpenID Connect provider is starting: try again in a moment")
		}))
	(&oidcprovider.ClientsAPI{Store: oidcprovider.ClientStore{Client: direct, Namespace: SystemNamespace}}).Register(p.router)
	// Projects, users and teams are few and written by people: read them
	// uncached, so that a user made a moment ago can be added to a project at
	// once (the cache would lag by a few milliseconds).
	(&projectapi.API{Client: direct, Namespace: SystemNamespace}).Register(p.router)
	(&clusterapi.API{Client: direct, Namespace: SystemNamespace, Host: p.opts.Host}).Register(p.router)
	(&userapi.API{Client: direct, Namespace: SystemNamespace, Limiter: id.limiter}).Register(p.router)
	p.sso = &sso.Service{Client: mgr.GetClient(), Namespace: SystemNamespace, ExternalURL: p.externalURL(),
		StartSession: p.sessionAPI.StartSession,
		// Back to an application's sign-in at gantry's provider: finished
		// there, for this sign-in is fresh (prompt=login is met).
		Continue: func(r *http.Request, user, returnTo string) string {
			if prov := id.provider.Load(); prov != nil {
				return prov.ContinueUpstream(r, user, returnTo)
			}
			return returnTo
		},
		Logger: p.opts.Logger.WithName("sso")}
	p.sso.Register(p.router)
	if err := p.sso.SetupWithManager(mgr); err != nil {
		return nil, err
	}
	return id, nil
}

// startTokens loads (or makes) the signing keys and starts issuing tokens.
func (p *Platform) startTokens(ctx context.Context, c client.Client) error {
	signer, err := sessions.NewSigner(ctx, sessions.SecretKeyStore{Client: c, Namespace: SystemNamespace, Name: sessionKeysSecret}, sessions.SignerOptions{})
	if err != nil {
		return fmt.Errorf("session signing keys: %w", err)
	}
	// Refresh tokens live as Secrets (hashed), so logins survive a restart.
	refresh := sessions.SecretRefreshStore{Client: c, Namespace: SystemNamespace, Reader: p.mgr.GetAPIReader()}
	m, err := sessions.NewManager(signer, refresh, sessions.Config{
		Issuer: p.externalURL(),
		// Groups and the disabled flag are read again at each refresh.
		Revalidate: func(ctx context.Context, s sessions.Subject) (sessions.Subject, error) {
			groups, err := p.identity.auth.Groups(ctx, s.User)
			if err != nil {
				return s, err
			}
			s.Groups = groups
			return s, nil
		},
	})
	if err != nil {
		return err
	}
	p.identity.auth.Tokens = m
	p.sessionAPI.Tokens = m
	prov, err := oidcprovider.New(oidcprovider.Options{
		Issuer: p.issuer(), Signer: signer, Client: c, Namespace: SystemNamespace,
		Users: oidcprovider.Directory{Passwords: users.Passwords{Reader: c, Namespace: SystemNamespace},
			Groups: p.identity.auth.Groups, Authorize: p.identity.enforcer.Authorize, Reader: c},
		// The web UI's (ui/src/views/Login.tsx): one sign-in page for gantry.
		LoginPage: "/login",
		Limiter:   p.identity.limiter,
		// A browser already signed in to gantry is not asked again.
		Session: func(r *http.Request) (string, bool) {
			id, err := p.identity.auth.Authenticate(r)
			return id.User, err == nil && id.Via == "session"
		},
		// Failing to start gantry's own session does not fail the sign-in:
		// the browser is only asked again next time.
		SignedIn: func(w http.ResponseWriter, r *http.Request, user string) { _ = p.sessionAPI.StartSession(w, r, user) },
		Upstream: func(returnTo string) (string, string) { return p.sso.LoginURL(returnTo), p.sso.Name() },
		Logger:   p.opts.Logger.WithName("oidc"),
	})
	if err != nil {
		return fmt.Errorf("gantry's OpenID Connect provider: %w", err)
	}
	p.identity.provider.Store(prov)
	// Keys rotate daily; old ones are dropped once every token they signed expired.
	// On every replica: the leader rotates and collects, the others follow
	// its keys.
	upkeep := &sessions.Upkeep{Signer: signer, Logger: p.opts.Logger.WithName("sessions"),
		Collect: []func(context.Context) error{
			func(ctx context.Context) error { _, err := refresh.Collect(ctx); return err },
			prov.Sweep,
		}}
	if p.opts.LeaderElection {
		upkeep.Leading = p.leading
	}
	return p.mgr.Add(everyReplica{upkeep})
}

// issuer is the URL of gantry's OpenID Connect provider.
func (p *Platform) issuer() string { return p.externalURL() + oidcPath }

func (p *Platform) externalURL() string {
	if p.opts.ExternalURL != "" {
		return p.opts.ExternalURL
	}
	return p.opts.Server.URL()
}
