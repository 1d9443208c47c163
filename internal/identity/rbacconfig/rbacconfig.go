package rbacconfig

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/identity/rbac"
)

// Reconciler loads gantry-rbac-cm of Namespace into Enforcer whenever it
// changes. A broken policy is logged and the previous one stays in force (an
// operator's typo must not lock everyone out, nor open everything); a
// deleted ConfigMap clears the user policy, leaving the built-in and project
// policies.
type Reconciler struct {
	Client    client.Reader
	Enforcer  *rbac.Enforcer
	Namespace string
}

// SetupWithManager watches the one ConfigMap, on every replica of gantry:
// each one authorizes its own requests.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	return builder.ControllerManagedBy(mgr).
		Named("rbac-config").
		WithOptions(controller.Options{NeedLeaderElection: ptrFalse()}).
		For(&corev1.ConfigMap{}, builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool {
			return o.GetNamespace() == r.Namespace && o.GetName() == rbac.ConfigMapName
		}))).
		Complete(r)
}

// Reconcile sets the enforcer's user policy from the ConfigMap.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	cm := &corev1.ConfigMap{}
	if err := r.Client.Get(ctx, req.NamespacedName, cm); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, r.Enforcer.SetPolicy("", "", "")
		}
		return ctrl.Result{}, err
	}
	if err := r.Enforcer.SetPolicy(cm.Data[rbac.ConfigMapPolicyCSV], cm.Data[rbac.ConfigMapDefault], cm.Data[rbac.ConfigMapMatchMode]); err != nil {
		// Not retried: the same text fails the same way; the next edit reconciles.
		ctrl.LoggerFrom(ctx).Error(err, rbac.ConfigMapName+" has a broken policy; the previous one stays in force")
	}
	return ctrl.Result{}, nil
}

// SetProjects makes the projects' members the enforcer's project policies
// (rbac.ProjectPolicy per project). A project whose policy is refused grants
// nothing and is named in the error; the others take effect.
func SetProjects(e *rbac.Enforcer, projects []platformv1alpha1.Project) error {
	out := make(map[string]string, len(projects))
	for _, p := range projects {
		members := make([]rbac.Member, 0, len(p.Spec.Members))
		for _, m := range p.Spec.Members {
			members = append(members, rbac.Member{Kind: rbac.MemberKind(m.Kind), Name: m.Name, Role: rbac.ProjectRole(m.Role)})
		}
		out[p.Name] = rbac.ProjectPolicy(p.Name, members)
	}
	return e.SetProjectPolicies(out)
}
