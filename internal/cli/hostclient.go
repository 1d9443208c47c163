package cli

import (
	"context"
	"fmt"
	"os"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/host"
	"gantry.dev/gantry/internal/kubeconfig"
	"gantry.dev/gantry/internal/platform"
	"gantry.dev/gantry/internal/project"
	"gantry.dev/gantry/internal/runstate"
)

// hostKubeconfig is the path of the host cluster's admin kubeconfig of the
// gantry on the data directory: the one the running gantry uses, else the
// embedded host's. Only the gantry machine has it.
func (g *globals) hostKubeconfig() (string, error) {
	dir := g.absDataDir()
	path := host.KubeconfigPath(dir)
	if st, err := runstate.Read(dir); err == nil && st.Kubeconfig != "" {
		path = st.Kubeconfig
	}
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("no host cluster kubeconfig at %s: start gantry first (gantry up --data-dir %s)", path, dir)
	}
	return path, nil
}

// hostClient returns a client for the host cluster of the gantry on the data
// directory, with the host's admin kubeconfig: for the commands that work
// only on the gantry machine.
func (g *globals) hostClient() (client.Client, error) {
	path, err := g.hostKubeconfig()
	if err != nil {
		return nil, err
	}
	cfg, err := kubeconfig.Load(path)
	if err != nil {
		return nil, err
	}
	scheme, err := platform.Scheme()
	if err != nil {
		return nil, err
	}
	return client.New(cfg, client.Options{Scheme: scheme})
}

// projectNamespace is the host namespace of a project.
func projectNamespace(name string) string { return project.Namespace(name) }

// ensureProjectOnHost makes sure the project exists, creating it (and its namespace, so
// that objects can go in at once; the project controller adopts it) if not.
func ensureProjectOnHost(ctx context.Context, c client.Client, name string) error {
	p := &platformv1alpha1.Project{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := c.Create(ctx, p); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating project %s: %w", name, err)
	}
	nsName := projectNamespace(name)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: nsName, Labels: map[string]string{project.LabelProject: name}}}
	if err := c.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating the project namespace %s: %w", nsName, err)
	}
	return nil
}
