package cli

import (
	"fmt"
	"os"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"gantry.dev/gantry/internal/host"
	"gantry.dev/gantry/internal/kubeconfig"
	"gantry.dev/gantry/internal/platform"
	"gantry.dev/gantry/internal/project"
	"gantry.dev/gantry/internal/runstate"
)

// hostClient returns a client for the host cluster of the gantry on the data
// directory: the kubeconfig the running gantry uses, else the embedded host's.
func (g *globals) hostClient() (client.Client, error) {
	dir := g.absDataDir()
	path := host.KubeconfigPath(dir)
	if st, err := runstate.Read(dir); err == nil && st.Kubeconfig != "" {
		path = st.Kubeconfig
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("no host cluster kubeconfig at %s: start gantry first (gantry up --data-dir %s)", path, dir)
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
