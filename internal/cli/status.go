package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"gantry.dev/gantry/internal/datadir"
	"gantry.dev/gantry/internal/runstate"
	"gantry.dev/gantry/internal/supervisor"
)

// componentStatus is one row of `gantry status`.
type componentStatus struct {
	supervisor.Status
	RSSBytes  int64 `json:"rssBytes"`
	InProcess bool  `json:"inProcess"`
	// SharesProcessWith names the component listed earlier whose process this one
	// runs in (kube-controlplane runs three); its RSS is counted there.
	SharesProcessWith string `json:"sharesProcessWith,omitempty"`
}

type statusReport struct {
	runstate.State
	Components []componentStatus            `json:"components"`
	VClusters  map[string][]componentStatus `json:"vclusters,omitempty"`
	TotalRSS   int64                        `json:"totalRSSBytes"`
}

func newStatus(g *globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show each component of the running gantry: pid, uptime, memory, readiness",
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir := g.absDataDir()
			pid := datadir.Holder(dir)
			st, err := runstate.Read(dir)
			if pid == 0 || err != nil || st.Pid != pid {
				if errors.Is(err, os.ErrNotExist) || pid == 0 {
					return fmt.Errorf("gantry is not running with data directory %s; start it with `gantry up --data-dir %s`", dir, dir)
				}
				return fmt.Errorf("gantry pid %d holds %s but has not published its state yet; try again in a moment", pid, dir)
			}
			rep := buildReport(st)
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			}
			printStatus(cmd.OutOrStdout(), rep)
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: json, or empty for a table")
	return cmd
}

func buildReport(st runstate.State) statusReport {
	rep := statusReport{State: st}
	gantryRSS, _ := supervisor.RSS(st.Pid)
	rep.Components = append(rep.Components, componentStatus{
		Status:   supervisor.Status{Name: "gantry", Pid: st.Pid, StartedAt: st.StartedAt, Ready: st.Ready},
		RSSBytes: gantryRSS,
	})
	rep.TotalRSS = gantryRSS
	// Each process's RSS is counted once, on the first component that runs in it.
	counted := map[int]string{}
	measure := func(c supervisor.Status) componentStatus {
		cs := componentStatus{Status: c, InProcess: c.Pid == st.Pid}
		switch {
		case cs.InProcess || c.Pid == 0:
		case counted[c.Pid] != "":
			cs.SharesProcessWith = counted[c.Pid]
		default:
			counted[c.Pid] = c.Name
			cs.RSSBytes, _ = supervisor.RSS(c.Pid)
			rep.TotalRSS += cs.RSSBytes
		}
		return cs
	}
	for _, c := range st.Components {
		cs := measure(c)
		if cs.InProcess {
			cs.StartedAt = st.StartedAt
		}
		rep.Components = append(rep.Components, cs)
	}
	rep.VClusters = map[string][]componentStatus{}
	for name, comps := range st.VClusters {
		for _, c := range comps {
			rep.VClusters[name] = append(rep.VClusters[name], measure(c))
		}
	}
	return rep
}

// rssColumn is the RSS cell of a row.
func rssColumn(c componentStatus) string {
	switch {
	case c.InProcess:
		return "(in gantry)"
	case c.SharesProcessWith != "":
		return "(with " + c.SharesProcessWith + ")"
	}
	return mib(c.RSSBytes)
}

func printStatus(w io.Writer, rep statusReport) {
	state := "starting"
	if rep.Ready {
		state = "ready"
	}
	fmt.Fprintf(w, "gantry %s, pid %d, up %s, data directory %s\n", state, rep.Pid, since(rep.StartedAt), rep.DataDir)
	if rep.Host == "embedded" {
		fmt.Fprintf(w, "host cluster: embedded, API %s, %d simulated nodes (KWOK: pods are scheduled and reported Running, but no container runs)\n",
			rep.APIServer, rep.Nodes)
		if len(rep.RealNodes) > 0 {
			fmt.Fprintf(w, "real nodes: %s (label and NoSchedule taint gantry.dev/real=true: containers really run there, for pods that select and tolerate it)\n", strings.Join(rep.RealNodes, ", "))
		} else {
			fmt.Fprintln(w, "real nodes: none (gantry up says why, or --real-nodes 0 was given)")
		}
	} else {
		fmt.Fprintf(w, "host cluster: external, API %s (kubeconfig %s)\n", rep.APIServer, rep.Host)
	}
	fmt.Fprintf(w, "kubeconfig: %s\nHTTPS: https://%s\n", rep.Kubeconfig, rep.HTTPAddr)
	if rep.ExternalURL != "" {
		fmt.Fprintf(w, "OIDC issuer: %s/oidc\n", rep.ExternalURL)
	}
	switch rep.Controllers {
	case "leading":
		fmt.Fprintln(w, "controllers: leading (holds the Lease gantry-system/gantry-leader)")
	case "standby":
		fmt.Fprintln(w, "controllers: standby (another replica holds the Lease gantry-system/gantry-leader; this one serves the API, UI and proxy)")
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "COMPONENT\tPID\tUPTIME\tRSS\tREADY\tRESTARTS")
	for _, c := range rep.Components {
		rss := rssColumn(c)
		pid, uptime := fmt.Sprint(c.Pid), since(c.StartedAt)
		if c.Pid == 0 {
			pid, uptime = "-", "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\n", c.Name, pid, uptime, rss, yesNo(c.Ready), c.Restarts)
	}
	names := make([]string, 0, len(rep.VClusters))
	for n := range rep.VClusters {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		for _, c := range rep.VClusters[n] {
			if c.InProcess {
				continue // kine of a virtual cluster lives in gantry's process
			}
			fmt.Fprintf(tw, "vcluster %s: %s\t%d\t%s\t%s\t%s\t%d\n", n, c.Name, c.Pid, since(c.StartedAt), rssColumn(c), yesNo(c.Ready), c.Restarts)
		}
	}
	fmt.Fprintf(tw, "total\t\t\t%s\t\t\n", mib(rep.TotalRSS))
	tw.Flush()
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func since(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return time.Since(t).Round(time.Second).String()
}
