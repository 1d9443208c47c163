// Command gantry runs virtual Kubernetes clusters with GitOps built in.
package main

import (
	"context"
	"fmt"
	"os"

	"gantry.dev/gantry/internal/cli"
)

func main() {
	if err := cli.NewRoot().ExecuteContext(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "gantry:", err)
		os.Exit(1)
	}
}
