// Command gantry-pause is the sandbox ("pause") image's only program on gantry's
// real node: it holds a pod's namespaces open and, as PID 1 of a pod that shares
// its process namespace, reaps orphans. gantry packs it into the image that
// containerd's sandbox_image names and imports it at node start, so that no
// registry is ever needed. Built static (CGO_ENABLED=0) by `make build`.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for s := range sigs {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var ws syscall.WaitStatus
			if pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil); pid <= 0 || err != nil {
				break
			}
		}
	}
}
