package cli

import (
	"fmt"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"gantry.dev/gantry/internal/datadir"
	"gantry.dev/gantry/internal/supervisor"
)

func newStop(g *globals) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "stop",
		Short: "Stop the gantry running on the data directory, and everything it started",
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir := g.absDataDir()
			pid := datadir.Holder(dir)
			if pid == 0 {
				return fmt.Errorf("no gantry is running with data directory %s", dir)
			}
			if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
				return fmt.Errorf("stopping gantry pid %d: %w", pid, err)
			}
			deadline := time.Now().Add(timeout)
			for datadir.Holder(dir) != 0 || supervisor.Alive(pid) {
				if time.Now().After(deadline) {
					return fmt.Errorf("gantry pid %d did not stop within %s; `kill -9 %d` stops it and its children", pid, timeout, pid)
				}
				time.Sleep(100 * time.Millisecond)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "gantry (pid %d) stopped\n", pid)
			return nil
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 60*time.Second, "how long to wait for a clean stop")
	return cmd
}
