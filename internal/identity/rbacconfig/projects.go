package rbacconfig

import (
	"context"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/log"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/identity/rbac"
)

// Projects hands every Project's members to Enforcer whenever a Project
// changes. It writes nothing, so it runs on every replica of gantry (not only
// the leader's): each one authorizes its own requests.
type Projects struct {
	Client   client.Reader
	Enforcer *rbac.Enforcer
}

// SetupWithManager watches Projects, on every replica.
func (p *Projects) SetupWithManager(mgr ctrl.Manager) error {
	return builder.ControllerManagedBy(mgr).
		Named("rbac-projects").
		For(&platformv1alpha1.Project{}).
		WithOptions(controller.Options{NeedLeaderElection: ptrFalse()}).
		Complete(p)
}

// Reconcile sets the project policies from all Projects (one request or many,
// the answer is the same).
func (p *Projects) Reconcile(ctx context.Context, _ ctrl.Request) (ctrl.Result, error) {
	var list platformv1alpha1.ProjectList
	if err := p.Client.List(ctx, &list); err != nil {
		return ctrl.Result{}, err
	}
	if err := SetProjects(p.Enforcer, list.Items); err != nil {
		// Not retried: the same members fail the same way; the others took effect.
		log.FromContext(ctx).Error(err, "project policies")
	}
	return ctrl.Result{}, nil
}

func ptrFalse() *bool { f := false; return &f }
