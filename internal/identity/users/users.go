package users

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/crds"
	"gantry.dev/gantry/internal/identity/sessions"
)

// Admin is the user made on first start.
const Admin = "admin"

// Labels and keys of password Secrets.
const (
	LabelUser   = "platform.gantry.dev/user"
	KeyPassword = "passwordHash" // bcrypt
	KeyChanged  = "passwordChangedAt"
)

// SecretName is the Secret holding a user's password hash.
func SecretName(user string) string { return "gantry-user-" + user }

// CheckPolicy says whether a password may be set for user.
func CheckPolicy(user, password string) error { return sessions.CheckPasswordPolicy(user, password) }

// SetPassword stores the hash of password for user in namespace, creating or
// replacing the Secret.
func SetPassword(ctx context.Context, c client.Client, namespace, user, password string) error {
	if err := CheckPolicy(user, password); err != nil {
		return err
	}
	hash, err := sessions.HashPassword(password)
	if err != nil {
		return err
	}
	want := passwordSecret(namespace, user, hash)
	s := &corev1.Secret{}
	err = c.Get(ctx, client.ObjectKeyFromObject(want), s)
	switch {
	case apierrors.IsNotFound(err):
		return c.Create(ctx, want)
	case err != nil:
		return err
	}
	s.Data = want.Data
	return c.Update(ctx, s)
}

// passwordSecret is user's password Secret holding hash.
func passwordSecret(namespace, user, hash string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: SecretName(user), Namespace: namespace, Labels: map[string]string{LabelUser: user}},
		Data: map[string][]byte{KeyPassword: []byte(hash), KeyChanged: []byte(metav1.Now().UTC().Format("2006-01-02T15:04:05Z"))}}
}

// CheckPassword reports whether password is user's. A user without a password
// Secret never matches.
func CheckPassword(ctx context.Context, c client.Reader, namespace, user, password string) (bool, error) {
	s := &corev1.Secret{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: SecretName(user)}, s); err != nil {
		if apierrors.IsNotFound(err) {
			// Checked against a dummy hash: timing does not tell which users exist.
			sessions.CheckPassword("", password)
			return false, nil
		}
		return false, err
	}
	return sessions.CheckPassword(string(s.Data[KeyPassword]), password), nil
}

// Bootstrap creates the admin user with a random password on first start. It
// returns the password when it made one (to be shown once, never stored or
// logged), and "" when the admin already had one.
//
// Replicas of gantry starting together (the Helm chart's replicas > 1) all
// run it: the password Secret's creation decides which one's password it is,
// and only that replica returns it. (The User's creation cannot decide: two
// replicas may both find no User and both apply it.) Deleting the Secret and
// restarting gantry makes a new password.
func Bootstrap(ctx context.Context, c client.Client, namespace string) (string, error) {
	u := &platformv1alpha1.User{ObjectMeta: metav1.ObjectMeta{Name: Admin},
		Spec: platformv1alpha1.UserSpec{Username: Admin, DisplayName: "Administrator"}}
	if _, err := crds.CreateIfMissing(ctx, c, u); err != nil {
		return "", fmt.Errorf("creating the admin user: %w", err)
	}
	key := client.ObjectKey{Namespace: namespace, Name: SecretName(Admin)}
	if err := c.Get(ctx, key, &corev1.Secret{}); err == nil {
		return "", nil
	} else if !apierrors.IsNotFound(err) {
		return "", fmt.Errorf("reading the admin password hash: %w", err)
	}
	password, err := Generate()
	if err != nil {
		return "", err
	}
	hash, err := sessions.HashPassword(password)
	if err != nil {
		return "", err
	}
	switch err := c.Create(ctx, passwordSecret(namespace, Admin, hash)); {
	case apierrors.IsAlreadyExists(err):
		return "", nil // another replica's password, made meanwhile
	case err != nil:
		return "", fmt.Errorf("storing the admin password hash: %w", err)
	}
	return password, nil
}

// Generate returns a random password.
func Generate() (string, error) { return sessions.GeneratePassword(), nil }
