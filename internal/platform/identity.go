package platform

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/identity/accesskeys"
	"gantry.dev/gantry/internal/identity/authn"
	"gantry.dev/gantry/internal/identity/rbac"
	"gantry.dev/gantry/internal/identity/sessionapi"
	"gantry.dev/gantry/internal/identity/sessions"
	"gantry.dev/gantry/internal/identity/users"
	"gantry.dev/gantry/internal/vcproxy"
)

// RBACConfigMap holds the user part of the RBAC policy, as Argo CD's
// argocd-rbac-cm: policy.csv, policy.default, policy.matchMode.
const RBACConfigMap = "gantry-rbac-cm"

// sessionKeysSecret keeps the token signing keys.
const sessionKeysSecret = "gantry-session-keys"

// identity is who may call gantry and what they may do.
type identity struct {
	auth     *authn.Authenticator
	enforcer *rbac.Enforcer
	tokens   *sessions.Manager
}

// setupIdentity builds authentication (sessions, the admin token) and
// authorization (casbin), and serves /api/v1/session. Signing keys are loaded
// lazily on first use because the manager's client cannot read before it starts.
func (p *Platform) setupIdentity(mgr manager.Manager, token *vcproxy.AdminToken) (*identity, error) {
	enforcer, err := rbac.New(rbac.Options{})
	if err != nil {
		return nil, err
	}
	id := &identity{enforcer: enforcer}
	keys := accesskeys.Store{Client: mgr.GetClient(), Namespace: SystemNamespace}
	id.auth = &authn.Authenticator{Admin: token, Users: mgr.GetClient(), AccessKeys: keys.Get}
	// The token manager needs the signing keys from the host; made in Run.
	p.identity = id
	api := &sessionapi.API{
		Passwords: passwordChecker{reader: mgr.GetClient()},
		Limiter:   sessions.NewLimiter(sessions.LimiterOptions{}),
		Auth:      id.auth,
		Secure:    true,
	}
	p.sessionAPI = api
	p.opts.Server.Handle(sessionapi.Prefix, api)
	p.opts.Server.Handle(sessionapi.Prefix+"/", api)
	keysAPI := &accesskeys.API{Store: keys, Auth: id.auth, Authorize: enforcer.Authorize}
	p.opts.Server.Handle(accesskeys.Prefix, keysAPI)
	p.opts.Server.Handle(accesskeys.Prefix+"/", keysAPI)
	if err := (&rbacConfig{Client: mgr.GetClient(), Enforcer: enforcer}).SetupWithManager(mgr); err != nil {
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
	if _, err := signer.RotateIfDue(ctx); err != nil {
		return fmt.Errorf("rotating session signing keys: %w", err)
	}
	m, err := sessions.NewManager(signer, sessions.NewMemoryRefreshStore(nil), sessions.Config{
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
	p.identity.tokens = m
	p.identity.auth.Tokens = m
	p.sessionAPI.Tokens = m
	// Keys rotate daily; old ones are dropped once every token they signed expired.
	return p.mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		t := time.NewTicker(time.Hour)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
				if _, err := signer.RotateIfDue(ctx); err != nil {
					p.opts.Logger.Error(err, "rotating session signing keys")
				}
			}
		}
	}))
}

type passwordChecker struct{ reader client.Reader }

func (c passwordChecker) Check(ctx context.Context, user, password string) (bool, error) {
	u := &platformv1alpha1.User{}
	if err := c.reader.Get(ctx, client.ObjectKey{Name: user}, u); err != nil {
		if apierrors.IsNotFound(err) {
			// Same work as for a real user: no user enumeration by timing.
			_, _ = users.CheckPassword(ctx, c.reader, SystemNamespace, "", password)
			return false, nil
		}
		return false, err
	}
	if u.Spec.Disabled {
		return false, nil
	}
	return users.CheckPassword(ctx, c.reader, SystemNamespace, user, password)
}

// rbacConfig loads gantry-rbac-cm into the enforcer whenever it changes. A broken
// policy is logged and the previous one stays in force.
type rbacConfig struct {
	Client   client.Client
	Enforcer *rbac.Enforcer
}

func (r *rbacConfig) SetupWithManager(mgr manager.Manager) error {
	return builder.ControllerManagedBy(mgr).
		Named("rbac-config").
		For(&corev1.ConfigMap{}, builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool {
			return o.GetNamespace() == SystemNamespace && o.GetName() == RBACConfigMap
		}))).
		Complete(r)
}

func (r *rbacConfig) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	cm := &corev1.ConfigMap{}
	if err := r.Client.Get(ctx, req.NamespacedName, cm); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, r.Enforcer.SetPolicy("", "", "")
		}
		return ctrl.Result{}, err
	}
	if err := r.Enforcer.SetPolicy(cm.Data["policy.csv"], cm.Data["policy.default"], cm.Data["policy.matchMode"]); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "gantry-rbac-cm has a broken policy; the previous one stays in force")
	}
	return ctrl.Result{}, nil
}

// projectPolicies turns the projects' members into policy for the enforcer.
func projectPolicies(e *rbac.Enforcer, projects []platformv1alpha1.Project) error {
	out := map[string]string{}
	for _, p := range projects {
		var members []rbac.Member
		for _, m := range p.Spec.Members {
			members = append(members, rbac.Member{Kind: rbac.MemberKind(m.Kind), Name: m.Name, Role: rbac.ProjectRole(m.Role)})
		}
		out[p.Name] = rbac.ProjectPolicy(p.Name, members)
	}
	return e.SetProjectPolicies(out)
}

func (p *Platform) externalURL() string {
	if p.opts.ExternalURL != "" {
		return p.opts.ExternalURL
	}
	return p.opts.Server.URL()
}
