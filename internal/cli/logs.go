package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
)

// Components that write a log file in <data-dir>/logs.
var logComponents = []string{"gantry", "kine", "kwok", "kube-controlplane", "kube-apiserver", "kube-controller-manager", "kube-scheduler",
	"containerd", "kubelet", "kube-proxy"} // the last three: the real node's

func logPath(dataDir, component string) string {
	switch component {
	case "kube-apiserver", "kube-controller-manager", "kube-scheduler":
		// One process runs the three (kubebin.ControlPlane), and klog has one output.
		component = "kube-controlplane"
	}
	return filepath.Join(dataDir, "logs", component+".log")
}

func newLogs(g *globals) *cobra.Command {
	var follow bool
	var lines int
	cmd := &cobra.Command{
		Use:   "logs COMPONENT",
		Short: "Print a component's log (" + strings.Join(logComponents, ", ") + ")",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := args[0]
			if !slices.Contains(logComponents, c) {
				return fmt.Errorf("unknown component %q; choose one of %s", c, strings.Join(logComponents, ", "))
			}
			path := logPath(g.absDataDir(), c)
			f, err := os.Open(path)
			if err != nil {
				return fmt.Errorf("no log for %s at %s: %w (has gantry run with --data-dir %s?)", c, path, err, g.absDataDir())
			}
			defer f.Close()
			if err := printTail(cmd.OutOrStdout(), f, lines); err != nil {
				return err
			}
			if !follow {
				return nil
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return followFile(ctx, cmd.OutOrStdout(), f, path)
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new lines")
	cmd.Flags().IntVarP(&lines, "tail", "n", -1, "print only the last N lines (-1: all)")
	return cmd
}

// printTail copies the file to w, or only its last n lines when n >= 0, and leaves the
// file offset at its end.
func printTail(w io.Writer, f *os.File, n int) error {
	data, err := io.ReadAll(f)
	if err != nil {
		return err
	}
	if n >= 0 {
		text := strings.TrimRight(string(data), "\n")
		ls := strings.Split(text, "\n")
		if len(ls) > n {
			ls = ls[len(ls)-n:]
		}
		if n == 0 || text == "" {
			return nil
		}
		data = []byte(strings.Join(ls, "\n") + "\n")
	}
	_, err = w.Write(data)
	return err
}

// followFile prints what is appended to the file; a file that shrinks (truncated or
// replaced) is read again from its start.
func followFile(ctx context.Context, w io.Writer, f *os.File, path string) error {
	buf := make([]byte, 32*1024)
	for {
		n, err := f.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
			continue
		}
		if err != nil && err != io.EOF {
			return err
		}
		if info, serr := os.Stat(path); serr == nil {
			if pos, _ := f.Seek(0, io.SeekCurrent); info.Size() < pos {
				_, _ = f.Seek(0, io.SeekStart)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(200 * time.Millisecond):
		}
	}
}
