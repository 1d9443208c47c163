package oidcprovider

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/identity/authn"
	"gantry.dev/gantry/internal/identity/rbac"
)

// Directory is gantry's user directory as the provider sees it: the same
// passwords as every other login, and the groups a user carries past gantry
// (authn.ForwardedGroups: those inside gantry, plus authn.GroupAdmins for
// administrators, so that an Argo CD policy can name them).
type Directory struct {
	// Passwords checks passwords (users.Passwords).
	Passwords interface {
		Check(ctx context.Context, user, password string) (bool, error)
	}
	// Groups are the user's groups now (authn.Authenticator.Groups): teams
	// and project roles; an error for a disabled or deleted user.
	Groups func(ctx context.Context, user string) ([]string, error)
	// Authorize is gantry's RBAC decision (rbac.Enforcer.Authorize).
	// Administrators are those who may delete every project, as for
	// api.Caller.IsAdmin.
	Authorize func(subjects []string, resource, action, object string) error
	// Reader reads User objects, for email and display name.
	Reader client.Reader
}

var _ Users = Directory{}

// CheckPassword is false for unknown, disabled or password-less users.
func (d Directory) CheckPassword(ctx context.Context, user, password string) (bool, error) {
	return d.Passwords.Check(ctx, user, password)
}

// Profile returns the user's claims as of now.
func (d Directory) Profile(ctx context.Context, user string) (Profile, error) {
	groups, err := d.Groups(ctx, user)
	if err != nil {
		return Profile{}, err
	}
	obj := &platformv1alpha1.User{}
	if err := d.Reader.Get(ctx, client.ObjectKey{Name: user}, obj); err != nil {
		return Profile{}, err
	}
	admin := d.Authorize(append([]string{user}, groups...), rbac.ResourceProjects, rbac.ActionDelete, "*") == nil
	return Profile{User: user, Email: obj.Spec.Email, Name: obj.Spec.DisplayName, Groups: authn.ForwardedGroups(groups, admin)}, nil
}
