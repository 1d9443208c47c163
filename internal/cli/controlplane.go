package cli

import (
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"gantry.dev/gantry/internal/controlplanepods"
	"gantry.dev/gantry/internal/kubebin"
)

// newControlPlane is the command of a virtual cluster's control-plane pod
// (package controlplanepods); hidden: gantry writes the pods that run it.
func newControlPlane() *cobra.Command {
	o := controlplanepods.ServeOptions{ConfigDir: controlplanepods.ConfigDir, DataDir: controlplanepods.DataDir}
	var binDir string
	cmd := &cobra.Command{
		Use:    "controlplane",
		Short:  "Run one virtual cluster's control plane in the foreground (the command of its pod)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			o.KubeBinDirs = kubebin.SearchDirs(binDir)
			return controlplanepods.Serve(ctx, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.ConfigDir, "config-dir", o.ConfigDir, "directory of the control plane's keys and spec (its Secret, mounted)")
	f.StringVar(&o.DataDir, "dir", o.DataDir, "the control plane's data directory (SQLite unless GANTRY_STORAGE_DSN is set)")
	f.StringVar(&binDir, "kube-bin-dir", "", "directory of kube-controlplane (default: next to gantry, "+"GANTRY_KUBE_BIN_DIR)")
	return cmd
}
