package sso

import (
	"context"
	"errors"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/identity/users"
)

// Annotations bind a User to one upstream account; the label marks Users
// that SSO created.
const (
	AnnotationIssuer  = "gantry.dev/sso-issuer"
	AnnotationSubject = "gantry.dev/sso-subject"
	LabelSSO          = "gantry.dev/sso"
)

// systemNamespace holds the password Secrets (platform.SystemNamespace; not
// imported, as the platform package wires this one).
const systemNamespace = "gantry-system"

// Reasons a login is refused, for errors.Is. Provision's errors wrap them
// with a message for the user that says what an admin can do.
var (
	ErrUnknownUser   = errors.New("user is not known to gantry")
	ErrDisabled      = errors.New("user is disabled")
	ErrOtherAccount  = errors.New("user is bound to another upstream account")
	ErrLocalPassword = errors.New("user has a local password")
)

// refusal is a login refused on purpose, as opposed to a failure.
type refusal struct {
	reason error
	msg    string
}

func (r *refusal) Error() string { return r.msg }
func (r *refusal) Unwrap() error { return r.reason }

// Provision makes the gantry User for a verified login, or brings it up to
// date: email, display name (if it has none) and groups, which are replaced
// by the upstream ones so a group removed upstream is removed here at the
// next login. The first SSO login binds the User to the upstream issuer and
// subject; later logins must match them, so one upstream account cannot take
// over the user of another who has the same name. A user with a local
// password that SSO has not bound (the bootstrap admin, say) is not taken
// over either.
func Provision(ctx context.Context, c client.Client, cfg Config, login Login) error {
	if login.Username == "" || login.Issuer == "" || login.Subject == "" {
		return errors.New("sso.Provision needs the login's username, issuer and subject")
	}
	// Reserved groups were dropped (and logged) when the login was read;
	// dropped here again because this is where they would be stored.
	groups, _ := withoutReserved(login.Groups)
	slices.Sort(groups)
	groups = slices.Compact(groups)
	for attempt := 0; ; attempt++ {
		u := &platformv1alpha1.User{}
		err := c.Get(ctx, client.ObjectKey{Name: login.Username}, u)
		if apierrors.IsNotFound(err) {
			if !cfg.CreateUsers {
				return &refusal{ErrUnknownUser, fmt.Sprintf("user %s is not known to gantry: ask an admin to create it (gantry user create %s --sso), or set createUsers: true in the %s Secret",
					login.Username, login.Username, SecretName)}
			}
			u = &platformv1alpha1.User{
				ObjectMeta: metav1.ObjectMeta{Name: login.Username,
					Labels:      map[string]string{LabelSSO: "true"},
					Annotations: map[string]string{AnnotationIssuer: login.Issuer, AnnotationSubject: login.Subject}},
				Spec: platformv1alpha1.UserSpec{Username: login.Username, DisplayName: login.Name, Email: login.Email, Groups: groups},
			}
			err = c.Create(ctx, u)
			if apierrors.IsAlreadyExists(err) && attempt == 0 {
				continue // made meanwhile, by a concurrent login or an admin: check it as existing
			}
			if err != nil {
				return fmt.Errorf("creating user %s: %w", login.Username, err)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading user %s: %w", login.Username, err)
		}
		break
	}
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		u := &platformv1alpha1.User{}
		if err := c.Get(ctx, client.ObjectKey{Name: login.Username}, u); err != nil {
			return fmt.Errorf("reading user %s: %w", login.Username, err)
		}
		if err := checkBinding(ctx, c, u, login); err != nil {
			return err
		}
		if u.Annotations == nil {
			u.Annotations = map[string]string{}
		}
		u.Annotations[AnnotationIssuer] = login.Issuer
		u.Annotations[AnnotationSubject] = login.Subject
		if login.Email != "" {
			u.Spec.Email = login.Email
		}
		if u.Spec.DisplayName == "" {
			u.Spec.DisplayName = login.Name
		}
		u.Spec.Groups = groups
		if err := c.Update(ctx, u); err != nil {
			if apierrors.IsConflict(err) {
				return err // retried
			}
			return fmt.Errorf("updating user %s: %w", login.Username, err)
		}
		return nil
	})
}

// checkBinding refuses a login that may not become the existing user u.
func checkBinding(ctx context.Context, c client.Client, u *platformv1alpha1.User, login Login) error {
	name := u.Name
	if u.Spec.Disabled {
		return &refusal{ErrDisabled, fmt.Sprintf("user %s is disabled in gantry: ask an admin to enable it", name)}
	}
	iss, sub := u.Annotations[AnnotationIssuer], u.Annotations[AnnotationSubject]
	if iss != "" || sub != "" {
		if iss != login.Issuer || sub != login.Subject {
			return &refusal{ErrOtherAccount, fmt.Sprintf("user %s of gantry belongs to another account of the identity provider, so this account may not use it. "+
				"If it is the same person (the provider's issuer or account changed), an admin can remove the annotations %s and %s from the user to bind it again at the next sign-in",
				name, AnnotationIssuer, AnnotationSubject)}
		}
		return nil
	}
	s := &corev1.Secret{}
	err := c.Get(ctx, client.ObjectKey{Namespace: systemNamespace, Name: users.SecretName(name)}, s)
	if err == nil {
		return &refusal{ErrLocalPassword, fmt.Sprintf("user %s of gantry has a local password and is not bound to single sign-on, so single sign-on will not take it over: "+
			"sign in with the password instead. To let this account use it, an admin annotates the user: kubectl annotate users.platform.gantry.dev %s %s=%s %s=%s",
			name, name, AnnotationIssuer, login.Issuer, AnnotationSubject, login.Subject)}
	}
	if !apierrors.IsNotFound(err) {
		return fmt.Errorf("checking whether user %s has a local password: %w", name, err)
	}
	return nil
}
