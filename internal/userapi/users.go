package userapi

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/mail"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/api"
	"gantry.dev/gantry/internal/identity/rbac"
	"gantry.dev/gantry/internal/identity/users"
	"gantry.dev/gantry/internal/jsonapi"
)

// User is a user as the API shows it: never a password or its hash.
type User struct {
	Name        string   `json:"name"`
	Username    string   `json:"username"`
	DisplayName string   `json:"displayName,omitempty"`
	Email       string   `json:"email,omitempty"`
	Groups      []string `json:"groups"`
	Disabled    bool     `json:"disabled"`
	// Teams the user is in, directly or through one of their groups.
	Teams []string `json:"teams"`
	// PasswordSet says whether the user has a local password; without one
	// they sign in through SSO only.
	PasswordSet bool        `json:"passwordSet"`
	Created     metav1.Time `json:"created"`
}

// userInfo is what views need beyond the User: teams and password Secrets.
type userInfo struct {
	teams        []platformv1alpha1.Team
	withPassword map[string]bool
}

func (a *API) info(ctx context.Context) (userInfo, error) {
	var teams platformv1alpha1.TeamList
	if err := a.Client.List(ctx, &teams); err != nil {
		return userInfo{}, err
	}
	var secrets corev1.SecretList
	if err := a.Client.List(ctx, &secrets, client.InNamespace(a.Namespace), client.HasLabels{users.LabelUser}); err != nil {
		return userInfo{}, err
	}
	in := userInfo{teams: teams.Items, withPassword: map[string]bool{}}
	for _, s := range secrets.Items {
		// The label says whose; the name must agree, as users.CheckPassword reads it.
		if u := s.Labels[users.LabelUser]; s.Name == users.SecretName(u) {
			in.withPassword[u] = true
		}
	}
	return in, nil
}

func (in userInfo) view(u *platformv1alpha1.User) User {
	v := User{Name: u.Name, Username: u.Spec.Username, DisplayName: u.Spec.DisplayName, Email: u.Spec.Email,
		Groups: u.Spec.Groups, Disabled: u.Spec.Disabled, Teams: []string{}, PasswordSet: in.withPassword[u.Name],
		Created: u.CreationTimestamp}
	if v.Username == "" {
		v.Username = u.Name
	}
	if v.Groups == nil {
		v.Groups = []string{}
	}
	// As authn.Groups decides membership.
	for _, t := range in.teams {
		member := slices.Contains(t.Spec.Users, u.Name)
		for _, g := range t.Spec.Groups {
			member = member || slices.Contains(u.Spec.Groups, g)
		}
		if member {
			v.Teams = append(v.Teams, t.Name)
		}
	}
	slices.Sort(v.Teams)
	return v
}

func (a *API) viewUser(ctx context.Context, u *platformv1alpha1.User) (User, error) {
	in, err := a.info(ctx)
	if err != nil {
		return User{}, err
	}
	return in.view(u), nil
}

// mayGetUser: anyone may read themselves, a scoped key included.
func mayGetUser(c *api.Caller, name string) error {
	if name == c.User {
		return nil
	}
	return can(c, rbac.ResourceUsers, rbac.ActionGet, name)
}

func (a *API) listUsers(r *http.Request, c *api.Caller) (any, error) {
	ctx := r.Context()
	var list platformv1alpha1.UserList
	if err := a.Client.List(ctx, &list); err != nil {
		return nil, err
	}
	in, err := a.info(ctx)
	if err != nil {
		return nil, err
	}
	items := []User{}
	for i := range list.Items {
		if mayGetUser(c, list.Items[i].Name) == nil {
			items = append(items, in.view(&list.Items[i]))
		}
	}
	slices.SortFunc(items, func(x, y User) int { return strings.Compare(x.Name, y.Name) })
	return map[string]any{"items": items}, nil
}

func (a *API) fetchUser(ctx context.Context, name string) (*platformv1alpha1.User, error) {
	u := &platformv1alpha1.User{}
	if err := a.Client.Get(ctx, client.ObjectKey{Name: name}, u); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, jsonapi.Errorf(http.StatusNotFound, "user %s not found (GET %s lists users)", name, UsersPrefix)
		}
		return nil, err
	}
	return u, nil
}

func (a *API) getUser(r *http.Request, c *api.Caller, name string) (any, error) {
	ctx := r.Context()
	if err := mayGetUser(c, name); err != nil {
		return nil, err
	}
	u, err := a.fetchUser(ctx, name)
	if err != nil {
		return nil, err
	}
	return a.viewUser(ctx, u)
}

// CreateUserRequest is the body of POST /api/v1/users. Without a password
// the user signs in through SSO only, until one is set.
type CreateUserRequest struct {
	Name        string   `json:"name"`
	Email       string   `json:"email"`
	DisplayName string   `json:"displayName"`
	Groups      []string `json:"groups"`
	Password    string   `json:"password"`
}

func (a *API) createUser(r *http.Request, c *api.Caller) (any, error) {
	var req CreateUserRequest
	if _, err := api.DecodeObject(r, &req); err != nil {
		return nil, err
	}
	if req.Name == "" {
		return nil, jsonapi.Errorf(http.StatusBadRequest, `request body has no "name": send {"name": "alice", "email": …, "displayName": …, "groups": […], "password": …}`)
	}
	if err := can(c, rbac.ResourceUsers, rbac.ActionCreate, req.Name); err != nil {
		return nil, err
	}
	if err := validName("user", req.Name); err != nil {
		return nil, err
	}
	if err := validEmail(req.Email); err != nil {
		return nil, err
	}
	groups, err := validGroups(req.Groups)
	if err != nil {
		return nil, err
	}
	if req.Password != "" {
		if err := users.CheckPolicy(req.Name, req.Password); err != nil {
			return nil, jsonapi.Errorf(http.StatusBadRequest, "%v", err)
		}
	}
	ctx := r.Context()
	u := &platformv1alpha1.User{ObjectMeta: metav1.ObjectMeta{Name: req.Name},
		Spec: platformv1alpha1.UserSpec{Username: req.Name, Email: req.Email, DisplayName: req.DisplayName, Groups: groups}}
	if err := a.Client.Create(ctx, u); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return nil, jsonapi.Errorf(http.StatusConflict, "user %s already exists (POST %s/%s/password to change the password)", req.Name, UsersPrefix, req.Name)
		}
		return nil, err
	}
	if req.Password != "" {
		if err := users.SetPassword(ctx, a.Client, a.Namespace, req.Name, req.Password); err != nil {
			_ = a.Client.Delete(ctx, u) // nothing half-made
			return nil, fmt.Errorf("storing the password of %s: %w", req.Name, err)
		}
	} else if err := a.deleteSecret(ctx, req.Name); err != nil {
		// A Secret left by an earlier user of this name would let its
		// password into the new account.
		_ = a.Client.Delete(ctx, u)
		return nil, err
	}
	return a.viewUser(ctx, u)
}

func (a *API) deleteSecret(ctx context.Context, user string) error {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: users.SecretName(user), Namespace: a.Namespace}}
	if err := a.Client.Delete(ctx, s); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting the password Secret of %s: %w", user, err)
	}
	return nil
}

func validEmail(email string) error {
	if email == "" {
		return nil
	}
	if addr, err := mail.ParseAddress(email); err != nil || addr.Address != email {
		return jsonapi.Errorf(http.StatusBadRequest, "email %q is not an email address: write it as name@example.com", email)
	}
	return nil
}

// validGroups refuses reserved groups (reservedGroup) and checks the list.
func validGroups(groups []string) ([]string, error) {
	out, err := set("groups", groups)
	if err != nil {
		return nil, err
	}
	for _, g := range out {
		if err := reservedGroup(g); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// reservedGroup refuses a group with a reserved prefix (rbac.ReservedPrefix):
// Kubernetes' own ("system:masters" is cluster-admin inside every virtual
// cluster the proxy hands the groups to), and those of RBAC's own subjects (a
// group "gantry:project:shop:project-admin" or "role:admin" would hand out a
// role past the project members and policy.csv where such grants are looked
// for). The same rule holds for a team's groups.
func reservedGroup(g string) error {
	p, ok := rbac.ReservedPrefix(g)
	switch {
	case !ok:
		return nil
	case p == rbac.SystemPrefix:
		return jsonapi.Errorf(http.StatusBadRequest, "group %q: groups starting with %q are Kubernetes' own and never given by gantry (system:masters would be cluster-admin in every virtual cluster): use a group name of your own", g, p)
	default:
		return jsonapi.Errorf(http.StatusBadRequest, "group %q has the reserved prefix %q: give project roles as project members, teams through the team's users, and roles in policy.csv", g, p)
	}
}

// UpdateUserRequest is the body of PUT and PATCH /api/v1/users/{u}; both
// merge: a field left out stays, a field sent replaces (groups as a whole),
// null clears.
type UpdateUserRequest struct {
	Email       *string  `json:"email"`
	DisplayName *string  `json:"displayName"`
	Groups      []string `json:"groups"`
	Disabled    *bool    `json:"disabled"`
}

func (a *API) updateUser(r *http.Request, c *api.Caller, name string) (any, error) {
	if err := can(c, rbac.ResourceUsers, rbac.ActionUpdate, name); err != nil {
		return nil, err
	}
	var req UpdateUserRequest
	present, err := api.DecodeObject(r, &req)
	if err != nil {
		return nil, err
	}
	if _, ok := present["email"]; ok {
		if err := validEmail(deref(req.Email)); err != nil {
			return nil, err
		}
	}
	groups, err := validGroups(req.Groups)
	if err != nil {
		return nil, err
	}
	if req.Disabled != nil && *req.Disabled && name == c.User {
		return nil, jsonapi.Errorf(http.StatusBadRequest, "you cannot disable yourself: ask another administrator")
	}
	ctx := r.Context()
	u, err := patch(ctx, a.Client, func() (*platformv1alpha1.User, error) { return a.fetchUser(ctx, name) }, func(u *platformv1alpha1.User) error {
		if _, ok := present["email"]; ok {
			u.Spec.Email = deref(req.Email)
		}
		if _, ok := present["displayName"]; ok {
			u.Spec.DisplayName = deref(req.DisplayName)
		}
		if _, ok := present["groups"]; ok {
			u.Spec.Groups = groups
		}
		if _, ok := present["disabled"]; ok {
			u.Spec.Disabled = req.Disabled != nil && *req.Disabled
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return a.viewUser(ctx, u)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func (a *API) deleteUser(r *http.Request, c *api.Caller, name string) (any, error) {
	ctx := r.Context()
	if err := can(c, rbac.ResourceUsers, rbac.ActionDelete, name); err != nil {
		return nil, err
	}
	switch name {
	case users.Admin:
		return nil, jsonapi.Errorf(http.StatusBadRequest, `the admin user cannot be deleted (disable it instead: PATCH %s/admin {"disabled": true})`, UsersPrefix)
	case c.User:
		return nil, jsonapi.Errorf(http.StatusBadRequest, "you cannot delete yourself: ask another administrator")
	}
	u, err := a.fetchUser(ctx, name)
	if err != nil {
		return nil, err
	}
	// The password first: a User deleted with its Secret left behind would
	// give the old password to whoever is next created with the name.
	if err := a.deleteSecret(ctx, name); err != nil {
		return nil, err
	}
	if err := a.Client.Delete(ctx, u); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, jsonapi.Errorf(http.StatusNotFound, "user %s not found (GET %s lists users)", name, UsersPrefix)
		}
		return nil, err
	}
	return map[string]any{}, nil
}

// PasswordRequest is the body of POST /api/v1/users/{u}/password.
// CurrentPassword is needed when users change their own password (as Argo
// CD's account API), so that a stolen session cannot take the account over.
type PasswordRequest struct {
	Password        string `json:"password"`
	CurrentPassword string `json:"currentPassword"`
}

func (a *API) setPassword(r *http.Request, c *api.Caller, name string) (any, error) {
	self := name == c.User
	if c.Scope.Project != "" {
		// Refused: users belong to no project, so no scoped key reaches one.
		return nil, can(c, rbac.ResourceUsers, rbac.ActionUpdate, name)
	}
	if !self {
		if err := can(c, rbac.ResourceUsers, rbac.ActionUpdate, name); err != nil {
			return nil, jsonapi.Errorf(http.StatusForbidden, "%v: only %s themselves or an administrator may set this password", err, name)
		}
	}
	var req PasswordRequest
	if _, err := api.DecodeObject(r, &req); err != nil {
		return nil, err
	}
	ctx := r.Context()
	u, err := a.fetchUser(ctx, name)
	if err != nil {
		return nil, err
	}
	// The local admin token stands for the data directory's owner, who may
	// have lost the password: that is what the token is for.
	if self && c.Via != "admin-token" {
		if err := a.checkCurrent(r, name, req.CurrentPassword); err != nil {
			return nil, err
		}
	}
	if req.Password == "" {
		return nil, jsonapi.Errorf(http.StatusBadRequest, `request body has no "password": send {"password": …} (and "currentPassword" for your own)`)
	}
	if err := users.CheckPolicy(name, req.Password); err != nil {
		return nil, jsonapi.Errorf(http.StatusBadRequest, "%v", err)
	}
	if err := users.SetPassword(ctx, a.Client, a.Namespace, name, req.Password); err != nil {
		return nil, fmt.Errorf("storing the password of %s: %w", name, err)
	}
	return a.viewUser(ctx, u)
}

func (a *API) checkCurrent(r *http.Request, name, current string) error {
	ip := clientIP(r)
	if a.Limiter != nil {
		if ok, wait := a.Limiter.Allow(name, ip); !ok {
			return &jsonapi.StatusError{Code: http.StatusTooManyRequests, Msg: fmt.Sprintf("too many wrong passwords: try again in %s", wait.Round(time.Second)),
				RetryAfter: int(math.Ceil(wait.Seconds()))}
		}
	}
	if current == "" {
		return jsonapi.Errorf(http.StatusBadRequest, `request body has no "currentPassword": changing your own password needs the current one too`)
	}
	ok, err := users.CheckPassword(r.Context(), a.Client, a.Namespace, name, current)
	if err != nil {
		return fmt.Errorf("checking the current password of %s: %w", name, err)
	}
	if !ok {
		if a.Limiter != nil {
			a.Limiter.Failed(name, ip)
		}
		return jsonapi.Errorf(http.StatusForbidden, "currentPassword is not your current password (a user without one asks an administrator to set it)")
	}
	if a.Limiter != nil {
		a.Limiter.Succeeded(name, ip)
	}
	return nil
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
