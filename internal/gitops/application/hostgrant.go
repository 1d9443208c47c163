package application

import (
	"errors"
	"fmt"

	"gantry.dev/gantry/internal/gitops/cluster"
)

// HostGrantRole is the host ClusterRole that lets gantry deploy what apps
// hold into the host cluster (the Helm chart's, bound while rbac.hostGitOps
// is true).
const HostGrantRole = "gantry-gitops-host"

// HostRefusal is why an app may not deploy objects into the host: gantry runs
// without the grant to do so (Reconciler.NoHostApps). It is raised before
// anything is compared or written, so nothing of the app is half applied, and
// it names the grant and the setting that gives it.
type HostRefusal struct {
	// Objects is how many of the app's objects are for the host; an app of
	// apps whose manifests hold only Applications has none.
	Objects int
}

func (e *HostRefusal) Error() string {
	return fmt.Sprintf("forbidden: %d object(s) of this app are for the host cluster (%s), and this gantry may not deploy into the host: "+
		"it runs without ClusterRole %s (Helm value rbac.hostGitOps: false, gantry up --host-gitops=false); "+
		"deploy into a virtual cluster instead (destination.name <project namespace>/<virtual cluster>), "+
		"or have an administrator set rbac.hostGitOps: true (helm upgrade gantry ./deploy/helm/gantry -n gantry-system --reuse-values --set rbac.hostGitOps=true)",
		e.Objects, cluster.HostServer, HostGrantRole)
}

// IsHostRefusal reports whether err (or one it wraps) is a HostRefusal.
func IsHostRefusal(err error) bool {
	var r *HostRefusal
	return errors.As(err, &r)
}
