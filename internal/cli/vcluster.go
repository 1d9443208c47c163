package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/vcapi"
)

type vcOptions struct {
	*globals
	project string
	all     bool
}

func newVCluster(g *globals) *cobra.Command {
	o := &vcOptions{globals: g}
	cmd := &cobra.Command{
		Use:     "vcluster",
		Aliases: []string{"vc", "vclusters"},
		Short:   "Create, list, connect to, sleep, wake and delete virtual clusters",
	}
	cmd.PersistentFlags().StringVarP(&o.project, "project", "p", "default", "project of the virtual cluster")
	cmd.AddCommand(o.create(), o.list(), o.get(), o.delete(), o.connect(), o.credential(), o.sleepWake(true), o.sleepWake(false))
	return cmd
}

// path is the REST path of the project's virtual clusters, or of one and
// what follows it (sleep, wake, credential).
func (o *vcOptions) path(segments ...string) string {
	return pathOf(vcapi.Prefix, append([]string{o.project}, segments...)...)
}

func (o *vcOptions) create() *cobra.Command {
	var sleepAfter time.Duration
	var labels []string
	var storage, storageSecret string
	var wait bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a virtual cluster and wait until its API is ready",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if errs := validation.IsDNS1123Label(name); len(errs) > 0 {
				return fmt.Errorf("invalid virtual cluster name %q: %s", name, strings.Join(errs, "; "))
			}
			req := vcapi.CreateRequest{Name: name}
			if sleepAfter > 0 {
				req.SleepAfter = sleepAfter.String()
			}
			if storage != "" && storageSecret != "" {
				return fmt.Errorf("--storage and --storage-secret go apart: give the DSN or the Secret that holds it, not both")
			}
			if storage != "" {
				req.Storage = &platformv1alpha1.StorageSpec{DSN: storage}
			}
			if storageSecret != "" {
				req.Storage = &platformv1alpha1.StorageSpec{SecretName: storageSecret}
			}
			for _, l := range labels {
				k, v, ok := strings.Cut(l, "=")
				if !ok {
					return fmt.Errorf("label %q is not key=value", l)
				}
				if req.Labels == nil {
					req.Labels = map[string]string{}
				}
				req.Labels[k] = v
			}
			api, err := o.apiClient()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			madeProject, err := ensureProject(api, o.project, out)
			if err != nil {
				return err
			}
			start := time.Now()
			err = createInProject(madeProject, func() error { return api.do("POST", o.path(), req, nil) })
			switch {
			case httpStatus(err) == http.StatusConflict:
				return err // already exists, over quota: the message says it all
			case err != nil:
				return fmt.Errorf("creating virtual cluster %s: %w", name, err)
			}
			fmt.Fprintf(out, "virtual cluster %s created in project %s\n", name, o.project)
			if !wait {
				return nil
			}
			return o.waitPhase(cmd, api, name, timeout, start)
		},
	}
	f := cmd.Flags()
	f.DurationVar(&sleepAfter, "sleep-after", 0, "put the virtual cluster to sleep after this long without API activity (0: never)")
	f.StringArrayVarP(&labels, "label", "l", nil, "label key=value carried to its cluster registration (repeatable)")
	f.StringVar(&storage, "storage", "", "kine DSN (postgres://…, mysql://…); default embedded SQLite")
	f.StringVar(&storageSecret, "storage-secret", "", "a Secret in the project's namespace whose key dsn holds the kine DSN (the credentials stay out of the VirtualCluster)")
	f.BoolVar(&wait, "wait", true, "wait until the virtual cluster is Running")
	f.DurationVar(&timeout, "timeout", 2*time.Minute, "how long --wait waits")
	return cmd
}

// poll calls fn every 100ms until it says done or fails, or the command is
// cancelled.
func poll(cmd *cobra.Command, fn func() (bool, error)) error {
	for {
		if done, err := fn(); done || err != nil {
			return err
		}
		select {
		case <-cmd.Context().Done():
			return cmd.Context().Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitPhase prints each phase change until the virtual cluster runs or fails.
func (o *vcOptions) waitPhase(cmd *cobra.Command, api *apiClient, name string, timeout time.Duration, start time.Time) error {
	out := cmd.OutOrStdout()
	deadline := time.Now().Add(timeout)
	last := platformv1alpha1.VirtualClusterPhase("")
	return poll(cmd, func() (bool, error) {
		var v vcapi.View
		err := api.do("GET", o.path(name), nil, &v)
		if httpStatus(err) == http.StatusNotFound && time.Since(start) < 10*time.Second {
			return false, nil // gantry answers reads from its cache, which sees the new cluster a moment later
		} else if err != nil {
			return false, err
		}
		if p := v.Phase; p != last && p != "" {
			fmt.Fprintf(out, "  %-9s %5.1fs  %s\n", p, time.Since(start).Seconds(), conditionMessage(v, platformv1alpha1.ConditionReady))
			last = p
		}
		switch v.Phase {
		case platformv1alpha1.PhaseRunning:
			fmt.Fprintf(out, "ready: gantry vcluster connect %s --project %s\n", name, o.project)
			return true, nil
		case platformv1alpha1.PhaseFailed:
			return false, fmt.Errorf("virtual cluster %s failed: %s", name, conditionMessage(v, platformv1alpha1.ConditionDeployed))
		}
		if time.Now().After(deadline) {
			return false, fmt.Errorf("virtual cluster %s not Running after %s (phase %q): %s", name, timeout, v.Phase, conditionMessage(v, platformv1alpha1.ConditionReady))
		}
		return false, nil
	})
}

func conditionMessage(v vcapi.View, t string) string {
	if c := meta.FindStatusCondition(v.Conditions, t); c != nil {
		return c.Message
	}
	return ""
}

func (o *vcOptions) list() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List virtual clusters",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			api, err := o.apiClient()
			if err != nil {
				return err
			}
			path := vcapi.Prefix
			if !o.all {
				path += "?project=" + url.QueryEscape(o.project)
			}
			var list vcapi.List
			if err := api.do("GET", path, nil, &list); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tPROJECT\tPHASE\tENDPOINT\tAGE")
			for _, v := range list.Items {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", v.Name, v.Project, v.Phase, v.DirectEndpoint, time.Since(v.Created).Round(time.Second))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVarP(&o.all, "all-projects", "A", false, "list the virtual clusters of every project (you may see)")
	return cmd
}

// view reads one virtual cluster.
func (o *vcOptions) view(api *apiClient, name string) (vcapi.View, error) {
	var v vcapi.View
	if err := api.do("GET", o.path(name), nil, &v); err != nil {
		return v, o.notFound(err, name)
	}
	return v, nil
}

func (o *vcOptions) get() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "get NAME",
		Short: "Show a virtual cluster: phase, conditions, endpoint",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := o.apiClient()
			if err != nil {
				return err
			}
			v, err := o.view(api, args[0])
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			switch output {
			case "json":
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(v.Object)
			case "yaml":
				data, err := yaml.Marshal(v.Object)
				if err != nil {
					return err
				}
				_, err = out.Write(data)
				return err
			}
			fmt.Fprintf(out, "Name:            %s\nProject:         %s\nPhase:           %s\nEndpoint:        %s\nProxy:           %s\n",
				v.Name, v.Project, v.Phase, v.DirectEndpoint, v.Endpoint)
			if vc := v.Object; vc != nil {
				fmt.Fprintf(out, "Host namespace:  %s\nKubeconfig:      Secret %s/%s\n", vc.Status.HostNamespace, vc.Namespace, vc.Status.KubeconfigSecret)
			}
			if v.SleepAfter != "" {
				fmt.Fprintf(out, "Sleep after:     %s\n", v.SleepAfter)
			}
			fmt.Fprintln(out, "Conditions:")
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "  TYPE\tSTATUS\tREASON\tMESSAGE")
			for _, c := range v.Conditions {
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", c.Type, c.Status, c.Reason, c.Message)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "yaml or json")
	return cmd
}

// notFound says a 404 the CLI's way.
func (o *vcOptions) notFound(err error, name string) error {
	if httpStatus(err) == http.StatusNotFound {
		return fmt.Errorf("virtual cluster %s not found in project %s (gantry vcluster list -A shows all)", name, o.project)
	}
	return err
}

func (o *vcOptions) delete() *cobra.Command {
	var wait bool
	cmd := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a virtual cluster, its data and every host object it made",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := o.apiClient()
			if err != nil {
				return err
			}
			if err := api.do("DELETE", o.path(args[0]), nil, nil); err != nil {
				return o.notFound(err, args[0])
			}
			if wait {
				err := poll(cmd, func() (bool, error) {
					err := api.do("GET", o.path(args[0]), nil, nil)
					if httpStatus(err) == http.StatusNotFound {
						return true, nil
					}
					return false, err
				})
				if err != nil {
					return err
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "virtual cluster %s deleted\n", args[0])
			return nil
		},
	}
	cmd.Flags().BoolVar(&wait, "wait", true, "wait until everything is removed")
	return cmd
}

func (o *vcOptions) connect() *cobra.Command {
	var print, viaProxy, sso, admin bool
	var kubeconfigPath string
	cmd := &cobra.Command{
		Use:   "connect NAME",
		Short: "Add a context for the virtual cluster to your kubeconfig (or --print it): kubectl acts as you",
		Long: `Add a context for the virtual cluster to your kubeconfig (or --print it).
kubectl then acts as you (your gantry login; on the gantry machine without a
login, gantry's admin): inside the virtual cluster you are gantry:<user> with
your project roles bound to its admin, edit and view roles, and gantry's
administrators are cluster-admin (group gantry:admins).

  (default)  kubectl goes through gantry's proxy, which checks that you may
             connect, wakes a sleeping cluster and counts as activity. With a
             login, an exec plugin hands kubectl your session's access token
             (refreshed as needed); with the local admin token, that token is
             written.
  --sso      kubectl reaches the virtual kube-apiserver directly: an exec plugin
             (gantry vcluster credential) fetches short-lived tokens from gantry.
             Nothing long-lived is written. Its address answers only from
             where the control plane runs (said when connecting): gantry's
             machine for control planes as processes, the host cluster's
             nodes and pods for control planes as pods.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			ctxName := vcapi.ContextName(o.project, name)
			switch {
			case admin:
				return fmt.Errorf("--admin is gone: connect acts as you, and gantry's administrators are cluster-admin inside every virtual cluster; use gantry vcluster connect %s (through gantry's proxy) or --sso (directly)", name)
			case sso && viaProxy:
				return fmt.Errorf("--sso and --proxy are ways to connect: choose one")
			}
			var raw []byte
			var err error
			if sso {
				var reach string
				raw, reach, err = o.ssoKubeconfig(name, ctxName)
				if reach != "" {
					// Not on stdout: --print writes the kubeconfig there.
					fmt.Fprintln(cmd.ErrOrStderr(), reach)
				}
			} else {
				raw, err = o.proxyKubeconfig(name)
			}
			if err != nil {
				return err
			}
			if print {
				_, err := cmd.OutOrStdout().Write(raw)
				return err
			}
			return mergeKubeconfig(cmd.OutOrStdout(), raw, kubeconfigPath, ctxName)
		},
	}
	cmd.Flags().BoolVar(&print, "print", false, "print the kubeconfig instead of merging it")
	cmd.Flags().BoolVar(&sso, "sso", false, "connect directly to the virtual kube-apiserver: kubectl gets short-lived tokens from gantry through an exec plugin")
	cmd.Flags().BoolVar(&viaProxy, "proxy", false, "connect through gantry's proxy (the default)")
	cmd.Flags().BoolVar(&admin, "admin", false, "gone: connect acts as you")
	_ = cmd.Flags().MarkHidden("admin")
	cmd.Flags().StringVar(&kubeconfigPath, "kubeconfig", "", "kubeconfig to merge into (default $KUBECONFIG or ~/.kube/config)")
	return cmd
}

// mergeKubeconfig adds the virtual cluster as a context named ctxName and makes it current.
func mergeKubeconfig(out io.Writer, raw []byte, path, ctxName string) error {
	vc, err := clientcmd.Load(raw)
	if err != nil {
		return err
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if path != "" {
		rules.ExplicitPath = path
	}
	existing, err := rules.GetStartingConfig()
	if err != nil {
		return err
	}
	cur := vc.Contexts[vc.CurrentContext]
	existing.Clusters[ctxName] = vc.Clusters[cur.Cluster]
	existing.AuthInfos[ctxName] = vc.AuthInfos[cur.AuthInfo]
	cur.Cluster, cur.AuthInfo = ctxName, ctxName
	existing.Contexts[ctxName] = cur
	existing.CurrentContext = ctxName
	target := rules.GetDefaultFilename()
	if path != "" {
		target = path
	}
	if err := clientcmd.ModifyConfig(rules, *existing, false); err != nil {
		return err
	}
	fmt.Fprintf(out, "context %s added to %s and made current\n", ctxName, target)
	return nil
}

func (o *vcOptions) sleepWake(sleep bool) *cobra.Command {
	use, short, verb := "wake NAME", "Wake a sleeping virtual cluster", "wake"
	want := platformv1alpha1.PhaseRunning
	if sleep {
		use, short, verb = "sleep NAME", "Put a virtual cluster to sleep: stop its control plane (state kept) and its host pods", "sleep"
		want = platformv1alpha1.PhaseSleeping
	}
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := o.apiClient()
			if err != nil {
				return err
			}
			if err := api.do("POST", o.path(args[0], verb), nil, nil); err != nil {
				return o.notFound(err, args[0])
			}
			start := time.Now()
			return poll(cmd, func() (bool, error) {
				v, err := o.view(api, args[0])
				if err != nil {
					return false, err
				}
				if v.Phase == want {
					fmt.Fprintf(cmd.OutOrStdout(), "virtual cluster %s is %s (%.1fs)\n", args[0], want, time.Since(start).Seconds())
					return true, nil
				}
				if time.Since(start) > 2*time.Minute {
					return false, fmt.Errorf("virtual cluster %s not %s after 2m (phase %s)", args[0], want, v.Phase)
				}
				return false, nil
			})
		},
	}
}
