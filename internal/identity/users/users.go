package users

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
)

// Admin is the user made on first start.
const Admin = "admin"

// Labels and keys of password Secrets.
const (
	LabelUser   = "platform.gantry.dev/user"
	KeyPassword = "passwordHash" // bcrypt
	KeyChanged  = "passwordChangedAt"
)

// bcryptCost is Argo CD's (bcrypt.DefaultCost): about 50-80 ms per check here.
const bcryptCost = bcrypt.DefaultCost

// SecretName is the Secret holding a user's password hash.
func SecretName(user string) string { return "gantry-user-" + user }

// CheckPolicy says whether a password may be set for user.
func CheckPolicy(user, password string) error {
	switch {
	case len(password) < 8:
		return errors.New("password too short: use at least 8 characters")
	case strings.EqualFold(password, user):
		return errors.New("password must not be the user name")
	}
	return nil
}

// SetPassword stores the hash of password for user in namespace, creating or
// replacing the Secret.
func SetPassword(ctx context.Context, c client.Client, namespace, user, password string) error {
	if err := CheckPolicy(user, password); err != nil {
		return err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcryptCost)
	if err != nil {
		return err
	}
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: SecretName(user), Namespace: namespace,
		Labels: map[string]string{LabelUser: user}}}
	data := map[string][]byte{KeyPassword: hash, KeyChanged: []byte(metav1.Now().UTC().Format("2006-01-02T15:04:05Z"))}
	err = c.Get(ctx, client.ObjectKeyFromObject(s), s)
	switch {
	case apierrors.IsNotFound(err):
		s.Data = data
		return c.Create(ctx, s)
	case err != nil:
		return err
	}
	s.Data = data
	return c.Update(ctx, s)
}

// CheckPassword reports whether password is user's. A user without a password
// Secret never matches.
func CheckPassword(ctx context.Context, c client.Reader, namespace, user, password string) (bool, error) {
	s := &corev1.Secret{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: SecretName(user)}, s); err != nil {
		if apierrors.IsNotFound(err) {
			// Spend the same time as a real check, so timing does not tell which users exist.
			_ = bcrypt.CompareHashAndPassword(dummyHash(), []byte(password))
			return false, nil
		}
		return false, err
	}
	return bcrypt.CompareHashAndPassword(s.Data[KeyPassword], []byte(password)) == nil, nil
}

// dummyHash is compared against when a user has no password, to keep timing equal;
// made on first use, not at start-up (it costs a bcrypt round).
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("timing-equaliser"), bcryptCost)
	return h
})

// Bootstrap creates the admin user with a random password on first start. It
// returns the password when it made one (to be shown once, never stored or
// logged), and "" when the admin already existed.
func Bootstrap(ctx context.Context, c client.Client, namespace string) (string, error) {
	u := &platformv1alpha1.User{ObjectMeta: metav1.ObjectMeta{Name: Admin},
		Spec: platformv1alpha1.UserSpec{Username: Admin, DisplayName: "Administrator"}}
	err := c.Create(ctx, u)
	if apierrors.IsAlreadyExists(err) {
		if s := (&corev1.Secret{}); c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: SecretName(Admin)}, s) == nil {
			return "", nil
		}
	} else if err != nil {
		return "", fmt.Errorf("creating the admin user: %w", err)
	}
	password, err := Generate()
	if err != nil {
		return "", err
	}
	if err := SetPassword(ctx, c, namespace, Admin, password); err != nil {
		return "", fmt.Errorf("storing the admin password hash: %w", err)
	}
	return password, nil
}

// Generate returns a random password of 24 URL-safe characters.
func Generate() (string, error) {
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
