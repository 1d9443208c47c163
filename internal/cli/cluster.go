package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"gantry.dev/gantry/internal/clusterapi"
	"gantry.dev/gantry/internal/clusterauth"
	"gantry.dev/gantry/internal/gitops/cluster"
)

// newCluster manages the clusters gantry deploys to, as `argocd cluster` does.
func newCluster(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "cluster",
		Aliases: []string{"clusters"},
		Short:   "Add, list, show and remove the clusters gantry deploys to (as argocd cluster does)",
	}
	cmd.AddCommand(clusterAdd(g), clusterList(g), clusterGet(g), clusterRemove(g))
	return cmd
}

// kubeContext is a context of a kubeconfig: its name and a client for it.
type kubeContext struct {
	name string
	rest *rest.Config
}

// loadContext reads context name ("" for the current one) from kubeconfig
// (or the usual places: $KUBECONFIG, ~/.kube/config).
func loadContext(kubeconfig, name string) (kubeContext, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: name})
	raw, err := cc.RawConfig()
	if err != nil {
		return kubeContext{}, fmt.Errorf("reading the kubeconfig: %w", err)
	}
	if name == "" {
		name = raw.CurrentContext
	}
	if _, ok := raw.Contexts[name]; !ok {
		var names []string
		for n := range raw.Contexts {
			names = append(names, n)
		}
		slices.Sort(names)
		return kubeContext{}, fmt.Errorf("context %q is not in the kubeconfig (its contexts: %s): name one of them, or give the file with --kubeconfig", name, strings.Join(names, ", "))
	}
	cfg, err := cc.ClientConfig()
	if err != nil {
		return kubeContext{}, fmt.Errorf("context %s: %w", name, err)
	}
	return kubeContext{name: name, rest: cfg}, nil
}

// contextFor finds the one context of the kubeconfig whose server is server.
func contextFor(kubeconfig, server string) (kubeContext, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	raw, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).RawConfig()
	if err != nil {
		return kubeContext{}, fmt.Errorf("reading the kubeconfig: %w", err)
	}
	var found []string
	for name, c := range raw.Contexts {
		if cl := raw.Clusters[c.Cluster]; cl != nil && strings.TrimRight(cl.Server, "/") == server {
			found = append(found, name)
		}
	}
	slices.Sort(found)
	switch len(found) {
	case 0:
		return kubeContext{}, fmt.Errorf("no context of the kubeconfig reaches %s: name one with --context, or give the file with --kubeconfig", server)
	case 1:
		return loadContext(kubeconfig, found[0])
	}
	return kubeContext{}, fmt.Errorf("contexts %s all reach %s: name one with --context", strings.Join(found, ", "), server)
}

func clusterAdd(g *globals) *cobra.Command {
	var name, project, kubeconfig string
	var yes bool
	cmd := &cobra.Command{
		Use:   "add CONTEXT",
		Short: "Give gantry a ServiceAccount in the cluster of a kubeconfig context and register that cluster",
		Long: `Add the cluster of a kubeconfig context, as argocd cluster add does: gantry makes
ServiceAccount kube-system/` + clusterauth.ServiceAccount + ` there, bound to ClusterRole ` + clusterauth.ClusterRole + `
(every verb on every resource), waits for its token, and registers the cluster
with that token and the context's server and CA. With --project, the cluster is
that project's: only its apps deploy there, its admins may remove it, and
deleting the project removes it.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			kc, err := loadContext(kubeconfig, args[0])
			if err != nil {
				return err
			}
			if name == "" {
				name = kc.name
			}
			// Checked before anything is made in the target cluster.
			if strings.Contains(name, "/") {
				return fmt.Errorf("cluster name %q contains '/', which only virtual clusters' names have: give another with --name", name)
			}
			if name == cluster.HostName {
				return fmt.Errorf("cluster name %q is the host's: give another with --name", name)
			}
			api, err := g.apiClient()
			if err != nil {
				return err
			}
			switch err := api.do("GET", pathOf(clusterapi.Prefix, name), nil, nil); {
			case err == nil:
				return fmt.Errorf("a cluster named %q is registered already: give another with --name, or remove it first (gantry cluster rm %s)", name, name)
			case httpStatus(err) != http.StatusNotFound:
				return err
			}
			out := cmd.OutOrStdout()
			if !yes {
				fmt.Fprintf(out, "WARNING: this creates ServiceAccount %s/%s in the cluster of context %s (%s), with full cluster-level privileges. Continue? [y/N] ",
					clusterauth.Namespace, clusterauth.ServiceAccount, kc.name, kc.rest.Host)
				answer, _ := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
				if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
					return errors.New("not confirmed: nothing was made (pass --yes to skip the question)")
				}
			}
			kube, err := kubernetes.NewForConfig(kc.rest)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			installed, err := clusterauth.Install(ctx, kube)
			undo := func(cause error) error {
				if len(installed.Created) == 0 {
					return cause
				}
				if rerr := clusterauth.Remove(context.WithoutCancel(ctx), kube, installed.Created); rerr != nil {
					return fmt.Errorf("%w (and taking back what was made failed: %v)", cause, rerr)
				}
				return fmt.Errorf("%w (what was made in the cluster for it was removed again: %s)", cause, strings.Join(installed.Created, ", "))
			}
			if err != nil {
				return undo(fmt.Errorf("context %s: %w", kc.name, err))
			}
			ca := kc.rest.CAData
			if len(ca) == 0 && kc.rest.CAFile != "" {
				if ca, err = os.ReadFile(kc.rest.CAFile); err != nil {
					return undo(fmt.Errorf("reading the context's CA: %w", err))
				}
			}
			req := clusterapi.CreateRequest{Name: name, Server: kc.rest.Host, Project: project, Config: cluster.Config{
				BearerToken:     installed.Token,
				TLSClientConfig: cluster.TLSClientConfig{CAData: ca, Insecure: kc.rest.Insecure, ServerName: kc.rest.ServerName},
			}}
			var v clusterapi.Cluster
			if err := api.do("POST", clusterapi.Prefix, req, &v); err != nil {
				return undo(fmt.Errorf("registering cluster %s: %w", name, err))
			}
			fmt.Fprintf(out, "ServiceAccount %s/%s in context %s: bound to ClusterRole %s\n", clusterauth.Namespace, clusterauth.ServiceAccount, kc.name, clusterauth.ClusterRole)
			where := ""
			if v.Project != "" {
				where = " for project " + v.Project
			}
			fmt.Fprintf(out, "cluster %s (%s) added%s: %s\n", v.Name, v.Server, where, stateText(v.Info))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "the cluster's name in gantry (default: the context's name)")
	f.StringVarP(&project, "project", "p", "", "make it this project's cluster (default: for every project an administrator allows)")
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file holding CONTEXT (default: $KUBECONFIG or ~/.kube/config)")
	f.BoolVarP(&yes, "yes", "y", false, "do not ask before making the ServiceAccount")
	return cmd
}

func stateText(i clusterapi.Info) string {
	s := i.ConnectionState.Status
	if i.ServerVersion != "" {
		s += ", Kubernetes " + i.ServerVersion
	}
	if i.ConnectionState.Message != "" {
		s += ": " + i.ConnectionState.Message
	}
	return s
}

func clusterList(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the clusters you may see, with whether gantry reaches them",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			api, err := g.apiClient()
			if err != nil {
				return err
			}
			var list clusterapi.List
			if err := api.do("GET", clusterapi.Prefix, nil, &list); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSERVER\tPROJECT\tVERSION\tSTATUS\tMESSAGE")
			for _, c := range list.Items {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", c.Name, c.Server, c.Project, c.Info.ServerVersion,
					c.Info.ConnectionState.Status, oneLine(c.Info.ConnectionState.Message))
			}
			return tw.Flush()
		},
	}
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func clusterGet(g *globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "get NAME",
		Short: "Show a cluster: server, project, connection state (never its credentials)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := g.apiClient()
			if err != nil {
				return err
			}
			var c clusterapi.Cluster
			if err := api.do("GET", pathOf(clusterapi.Prefix, args[0]), nil, &c); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			switch output {
			case "json":
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(c)
			case "yaml":
				data, err := yaml.Marshal(c)
				if err != nil {
					return err
				}
				_, err = out.Write(data)
				return err
			case "":
			default:
				return fmt.Errorf("--output %q: use yaml or json", output)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			row := func(k, v string) {
				if v != "" {
					fmt.Fprintf(tw, "%s:\t%s\n", k, v)
				}
			}
			row("Name", c.Name)
			row("Server", c.Server)
			row("Project", c.Project)
			if c.VirtualCluster != "" {
				row("Virtual cluster", c.VirtualCluster+" (registered by gantry)")
			}
			row("Namespaces", strings.Join(c.Namespaces, ", "))
			row("Registered by", c.RegisteredBy)
			row("Server version", c.Info.ServerVersion)
			row("Connection", c.Info.ConnectionState.Status)
			row("Message", oneLine(c.Info.ConnectionState.Message))
			if !c.Info.ConnectionState.AttemptedAt.IsZero() {
				row("Checked", c.Info.ConnectionState.AttemptedAt.Local().Format(time.RFC3339))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "yaml or json")
	return cmd
}

func clusterRemove(g *globals) *cobra.Command {
	var removeManager bool
	var kubeconfig, kubeContextName string
	cmd := &cobra.Command{
		Use:     "rm NAME",
		Aliases: []string{"remove", "delete"},
		Short:   "Remove a cluster from gantry (--remove-manager: and its ServiceAccount from the cluster)",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := g.apiClient()
			if err != nil {
				return err
			}
			path := pathOf(clusterapi.Prefix, args[0])
			var kube kubernetes.Interface
			var kc kubeContext
			if removeManager {
				// Found before anything is removed, so that a missing
				// context changes nothing.
				var c clusterapi.Cluster
				if err := api.do("GET", path, nil, &c); err != nil {
					return err
				}
				if kubeContextName != "" {
					kc, err = loadContext(kubeconfig, kubeContextName)
				} else {
					kc, err = contextFor(kubeconfig, c.Server)
				}
				if err != nil {
					return err
				}
				if kube, err = kubernetes.NewForConfig(kc.rest); err != nil {
					return err
				}
			}
			if err := api.do("DELETE", path, nil, nil); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "cluster %s removed\n", args[0])
			if kube == nil {
				return nil
			}
			if err := clusterauth.Remove(cmd.Context(), kube, nil); err != nil {
				return fmt.Errorf("context %s: %w", kc.name, err)
			}
			fmt.Fprintf(out, "ServiceAccount %s/%s, its token and ClusterRole %s removed from context %s\n",
				clusterauth.Namespace, clusterauth.ServiceAccount, clusterauth.ClusterRole, kc.name)
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&removeManager, "remove-manager", false, "also delete gantry's ServiceAccount, token and ClusterRole from the cluster (through your kubeconfig)")
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig for --remove-manager (default: $KUBECONFIG or ~/.kube/config)")
	f.StringVar(&kubeContextName, "context", "", "context for --remove-manager (default: the one whose server is the cluster's)")
	return cmd
}
