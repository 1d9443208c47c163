// Package cli holds gantry's commands (cobra). Commands parse and check flags and
// call the package that does the work (package up for gantry up, the REST API
// for the client commands); they hold no logic of their own.
package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"gantry.dev/gantry/internal/kubebin"
)

// Version is gantry's version, stamped at build time.
var Version = "dev"

// EnvDataDir overrides the default data directory.
const EnvDataDir = "GANTRY_DATA_DIR"

// EnvServer names the gantry the REST commands talk to, as --server does.
const EnvServer = "GANTRY_SERVER"

type globals struct {
	dataDir string
	// server is --server: a gantry's URL, for the REST commands.
	server string
	// root is the command tree, to tell whether --data-dir was given.
	root *cobra.Command
}

// NewRoot returns the gantry command tree.
func NewRoot() *cobra.Command {
	root, _ := newRoot()
	return root
}

func newRoot() (*cobra.Command, *globals) {
	g := &globals{}
	root := &cobra.Command{
		Use:           "gantry",
		Short:         "Virtual Kubernetes clusters with GitOps built in",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	g.root = root
	root.PersistentFlags().StringVar(&g.dataDir, "data-dir", defaultDataDir(), "gantry's data directory (env "+EnvDataDir+"); given, the REST commands talk to the gantry running on it")
	root.PersistentFlags().StringVar(&g.server, "server", "", "the gantry the REST commands talk to, e.g. https://gantry.example.com (env "+EnvServer+"; default: the context of gantry login, else the gantry of --data-dir)")
	root.AddCommand(newUp(g), newStatus(g), newLogs(g), newStop(g), newVCluster(g), newApp(g), newAppSet(g), newProject(g), newUser(g), newTeam(g), newLogin(g), newLogout(g), newAccessKey(g), newOIDCClient(g), newCluster(g), newImage(g), newVersion(), newControlPlane())
	return root, g
}

func defaultDataDir() string {
	if d := os.Getenv(EnvDataDir); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ".gantry"
	}
	return filepath.Join(home, ".gantry")
}

// dataDirGiven says whether --data-dir is on the command line: then the REST
// commands talk to the gantry running on that data directory.
func (g *globals) dataDirGiven() bool {
	f := g.root.PersistentFlags().Lookup("data-dir")
	return f != nil && f.Changed
}

func (g *globals) absDataDir() string {
	abs, err := filepath.Abs(g.dataDir)
	if err != nil {
		return g.dataDir
	}
	return abs
}

func newVersion() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print gantry's version and the Kubernetes version it runs",
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintf(cmd.OutOrStdout(), "gantry %s (Kubernetes components %s)\n", Version, kubebin.Version)
		},
	}
}
