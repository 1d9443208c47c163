package v1alpha1

import (
	"fmt"
	"slices"
)

// cascadeFinalizers are Argo CD's finalizers that delete an app's resources.
var cascadeFinalizers = []string{ApplicationFinalizer, ApplicationFinalizer + "/foreground", ApplicationBackgroundFinalizer}

// SetCascade sets what deleting the app does to its resources, as `argocd app
// delete --cascade --propagation-policy` does: with cascade, delete them in the
// foreground (policy "" or "foreground") or background; without, leave them.
func (a *Application) SetCascade(cascade bool, policy string) error {
	fins := slices.DeleteFunc(a.GetFinalizers(), func(f string) bool { return slices.Contains(cascadeFinalizers, f) })
	if cascade {
		switch policy {
		case "", "foreground":
			fins = append(fins, ApplicationFinalizer)
		case "background":
			fins = append(fins, ApplicationBackgroundFinalizer)
		default:
			return fmt.Errorf("propagation policy %q: use foreground or background", policy)
		}
	}
	a.SetFinalizers(fins)
	return nil
}
