package authn

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sort"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/identity/accesskeys"
	"gantry.dev/gantry/internal/identity/rbac"
	"gantry.dev/gantry/internal/identity/sessions"
)

// CookieName carries the UI's access token (HttpOnly, SameSite=Lax: see sessionapi.API.SetCookies).
const CookieName = "gantry.token"

// AdminUser is who the local admin token acts as.
const AdminUser = "admin"

// Names of gantry's callers where gantry hands them on (impersonation through
// the proxy, tokens for virtual clusters and other applications).
const (
	// UserPrefix is put before gantry user names inside virtual clusters, by
	// the proxy (impersonation) and by the kube-apiserver (token claims) alike,
	// so that a gantry user can never pass for one of the cluster's own users.
	UserPrefix = "gantry:"
	// GroupAdmins is the group of gantry's administrators: bound to
	// cluster-admin in every virtual cluster (vcluster.EnsureRBAC), and named
	// in Argo CD policies.
	GroupAdmins = "gantry:admins"
)

// ForwardedGroups are the groups a caller carries past gantry (inside a
// virtual cluster, in an OpenID Connect token): their teams and project
// roles, plus GroupAdmins for administrators.
func ForwardedGroups(groups []string, admin bool) []string {
	out := append([]string(nil), groups...)
	if admin {
		out = append(out, GroupAdmins)
	}
	return out
}

// Identity is an authenticated caller.
type Identity struct {
	User   string
	Groups []string
	// Via says how the caller authenticated: "admin-token", "session" or "accesskey".
	Via string
	// Scope narrows an access key to a project or one virtual cluster.
	Scope accesskeys.Scope
	// Passive callers (an integration's polling) neither wake nor keep awake
	// the virtual clusters they reach.
	Passive bool
}

// InScope says whether the identity may touch project's object: always, unless
// it is a scoped access key. An app (vcluster "") is outside a virtual cluster's scope.
func (i Identity) InScope(project, vcluster string) bool {
	if i.Scope.Project != "" && i.Scope.Project != project {
		return false
	}
	return i.Scope.VirtualCluster == "" || i.Scope.VirtualCluster == vcluster
}

// Subjects are the names RBAC matches: the user and each group.
func (i Identity) Subjects() []string { return append([]string{i.User}, i.Groups...) }

// TokenVerifier checks session tokens (sessions.Manager).
type TokenVerifier interface {
	Verify(ctx context.Context, accessToken string) (*sessions.Claims, error)
}

// Authenticator resolves requests to identities.
type Authenticator struct {
	Admin  *AdminToken
	Tokens TokenVerifier
	// Users reads User, Team and Project objects for current groups and to
	// refuse disabled users.
	Users client.Reader
	// AccessKeys looks up access key records by id (accesskeys.Store.Get).
	AccessKeys func(ctx context.Context, id string) (accesskeys.Key, bool)
}

// ErrNoCredentials is returned when a request carries none.
var ErrNoCredentials = errors.New("no credentials: log in (gantry login) or send Authorization: Bearer <token>")

// Authenticate returns the caller of r, or an error meaning 401.
func (a *Authenticator) Authenticate(r *http.Request) (Identity, error) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || token == "" {
		if c, err := r.Cookie(CookieName); err == nil && c.Value != "" {
			token = c.Value
		}
	}
	if token == "" {
		return Identity{}, ErrNoCredentials
	}
	ctx := r.Context()
	if strings.HasPrefix(token, "gak_") && a.AccessKeys != nil {
		k, err := accesskeys.Verify(token, func(id string) (accesskeys.Key, bool) { return a.AccessKeys(ctx, id) })
		if err != nil {
			return Identity{}, err
		}
		if k.System {
			// An integration's key: what it may do is on the key, not a user.
			return Identity{User: k.Owner, Groups: k.Groups, Via: "accesskey", Scope: k.Scope, Passive: k.Passive}, nil
		}
		groups, err := a.Groups(ctx, k.Owner)
		if err != nil {
			return Identity{}, err
		}
		return Identity{User: k.Owner, Groups: groups, Via: "accesskey", Scope: k.Scope, Passive: k.Passive}, nil
	}
	if strings.Count(token, ".") == 2 && a.Tokens != nil {
		claims, err := a.Tokens.Verify(ctx, token)
		if err != nil {
			return Identity{}, err
		}
		groups, err := a.Groups(ctx, claims.User)
		if err != nil {
			return Identity{}, err
		}
		return Identity{User: claims.User, Groups: groups, Via: "session"}, nil
	}
	if a.Admin != nil && a.Admin.Matches(token) {
		groups, _ := a.Groups(ctx, AdminUser)
		return Identity{User: AdminUser, Groups: groups, Via: "admin-token"}, nil
	}
	return Identity{}, errors.New("invalid token: log in again (gantry login)")
}

// Groups returns user's groups now: their own, team:<name> for each team they
// are in (directly or through an SSO group mapped to the team), and
// gantry:project:<project>:<role> for each project role they hold. A disabled or
// deleted user is an error, so their tokens stop working at once.
func (a *Authenticator) Groups(ctx context.Context, user string) ([]string, error) {
	if a.Users == nil {
		return nil, nil
	}
	u := &platformv1alpha1.User{}
	if err := a.Users.Get(ctx, client.ObjectKey{Name: user}, u); err != nil {
		if client.IgnoreNotFound(err) == nil {
			return nil, errors.New("user " + user + " no longer exists")
		}
		return nil, err
	}
	if u.Spec.Disabled {
		return nil, errors.New("user " + user + " is disabled")
	}
	// A user's own groups (set by an admin, or by SSO from the identity
	// provider) never carry gantry's reserved prefixes: those come only from
	// teams and project membership below.
	var groups []string
	for _, g := range u.Spec.Groups {
		if _, reserved := rbac.ReservedPrefix(g); !reserved {
			groups = append(groups, g)
		}
	}
	var teams platformv1alpha1.TeamList
	if err := a.Users.List(ctx, &teams); err != nil {
		return nil, err
	}
	var myTeams []string
	for _, t := range teams.Items {
		in := slices.Contains(t.Spec.Users, user)
		for _, g := range t.Spec.Groups {
			in = in || slices.Contains(u.Spec.Groups, g)
		}
		if in {
			myTeams = append(myTeams, t.Name)
			groups = append(groups, "team:"+t.Name)
		}
	}
	var projects platformv1alpha1.ProjectList
	if err := a.Users.List(ctx, &projects); err != nil {
		return nil, err
	}
	for _, p := range projects.Items {
		for _, m := range p.Spec.Members {
			if m.Kind == platformv1alpha1.MemberUser && m.Name == user ||
				m.Kind == platformv1alpha1.MemberTeam && slices.Contains(myTeams, m.Name) {
				groups = append(groups, "gantry:project:"+p.Name+":"+string(m.Role))
			}
		}
	}
	sort.Strings(groups)
	return slices.Compact(groups), nil
}
