package vcluster

import (
	"context"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"gantry.dev/gantry/internal/identity/authn"
	"gantry.dev/gantry/internal/identity/rbac"
)

// gantry's proxy impersonates the caller inside a virtual cluster: a user acts
// as themselves, with the groups of their project role; the cluster's own RBAC,
// bound here, decides what that role may do (so a viewer's kubectl delete is
// refused by the virtual API server itself, not by gantry).

// roleBindings maps groups to the built-in cluster roles of every Kubernetes
// cluster: gantry's administrators, and project's roles unless it is "".
func roleBindings(project string) map[string]string {
	out := map[string]string{authn.GroupAdmins: "cluster-admin"}
	if project != "" {
		out[rbac.ProjectGroup(project, rbac.ProjectAdmin)] = "cluster-admin"
		out[rbac.ProjectGroup(project, rbac.ProjectMember)] = "edit"
		out[rbac.ProjectGroup(project, rbac.ProjectViewer)] = "view"
	}
	return out
}

// EnsureRBAC binds gantry's groups to cluster roles inside a virtual cluster
// (and sees that namespace default can take pods),
// with server-side apply so that it is idempotent and repairs edits.
func EnsureRBAC(ctx context.Context, virtual *rest.Config, project string) error {
	c, err := kubernetes.NewForConfig(virtual)
	if err != nil {
		return err
	}
	for group, role := range roleBindings(project) {
		name := "gantry:" + role + ":" + group
		crb := &rbacv1.ClusterRoleBinding{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRoleBinding"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app.kubernetes.io/managed-by": "gantry"}},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: role},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.GroupKind, APIGroup: "rbac.authorization.k8s.io", Name: group}},
		}
		data, err := json.Marshal(crb)
		if err != nil {
			return err
		}
		force := true
		if _, err := c.RbacV1().ClusterRoleBindings().Patch(ctx, name, types.ApplyPatchType, data,
			metav1.PatchOptions{FieldManager: "gantry", Force: &force}); err != nil {
			return fmt.Errorf("binding %s to %s in the virtual cluster: %w", group, role, err)
		}
	}
	return ensureDefaultServiceAccount(ctx, c)
}

// ensureDefaultServiceAccount creates namespace default's ServiceAccount
// "default" when the controller manager has not yet: a cluster reported
// Running must take a pod at once, and the API server refuses any pod
// whose ServiceAccount is missing ("serviceaccount default not found", what
// kind's users see unless they wait). The controller manager's own
// controller only ensures the account exists, so the two never fight.
func ensureDefaultServiceAccount(ctx context.Context, c kubernetes.Interface) error {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: metav1.NamespaceDefault}}
	if _, err := c.CoreV1().ServiceAccounts(metav1.NamespaceDefault).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating the default ServiceAccount in the virtual cluster: %w", err)
	}
	return nil
}
