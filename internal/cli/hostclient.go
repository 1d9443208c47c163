package cli

import (
	"fmt"
	"os"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"gantry.dev/gantry/internal/host"
	"gantry.dev/gantry/internal/kubeconfig"
	"gantry.dev/gantry/internal/platform"
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
