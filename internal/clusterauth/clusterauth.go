// Package clusterauth gives gantry an identity in a cluster it is to deploy
// to, as `argocd cluster add` does for Argo CD: a ServiceAccount
// kube-system/gantry-manager bound to a ClusterRole that may do everything
// (Argo CD's argocd-manager-role), and a long-lived service-account-token
// Secret whose token gantry keeps in the cluster's Secret. It talks to the
// target cluster only, with the caller's kubeconfig; registering the cluster
// with gantry is the caller's next step.
package clusterauth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
)

// The objects the manager is made of, named as Argo CD names its own with
// gantry for argocd.
const (
	Namespace          = "kube-system"
	ServiceAccount     = "gantry-manager"
	ClusterRole        = "gantry-manager-role"
	ClusterRoleBinding = "gantry-manager-role-binding"
	TokenSecret        = "gantry-manager-token"
)

// TokenTimeout bounds the wait for the token controller to fill in the token.
const TokenTimeout = 30 * time.Second

var labels = map[string]string{"app.kubernetes.io/managed-by": "gantry", "app.kubernetes.io/name": ServiceAccount}

// Installed is what Install did: the token, and which objects it created
// (the others were there already), so that a failed registration can take
// back exactly those.
type Installed struct {
	Token   string
	Created []string
}

// Install makes the manager's objects that are missing (a ClusterRole that
// exists gets the manager's rules), waits until the token controller has
// filled in the token Secret, and returns the token.
func Install(ctx context.Context, kube kubernetes.Interface) (*Installed, error) {
	in := &Installed{}
	created := func(what string, err error) error {
		switch {
		case err == nil:
			in.Created = append(in.Created, what)
			return nil
		case apierrors.IsAlreadyExists(err):
			return nil
		}
		return fmt.Errorf("creating %s: %w", what, err)
	}
	meta := func(name, ns string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels}
	}
	_, err := kube.CoreV1().ServiceAccounts(Namespace).Create(ctx, &corev1.ServiceAccount{ObjectMeta: meta(ServiceAccount, Namespace)}, metav1.CreateOptions{})
	if err := created("ServiceAccount "+Namespace+"/"+ServiceAccount, err); err != nil {
		return in, err
	}
	role := &rbacv1.ClusterRole{ObjectMeta: meta(ClusterRole, ""), Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{"*"}, Resources: []string{"*"}, Verbs: []string{"*"}},
		{NonResourceURLs: []string{"*"}, Verbs: []string{"*"}},
	}}
	_, err = kube.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		err = updateRole(ctx, kube, role)
	}
	if err := created("ClusterRole "+ClusterRole, err); err != nil {
		return in, err
	}
	binding := &rbacv1.ClusterRoleBinding{ObjectMeta: meta(ClusterRoleBinding, ""),
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: ClusterRole},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: ServiceAccount, Namespace: Namespace}}}
	_, err = kube.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{})
	if err := created("ClusterRoleBinding "+ClusterRoleBinding, err); err != nil {
		return in, err
	}
	tokenMeta := meta(TokenSecret, Namespace)
	tokenMeta.Annotations = map[string]string{corev1.ServiceAccountNameKey: ServiceAccount}
	_, err = kube.CoreV1().Secrets(Namespace).Create(ctx, &corev1.Secret{ObjectMeta: tokenMeta, Type: corev1.SecretTypeServiceAccountToken}, metav1.CreateOptions{})
	if err := created("Secret "+Namespace+"/"+TokenSecret, err); err != nil {
		return in, err
	}
	// Filled in by kube-controller-manager's token controller; clusters
	// without one never fill it (the error says so).
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, TokenTimeout, true, func(ctx context.Context) (bool, error) {
		s, err := kube.CoreV1().Secrets(Namespace).Get(ctx, TokenSecret, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if s.Type != corev1.SecretTypeServiceAccountToken || s.Annotations[corev1.ServiceAccountNameKey] != ServiceAccount {
			return false, fmt.Errorf("Secret %s/%s exists and is not %s's token: delete it, or remove the manager (gantry cluster rm NAME --remove-manager)", Namespace, TokenSecret, ServiceAccount)
		}
		in.Token = string(s.Data[corev1.ServiceAccountTokenKey])
		return in.Token != "", nil
	})
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			err = fmt.Errorf("no token in Secret %s/%s after %s: the cluster's kube-controller-manager does not issue service-account tokens", Namespace, TokenSecret, TokenTimeout)
		}
		return in, err
	}
	return in, nil
}

func updateRole(ctx context.Context, kube kubernetes.Interface, want *rbacv1.ClusterRole) error {
	got, err := kube.RbacV1().ClusterRoles().Get(ctx, want.Name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	got.Rules = want.Rules
	if _, err := kube.RbacV1().ClusterRoles().Update(ctx, got, metav1.UpdateOptions{}); err != nil {
		return err
	}
	return apierrors.NewAlreadyExists(rbacv1.Resource("clusterroles"), want.Name) // there before: not ours to take back
}

// Remove deletes the manager's objects (those of Installed.Created, or all
// with nil), so the token stops working. Objects already gone are no error.
func Remove(ctx context.Context, kube kubernetes.Interface, only []string) error {
	steps := []struct {
		what string
		del  func() error
	}{
		{"Secret " + Namespace + "/" + TokenSecret, func() error {
			return kube.CoreV1().Secrets(Namespace).Delete(ctx, TokenSecret, metav1.DeleteOptions{})
		}},
		{"ClusterRoleBinding " + ClusterRoleBinding, func() error {
			return kube.RbacV1().ClusterRoleBindings().Delete(ctx, ClusterRoleBinding, metav1.DeleteOptions{})
		}},
		{"ClusterRole " + ClusterRole, func() error {
			return kube.RbacV1().ClusterRoles().Delete(ctx, ClusterRole, metav1.DeleteOptions{})
		}},
		{"ServiceAccount " + Namespace + "/" + ServiceAccount, func() error {
			return kube.CoreV1().ServiceAccounts(Namespace).Delete(ctx, ServiceAccount, metav1.DeleteOptions{})
		}},
	}
	var errs []error
	for _, s := range steps {
		if only != nil && !slices.Contains(only, s.what) {
			continue
		}
		if err := s.del(); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("deleting %s: %w", s.what, err))
		}
	}
	return errors.Join(errs...)
}
