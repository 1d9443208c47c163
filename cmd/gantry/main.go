// Command gantry runs virtual Kubernetes clusters with GitOps built in.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/debug"

	"gantry.dev/gantry/internal/cli"
)

func main() {
	// A smaller heap for an idle gantry (GOGC=50) unless the user tuned GOGC.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(50)
	}
	if err := cli.NewRoot().ExecuteContext(context.Background()); err != nil {
		var code cli.ExitCode
		if errors.As(err, &code) {
			os.Exit(int(code))
		}
		fmt.Fprintln(os.Stderr, "gantry:", err)
		os.Exit(1)
	}
}
