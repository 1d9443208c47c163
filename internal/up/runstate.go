package up

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"time"

	"gantry.dev/gantry/internal/kubebin"
	"gantry.dev/gantry/internal/runstate"
	"gantry.dev/gantry/internal/server"
	"gantry.dev/gantry/internal/supervisor"
)

// publish writes run.json: what `gantry status` shows and `gantry stop` acts on.
func (g *gantry) publish(ready bool) {
	g.state.Ready = ready
	g.state.Components = nil
	if g.host != nil {
		g.state.Components = g.host.Components()
		g.state.RealNodes = g.host.RealNodes()
	}
	g.state.VClusters = map[string][]supervisor.Status{}
	if g.plat != nil && g.opts.LeaderElect {
		g.state.Controllers = "standby"
		if g.plat.Leading() {
			g.state.Controllers = "leading"
		}
	}
	if g.plat != nil {
		for k, v := range g.plat.VClusters() {
			g.state.VClusters[k.String()] = v
		}
	}
	if err := runstate.Write(g.state.DataDir, g.state); err != nil {
		g.log.Error("writing run state", "err", err)
	}
}

// publishEverySecond keeps run.json current until ctx ends.
func (g *gantry) publishEverySecond(ctx context.Context) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			ok, _ := g.c.srv.Ready(ctx)
			g.publish(ok)
		case <-ctx.Done():
			return nil
		}
	}
}

// reapOrphans kills component processes that a gantry killed without cleanup
// left behind (the parent-death signal normally makes this a no-op). Only
// processes whose command line names this data directory are touched.
func reapOrphans(dataDir string) {
	st, err := runstate.Read(dataDir)
	if err != nil {
		return
	}
	for _, c := range st.Components {
		if c.Pid > 0 && c.Pid != os.Getpid() && supervisor.Alive(c.Pid) && strings.Contains(supervisor.Cmdline(c.Pid), dataDir) {
			_ = syscall.Kill(-c.Pid, syscall.SIGKILL)
			_ = syscall.Kill(c.Pid, syscall.SIGKILL)
		}
	}
	runstate.Remove(dataDir)
}

func printReady(out io.Writer, st runstate.State, took time.Duration) {
	fmt.Fprintf(out, "gantry is ready (%.1fs)\n\n", took.Seconds())
	if st.Host == "embedded" {
		fmt.Fprintf(out, "  host cluster  embedded, Kubernetes %s at %s\n", kubebin.Version, st.APIServer)
		fmt.Fprintf(out, "  nodes         %d simulated by KWOK: pods are scheduled and reported Running, no container runs\n", st.Nodes)
		if len(st.RealNodes) > 0 {
			fmt.Fprintf(out, "                %s real: containers run there, for pods with nodeSelector and toleration gantry.dev/real=true\n", strings.Join(st.RealNodes, ", "))
		}
	} else {
		fmt.Fprintf(out, "  host cluster  %s (from %s)\n", st.APIServer, st.Host)
	}
	if st.HostOnly {
		fmt.Fprintf(out, "  kubeconfig    %s\n  data          %s\n  platform      none (--host-only): no API, UI or virtual clusters\n\n", st.Kubeconfig, st.DataDir)
		fmt.Fprintf(out, "Next:\n  export KUBECONFIG=%s\n  kubectl get nodes\n  gantry image load bin/gantry-image.tar --data-dir %s\n"+
			"  helm install gantry ./deploy/helm/gantry -n gantry-system --create-namespace\n\nPress Ctrl-C to stop.\n", st.Kubeconfig, st.DataDir)
		return
	}
	fmt.Fprintf(out, "  kubeconfig    %s\n  HTTPS         %s (listening on %s, CA %s)\n  OIDC issuer   %s/oidc\n  data          %s\n\n", st.Kubeconfig, st.ExternalURL, st.HTTPAddr, server.CAPath(st.DataDir), st.ExternalURL, st.DataDir)
	fmt.Fprintf(out, "Next:\n  export KUBECONFIG=%s\n  kubectl get nodes\n  gantry login --data-dir %s\n  gantry vcluster create dev --data-dir %s\n  gantry status --data-dir %s\n\nPress Ctrl-C to stop.\n",
		st.Kubeconfig, st.DataDir, st.DataDir, st.DataDir)
}
