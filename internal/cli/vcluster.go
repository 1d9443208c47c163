package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/kubeconfig"
	projectpkg "gantry.dev/gantry/internal/project"
	"gantry.dev/gantry/internal/runstate"
	"gantry.dev/gantry/internal/server"
	"gantry.dev/gantry/internal/vcluster"
	"gantry.dev/gantry/internal/vcproxy"
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

func (o *vcOptions) key(name string) client.ObjectKey {
	return client.ObjectKey{Namespace: projectNamespace(o.project), Name: name}
}

func (o *vcOptions) create() *cobra.Command {
	var sleepAfter time.Duration
	var labels []string
	var storage string
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
			vc := &platformv1alpha1.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: projectNamespace(o.project)}}
			if sleepAfter > 0 {
				vc.Spec.SleepAfter = &metav1.Duration{Duration: sleepAfter}
			}
			if storage != "" {
				vc.Spec.Storage = &platformv1alpha1.StorageSpec{DSN: storage}
			}
			for _, l := range labels {
				k, v, ok := strings.Cut(l, "=")
				if !ok {
					return fmt.Errorf("label %q is not key=value", l)
				}
				if vc.Spec.Labels == nil {
					vc.Spec.Labels = map[string]string{}
				}
				vc.Spec.Labels[k] = v
			}
			c, err := o.hostClient()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if err := ensureProject(ctx, c, o.project); err != nil {
				return err
			}
			start := time.Now()
			if err := c.Create(ctx, vc); err != nil {
				if apierrors.IsAlreadyExists(err) {
					return fmt.Errorf("virtual cluster %s already exists in project %s; choose another name", name, o.project)
				}
				return fmt.Errorf("creating virtual cluster %s: %w", name, err)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "virtual cluster %s created in project %s\n", name, o.project)
			if !wait {
				return nil
			}
			return waitPhase(ctx, c, o.key(name), timeout, out, start)
		},
	}
	f := cmd.Flags()
	f.DurationVar(&sleepAfter, "sleep-after", 0, "put the virtual cluster to sleep after this long without API activity (0: never)")
	f.StringArrayVarP(&labels, "label", "l", nil, "label key=value carried to its cluster registration (repeatable)")
	f.StringVar(&storage, "storage", "", "kine DSN (postgres://…, mysql://…); default embedded SQLite")
	f.BoolVar(&wait, "wait", true, "wait until the virtual cluster is Running")
	f.DurationVar(&timeout, "timeout", 2*time.Minute, "how long --wait waits")
	return cmd
}

// waitPhase prints each phase change until the virtual cluster runs or fails.
func waitPhase(ctx context.Context, c client.Client, key client.ObjectKey, timeout time.Duration, out io.Writer, start time.Time) error {
	deadline := time.Now().Add(timeout)
	last := platformv1alpha1.VirtualClusterPhase("")
	for {
		vc := &platformv1alpha1.VirtualCluster{}
		if err := c.Get(ctx, key, vc); err != nil {
			return err
		}
		if p := vc.Status.Phase; p != last && p != "" {
			fmt.Fprintf(out, "  %-9s %5.1fs  %s\n", p, time.Since(start).Seconds(), readyMessage(vc))
			last = p
		}
		switch vc.Status.Phase {
		case platformv1alpha1.PhaseRunning:
			fmt.Fprintf(out, "ready: gantry vcluster connect %s --project %s\n", key.Name, strings.TrimPrefix(key.Namespace, "p-"))
			return nil
		case platformv1alpha1.PhaseFailed:
			return fmt.Errorf("virtual cluster %s failed: %s", key.Name, conditionMessage(vc, platformv1alpha1.ConditionDeployed))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("virtual cluster %s not Running after %s (phase %q): %s", key.Name, timeout, vc.Status.Phase, readyMessage(vc))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func readyMessage(vc *platformv1alpha1.VirtualCluster) string {
	return conditionMessage(vc, platformv1alpha1.ConditionReady)
}

func conditionMessage(vc *platformv1alpha1.VirtualCluster, t string) string {
	if c := meta.FindStatusCondition(vc.Status.Conditions, t); c != nil {
		return c.Message
	}
	return ""
}

// ensureProject makes sure the project exists, creating it (and its namespace, so
// that objects can go in at once; the project controller adopts it) if not.
func ensureProject(ctx context.Context, c client.Client, project string) error {
	p := &platformv1alpha1.Project{ObjectMeta: metav1.ObjectMeta{Name: project}}
	if err := c.Create(ctx, p); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating project %s: %w", project, err)
	}
	name := projectNamespace(project)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{projectpkg.LabelProject: project}}}
	if err := c.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating the project namespace %s: %w", name, err)
	}
	return nil
}

func (o *vcOptions) list() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List virtual clusters",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := o.hostClient()
			if err != nil {
				return err
			}
			list := &platformv1alpha1.VirtualClusterList{}
			var opts []client.ListOption
			if !o.all {
				opts = append(opts, client.InNamespace(projectNamespace(o.project)))
			}
			if err := c.List(cmd.Context(), list, opts...); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tPROJECT\tPHASE\tENDPOINT\tAGE")
			for _, vc := range list.Items {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", vc.Name, strings.TrimPrefix(vc.Namespace, "p-"), vc.Status.Phase,
					vc.Status.Endpoint, time.Since(vc.CreationTimestamp.Time).Round(time.Second))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVarP(&o.all, "all-projects", "A", false, "list the virtual clusters of every project")
	return cmd
}

func (o *vcOptions) get() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "get NAME",
		Short: "Show a virtual cluster: phase, conditions, endpoint",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.hostClient()
			if err != nil {
				return err
			}
			vc := &platformv1alpha1.VirtualCluster{}
			if err := c.Get(cmd.Context(), o.key(args[0]), vc); err != nil {
				return notFound(err, args[0], o.project)
			}
			out := cmd.OutOrStdout()
			switch output {
			case "json":
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(vc)
			case "yaml":
				data, err := yaml.Marshal(vc)
				if err != nil {
					return err
				}
				_, err = out.Write(data)
				return err
			}
			fmt.Fprintf(out, "Name:            %s\nProject:         %s\nPhase:           %s\nEndpoint:        %s\nHost namespace:  %s\nKubeconfig:      Secret %s/%s\n",
				vc.Name, o.project, vc.Status.Phase, vc.Status.Endpoint, vc.Status.HostNamespace, vc.Namespace, vc.Status.KubeconfigSecret)
			if vc.Spec.SleepAfter != nil {
				fmt.Fprintf(out, "Sleep after:     %s\n", vc.Spec.SleepAfter.Duration)
			}
			fmt.Fprintln(out, "Conditions:")
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "  TYPE\tSTATUS\tREASON\tMESSAGE")
			for _, c := range vc.Status.Conditions {
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", c.Type, c.Status, c.Reason, c.Message)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "yaml or json")
	return cmd
}

func notFound(err error, name, project string) error {
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("virtual cluster %s not found in project %s (gantry vcluster list -A shows all)", name, project)
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
			c, err := o.hostClient()
			if err != nil {
				return err
			}
			vc := &platformv1alpha1.VirtualCluster{}
			if err := c.Get(cmd.Context(), o.key(args[0]), vc); err != nil {
				return notFound(err, args[0], o.project)
			}
			if err := c.Delete(cmd.Context(), vc); err != nil {
				return err
			}
			for wait {
				if err := c.Get(cmd.Context(), o.key(args[0]), vc); apierrors.IsNotFound(err) {
					break
				}
				select {
				case <-cmd.Context().Done():
					return cmd.Context().Err()
				case <-time.After(100 * time.Millisecond):
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
	var print, viaProxy, sso bool
	var kubeconfigPath string
	cmd := &cobra.Command{
		Use:   "connect NAME",
		Short: "Add a context for the virtual cluster to your kubeconfig (or --print it)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctxName := "gantry_" + o.project + "_" + args[0]
			if sso && viaProxy {
				return fmt.Errorf("--sso and --proxy are two ways to connect: choose one")
			}
			if sso {
				raw, err := o.ssoKubeconfig(args[0], ctxName)
				if err != nil {
					return err
				}
				if print {
					_, err := cmd.OutOrStdout().Write(raw)
					return err
				}
				return mergeKubeconfig(cmd.OutOrStdout(), raw, kubeconfigPath, ctxName)
			}
			c, err := o.hostClient()
			if err != nil {
				return err
			}
			secret := &corev1.Secret{}
			if err := c.Get(cmd.Context(), client.ObjectKey{Namespace: projectNamespace(o.project), Name: vcluster.KubeconfigSecret(args[0])}, secret); err != nil {
				if apierrors.IsNotFound(err) {
					return fmt.Errorf("virtual cluster %s in project %s has no kubeconfig yet: is it Running? (gantry vcluster get %s)", args[0], o.project, args[0])
				}
				return err
			}
			raw := secret.Data["config"]
			if viaProxy {
				if raw, err = o.proxyKubeconfig(args[0]); err != nil {
					return err
				}
			}
			if print {
				_, err := cmd.OutOrStdout().Write(raw)
				return err
			}
			return mergeKubeconfig(cmd.OutOrStdout(), raw, kubeconfigPath, ctxName)
		},
	}
	cmd.Flags().BoolVar(&print, "print", false, "print the kubeconfig instead of merging it")
	cmd.Flags().BoolVar(&sso, "sso", false, "connect directly as yourself (gantry login): kubectl gets short-lived tokens from gantry through an exec plugin")
	cmd.Flags().BoolVar(&viaProxy, "proxy", false, "connect through gantry's proxy (wakes a sleeping virtual cluster, counts as activity) instead of directly")
	cmd.Flags().StringVar(&kubeconfigPath, "kubeconfig", "", "kubeconfig to merge into (default $KUBECONFIG or ~/.kube/config)")
	return cmd
}

// proxyKubeconfig is a kubeconfig that reaches the virtual cluster through gantry's
// proxy with the admin token.
func (o *vcOptions) proxyKubeconfig(name string) ([]byte, error) {
	dir := o.absDataDir()
	st, err := runstate.Read(dir)
	if err != nil {
		return nil, fmt.Errorf("gantry is not running on %s: the proxy needs it (gantry up --data-dir %s)", dir, dir)
	}
	token, err := os.ReadFile(vcproxy.AdminTokenPath(dir))
	if err != nil {
		return nil, err
	}
	ca, _ := os.ReadFile(server.CAPath(dir)) // absent with --tls-cert-file: the system's roots then
	base := st.ExternalURL
	if base == "" {
		base = "https://" + st.HTTPAddr
	}
	cfg := kubeconfig.Config{
		Name:   name,
		Server: base + vcproxy.Prefix + o.project + "/virtualcluster/" + name,
		CA:     ca,
		Token:  strings.TrimSpace(string(token)),
	}
	return cfg.Bytes()
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
	use, short := "wake NAME", "Wake a sleeping virtual cluster"
	if sleep {
		use, short = "sleep NAME", "Put a virtual cluster to sleep: stop its control plane (state kept) and its host pods"
	}
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.hostClient()
			if err != nil {
				return err
			}
			vc := &platformv1alpha1.VirtualCluster{}
			if err := c.Get(cmd.Context(), o.key(args[0]), vc); err != nil {
				return notFound(err, args[0], o.project)
			}
			patch := client.MergeFrom(vc.DeepCopy())
			if vc.Annotations == nil {
				vc.Annotations = map[string]string{}
			}
			if sleep {
				vc.Annotations[vcluster.SleepingAnnotation] = time.Now().UTC().Format(time.RFC3339)
			} else {
				delete(vc.Annotations, vcluster.SleepingAnnotation)
			}
			if err := c.Patch(cmd.Context(), vc, patch); err != nil {
				return err
			}
			want := platformv1alpha1.PhaseRunning
			if sleep {
				want = platformv1alpha1.PhaseSleeping
			}
			start := time.Now()
			for {
				if err := c.Get(cmd.Context(), o.key(args[0]), vc); err != nil {
					return err
				}
				if vc.Status.Phase == want {
					fmt.Fprintf(cmd.OutOrStdout(), "virtual cluster %s is %s (%.1fs)\n", args[0], want, time.Since(start).Seconds())
					return nil
				}
				if time.Since(start) > 2*time.Minute {
					return fmt.Errorf("virtual cluster %s not %s after 2m (phase %s)", args[0], want, vc.Status.Phase)
				}
				time.Sleep(100 * time.Millisecond)
			}
		},
	}
}
