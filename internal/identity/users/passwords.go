package users

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/identity/sessions"
)

// Passwords checks passwords for every login (the API's, the sign-in page of
// gantry's OpenID Connect provider): true only for a user who exists, is not
// disabled and whose password Secret in Namespace holds the password's hash.
//
// Every answer costs the same reads and one bcrypt comparison, whether the
// user exists or not, is disabled, or has no password (SSO users): timing
// must not tell an attacker which user names exist.
type Passwords struct {
	// Reader reads Users and password Secrets; gantry's cache will do.
	Reader    client.Reader
	Namespace string
}

// Check reports whether password is user's and user may log in with it. An
// error means the answer could not be read (the API server), never a wrong
// password.
func (p Passwords) Check(ctx context.Context, user, password string) (bool, error) {
	if len(validation.IsDNS1123Subdomain(user)) > 0 {
		// No such user can exist; the same work as for one who does.
		sessions.CheckPassword("", password)
		return false, nil
	}
	u := &platformv1alpha1.User{}
	exists := true
	if err := p.Reader.Get(ctx, client.ObjectKey{Name: user}, u); err != nil {
		if !apierrors.IsNotFound(err) {
			return false, err
		}
		exists = false
	}
	// Checked whatever the user's state: CheckPassword reads the Secret and
	// compares (against a dummy hash when there is none) in every case.
	ok, err := CheckPassword(ctx, p.Reader, p.Namespace, user, password)
	if err != nil {
		return false, err
	}
	return ok && exists && !u.Spec.Disabled, nil
}
