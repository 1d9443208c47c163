// Package cli holds gantry's commands (cobra). Commands parse flags, build the parts
// from the other packages and run them; they hold no logic of their own.
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

type globals struct {
	dataDir string
}

// NewRoot returns the gantry command tree.
func NewRoot() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "gantry",
		Short:         "Virtual Kubernetes clusters with GitOps built in",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.dataDir, "data-dir", defaultDataDir(), "gantry's data directory (env "+EnvDataDir+")")
	root.AddCommand(newUp(g), newStatus(g), newLogs(g), newStop(g), newVCluster(g), newApp(g), newProject(g), newUser(g), newTeam(g), newLogin(g), newLogout(g), newAccessKey(g), newOIDCClient(g), newVersion())
	return root
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
