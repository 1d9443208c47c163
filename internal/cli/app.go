package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
	"gantry.dev/gantry/internal/appapi"
)

type appOptions struct {
	*globals
	project string
}

func newApp(g *globals) *cobra.Command {
	o := &appOptions{globals: g}
	cmd := &cobra.Command{
		Use:     "app",
		Aliases: []string{"apps", "application", "applications"},
		Short:   "Manage GitOps Applications (Argo CD's Application, as in argocd app ...)",
	}
	cmd.PersistentFlags().StringVarP(&o.project, "project", "p", "default", "project of the application (its namespace is p-<project>)")
	cmd.AddCommand(o.create(), o.list(), o.get(), o.sync(), o.diff(), o.history(), o.rollback(), o.delete(), o.wait(), o.actions())
	return cmd
}

func (o *appOptions) key(name string) client.ObjectKey {
	return client.ObjectKey{Namespace: projectNamespace(o.project), Name: name}
}

func (o *appOptions) getApp(ctx context.Context, c client.Client, name string) (*gitopsv1alpha1.Application, error) {
	app := &gitopsv1alpha1.Application{}
	if err := c.Get(ctx, o.key(name), app); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("application %q not found in project %s (gantry app list -p %s)", name, o.project, o.project)
		}
		return nil, err
	}
	return app, nil
}

func (o *appOptions) create() *cobra.Command {
	var file, repo, path, revision, destServer, destName, destNS, syncPolicy, releaseName string
	var syncOptions, valuesFiles, helmSets, helmSetStrings, helmSetFiles []string
	var prune, selfHeal, upsert bool
	cmd := &cobra.Command{
		Use:   "create [NAME]",
		Short: "Create an application from flags or from an Argo CD Application manifest (-f)",
		Example: `  gantry app create guestbook --repo https://github.com/argoproj/argocd-example-apps.git --path guestbook \
      --dest-server https://kubernetes.default.svc --dest-namespace default --sync-policy automated
  gantry app create -f application.yaml   # apiVersion argoproj.io/v1alpha1 is accepted`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, err := o.hostClient()
			if err != nil {
				return err
			}
			obj := &unstructured.Unstructured{Object: map[string]any{}}
			if file != "" {
				data, err := readFileOrStdin(file)
				if err != nil {
					return err
				}
				if err := yaml.Unmarshal(data, &obj.Object); err != nil {
					return fmt.Errorf("%s is not a YAML Application: %w", file, err)
				}
				if k := obj.GetKind(); k != "Application" {
					return fmt.Errorf("%s holds a %q, not an Application", file, k)
				}
			} else {
				if len(args) == 0 || repo == "" {
					return fmt.Errorf("give NAME and --repo (and --path), or -f FILE")
				}
				app := gitopsv1alpha1.Application{Spec: gitopsv1alpha1.ApplicationSpec{
					Project:     o.project,
					Source:      &gitopsv1alpha1.ApplicationSource{RepoURL: repo, Path: path, TargetRevision: revision},
					Destination: gitopsv1alpha1.ApplicationDestination{Server: destServer, Name: destName, Namespace: destNS},
				}}
				if destServer == "" && destName == "" {
					app.Spec.Destination.Server = "https://kubernetes.default.svc"
				}
				h, err := helmFromFlags(valuesFiles, helmSets, helmSetStrings, helmSetFiles, releaseName)
				if err != nil {
					return err
				}
				app.Spec.Source.Helm = h
				switch syncPolicy {
				case "":
				case "automated", "auto", "automatic":
					app.Spec.SyncPolicy = &gitopsv1alpha1.SyncPolicy{Automated: &gitopsv1alpha1.SyncPolicyAutomated{Prune: prune, SelfHeal: selfHeal}}
				case "none":
				default:
					return fmt.Errorf("--sync-policy %q: use automated or none", syncPolicy)
				}
				if len(syncOptions) > 0 {
					if app.Spec.SyncPolicy == nil {
						app.Spec.SyncPolicy = &gitopsv1alpha1.SyncPolicy{}
					}
					app.Spec.SyncPolicy.SyncOptions = syncOptions
				}
				m, err := toMap(&app)
				if err != nil {
					return err
				}
				obj.Object = m
				obj.SetName(args[0])
			}
			// An Argo CD manifest: same kind, gantry's group; its project picks the namespace.
			obj.SetAPIVersion(gitopsv1alpha1.GroupVersion.String())
			obj.SetKind("Application")
			if len(args) == 1 {
				obj.SetName(args[0])
			}
			if p, _, _ := unstructured.NestedString(obj.Object, "spec", "project"); p != "" && file != "" {
				o.project = p
			}
			obj.SetNamespace(projectNamespace(o.project))
			obj.SetResourceVersion("")
			if err := ensureProjectOnHost(ctx, c, o.project); err != nil {
				return err
			}
			err = c.Create(ctx, obj)
			if apierrors.IsAlreadyExists(err) && upsert {
				cur := &unstructured.Unstructured{}
				cur.SetGroupVersionKind(obj.GroupVersionKind())
				if err = c.Get(ctx, client.ObjectKeyFromObject(obj), cur); err == nil {
					cur.Object["spec"] = obj.Object["spec"]
					err = c.Update(ctx, cur)
				}
			} else if apierrors.IsAlreadyExists(err) {
				return fmt.Errorf("application %s already exists in project %s: use --upsert to replace its spec", obj.GetName(), o.project)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "application '%s' created\n", obj.GetName())
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&file, "file", "f", "", "Application manifest (YAML; - for stdin)")
	f.StringVar(&repo, "repo", "", "Git repository URL")
	f.StringVar(&path, "path", "", "path in the repository")
	f.StringVar(&revision, "revision", "", "branch, tag or commit (default HEAD)")
	f.StringVar(&destServer, "dest-server", "", "destination cluster URL (default https://kubernetes.default.svc, the host)")
	f.StringVar(&destName, "dest-name", "", "destination cluster name, e.g. p-default/dev for a virtual cluster")
	f.StringVar(&destNS, "dest-namespace", "", "destination namespace")
	f.StringVar(&syncPolicy, "sync-policy", "", "automated or none")
	f.BoolVar(&prune, "auto-prune", false, "with automated sync, delete resources that left Git")
	f.BoolVar(&selfHeal, "self-heal", false, "with automated sync, revert changes made in the cluster")
	f.StringSliceVar(&syncOptions, "sync-option", nil, "sync option, e.g. CreateNamespace=true (repeatable)")
	f.StringSliceVar(&valuesFiles, "values", nil, "Helm values file in the chart (repeatable)")
	f.StringArrayVar(&helmSets, "helm-set", nil, "Helm parameter name=value (repeatable)")
	f.StringArrayVar(&helmSetStrings, "helm-set-string", nil, "Helm parameter name=value, kept a string (repeatable)")
	f.StringArrayVar(&helmSetFiles, "helm-set-file", nil, "Helm parameter name=path, set to the file's content; path as for --values (repeatable)")
	f.StringVar(&releaseName, "release-name", "", "Helm release name (default the app name)")
	f.BoolVar(&upsert, "upsert", false, "replace the spec of an existing application")
	return cmd
}

func readFileOrStdin(path string) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(os.Stdin)
	}
	return os.ReadFile(path)
}

func toMap(v any) (map[string]any, error) {
	data, err := yaml.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, yaml.Unmarshal(data, &m)
}

func (o *appOptions) list() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List applications (all projects)",
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.hostClient()
			if err != nil {
				return err
			}
			var list gitopsv1alpha1.ApplicationList
			if err := c.List(cmd.Context(), &list); err != nil {
				return err
			}
			sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
			if output == "name" {
				for _, a := range list.Items {
					fmt.Fprintln(cmd.OutOrStdout(), a.Name)
				}
				return nil
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tCLUSTER\tNAMESPACE\tPROJECT\tSTATUS\tHEALTH\tSYNCPOLICY\tCONDITIONS\tREPO\tPATH\tTARGET")
			for _, a := range list.Items {
				src := firstSource(&a)
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.Name, destination(&a), a.Spec.Destination.Namespace,
					a.Spec.Project, orUnknown(string(a.Status.Sync.Status)), orUnknown(string(a.Status.Health.Status)), syncPolicyName(&a),
					conditionTypes(&a), src.RepoURL, src.Path, src.TargetRevision)
			}
			return w.Flush()
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "wide", "wide or name")
	return cmd
}

func firstSource(a *gitopsv1alpha1.Application) gitopsv1alpha1.ApplicationSource {
	if a.Spec.Source != nil {
		return *a.Spec.Source
	}
	if len(a.Spec.Sources) > 0 {
		return a.Spec.Sources[0]
	}
	return gitopsv1alpha1.ApplicationSource{}
}

func destination(a *gitopsv1alpha1.Application) string {
	if a.Spec.Destination.Name != "" {
		return a.Spec.Destination.Name
	}
	return a.Spec.Destination.Server
}

func orUnknown(s string) string {
	if s == "" {
		return "Unknown"
	}
	return s
}

func syncPolicyName(a *gitopsv1alpha1.Application) string {
	if p := a.Spec.SyncPolicy; p != nil && p.Automated != nil && (p.Automated.Enabled == nil || *p.Automated.Enabled) {
		s := "Auto"
		if p.Automated.Prune {
			s += "-Prune"
		}
		return s
	}
	return "Manual"
}

func conditionTypes(a *gitopsv1alpha1.Application) string {
	if len(a.Status.Conditions) == 0 {
		return "<none>"
	}
	var t []string
	for _, c := range a.Status.Conditions {
		t = append(t, c.Type)
	}
	return strings.Join(t, ",")
}

func (o *appOptions) get() *cobra.Command {
	var output string
	var refresh, hardRefresh bool
	cmd := &cobra.Command{
		Use:   "get NAME",
		Short: "Show an application: source, destination, sync and health, its resources",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, err := o.hostClient()
			if err != nil {
				return err
			}
			app, err := o.getApp(ctx, c, args[0])
			if err != nil {
				return err
			}
			if refresh || hardRefresh {
				mode := "normal"
				if hardRefresh {
					mode = "hard"
				}
				patch := client.MergeFrom(app.DeepCopy())
				if app.Annotations == nil {
					app.Annotations = map[string]string{}
				}
				app.Annotations["argocd.argoproj.io/refresh"] = mode
				if err := c.Patch(ctx, app, patch); err != nil {
					return err
				}
				// Wait for the controller to take the refresh and compare again.
				if app, err = o.waitFor(ctx, c, args[0], 30*time.Second, func(a *gitopsv1alpha1.Application) bool {
					_, pending := a.Annotations["argocd.argoproj.io/refresh"]
					return !pending
				}); err != nil {
					return err
				}
			}
			switch output {
			case "yaml":
				return printYAML(cmd.OutOrStdout(), app)
			case "json":
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(app)
			}
			printApp(cmd.OutOrStdout(), app)
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "yaml or json (default: a summary like argocd app get)")
	cmd.Flags().BoolVar(&refresh, "refresh", false, "ask Git for new commits first")
	cmd.Flags().BoolVar(&hardRefresh, "hard-refresh", false, "also re-render manifests first")
	return cmd
}

func printYAML(w io.Writer, v any) error {
	data, err := yaml.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(data)
	return err
}

func printApp(out io.Writer, a *gitopsv1alpha1.Application) {
	src := firstSource(a)
	w := tabwriter.NewWriter(out, 0, 4, 1, ' ', 0)
	fmt.Fprintf(w, "Name:\t%s/%s\n", a.Namespace, a.Name)
	fmt.Fprintf(w, "Project:\t%s\n", a.Spec.Project)
	fmt.Fprintf(w, "Server:\t%s\n", destination(a))
	fmt.Fprintf(w, "Namespace:\t%s\n", a.Spec.Destination.Namespace)
	fmt.Fprintf(w, "Repo:\t%s\n", src.RepoURL)
	fmt.Fprintf(w, "Target:\t%s\n", src.TargetRevision)
	fmt.Fprintf(w, "Path:\t%s\n", src.Path)
	fmt.Fprintf(w, "Sync Policy:\t%s\n", syncPolicyName(a))
	rev := a.Status.Sync.Revision
	if len(rev) > 7 {
		rev = rev[:7]
	}
	target := src.TargetRevision
	if target == "" {
		target = "HEAD"
	}
	fmt.Fprintf(w, "Sync Status:\t%s to %s (%s)\n", orUnknown(string(a.Status.Sync.Status)), target, rev)
	fmt.Fprintf(w, "Health Status:\t%s\n", orUnknown(string(a.Status.Health.Status)))
	w.Flush()
	if len(a.Status.Conditions) > 0 {
		fmt.Fprintln(out, "\nCONDITION\tMESSAGE")
		for _, c := range a.Status.Conditions {
			fmt.Fprintf(out, "%s\t%s\n", c.Type, c.Message)
		}
	}
	if st := a.Status.OperationState; st != nil {
		fmt.Fprintf(out, "\nOperation:          Sync\nPhase:              %s\nMessage:            %s\n", st.Phase, st.Message)
	}
	fmt.Fprintln(out)
	w = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "GROUP\tKIND\tNAMESPACE\tNAME\tSTATUS\tHEALTH\tHOOK\tMESSAGE")
	msgs := map[string]string{}
	if st := a.Status.OperationState; st != nil && st.SyncResult != nil {
		for _, r := range st.SyncResult.Resources {
			msgs[r.Group+"/"+r.Kind+"/"+r.Namespace+"/"+r.Name] = r.Message
		}
	}
	for _, r := range a.Status.Resources {
		h := ""
		if r.Health != nil {
			h = string(r.Health.Status)
		}
		hook := ""
		if r.Hook {
			hook = "true"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Group, r.Kind, r.Namespace, r.Name, r.Status, h, hook,
			msgs[r.Group+"/"+r.Kind+"/"+r.Namespace+"/"+r.Name])
	}
	w.Flush()
}

func (o *appOptions) sync() *cobra.Command {
	var revision string
	var prune, dryRun, async bool
	var resources []string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "sync NAME",
		Short: "Sync an application to its target revision (or --revision) and wait for the result",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, err := o.hostClient()
			if err != nil {
				return err
			}
			app, err := o.getApp(ctx, c, args[0])
			if err != nil {
				return err
			}
			op := &gitopsv1alpha1.Operation{
				Sync:        &gitopsv1alpha1.SyncOperation{Revision: revision, Prune: prune, DryRun: dryRun},
				InitiatedBy: gitopsv1alpha1.OperationInitiator{Username: "admin"},
			}
			for _, r := range resources {
				// GROUP:KIND:NAME or GROUP:KIND:NAMESPACE/NAME, as argocd --resource.
				parts := strings.SplitN(r, ":", 3)
				if len(parts) != 3 {
					return fmt.Errorf("--resource %q: want GROUP:KIND:NAME (GROUP empty for core kinds, e.g. :Service:web)", r)
				}
				ns, name, ok := strings.Cut(parts[2], "/")
				if !ok {
					ns, name = "", parts[2]
				}
				op.Sync.Resources = append(op.Sync.Resources, gitopsv1alpha1.SyncOperationResource{Group: parts[0], Kind: parts[1], Namespace: ns, Name: name})
			}
			return o.runOperation(cmd, c, app, op, async, timeout)
		},
	}
	cmd.Flags().StringVar(&revision, "revision", "", "sync to this revision instead of the target")
	cmd.Flags().BoolVar(&prune, "prune", false, "delete resources that left Git")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "validate and report, change nothing")
	cmd.Flags().BoolVar(&async, "async", false, "do not wait for the sync to finish")
	cmd.Flags().StringSliceVar(&resources, "resource", nil, "sync only GROUP:KIND:[NAMESPACE/]NAME (repeatable)")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "how long to wait")
	return cmd
}

// runOperation starts op on app and, unless async, waits for its result.
func (o *appOptions) runOperation(cmd *cobra.Command, c client.Client, app *gitopsv1alpha1.Application, op *gitopsv1alpha1.Operation, async bool, timeout time.Duration) error {
	ctx := cmd.Context()
	if app.Operation != nil || app.Status.OperationState != nil && app.Status.OperationState.Phase == gitopsv1alpha1.OperationRunning {
		return fmt.Errorf("another operation is already in progress on %s", app.Name)
	}
	// A request id in the operation's info tells our operation's state from an
	// earlier one (start times have only second resolution).
	id := strconv.FormatInt(time.Now().UnixNano(), 36)
	op.Info = append(op.Info, gitopsv1alpha1.Info{Name: "request", Value: id})
	patch := client.MergeFrom(app.DeepCopy())
	app.Operation = op
	if err := c.Patch(ctx, app, patch); err != nil {
		return err
	}
	if async {
		fmt.Fprintf(cmd.OutOrStdout(), "sync of '%s' requested\n", app.Name)
		return nil
	}
	done, err := o.waitFor(ctx, c, app.Name, timeout, func(a *gitopsv1alpha1.Application) bool {
		st := a.Status.OperationState
		return a.Operation == nil && st != nil && hasInfo(st.Operation.Info, "request", id) && st.Phase != gitopsv1alpha1.OperationRunning
	})
	if err != nil {
		return err
	}
	printApp(cmd.OutOrStdout(), done)
	if st := done.Status.OperationState; st.Phase != gitopsv1alpha1.OperationSucceeded {
		return fmt.Errorf("sync %s: %s", st.Phase, st.Message)
	}
	return nil
}

func hasInfo(info []gitopsv1alpha1.Info, name, value string) bool {
	for _, i := range info {
		if i.Name == name && i.Value == value {
			return true
		}
	}
	return false
}

func (o *appOptions) waitFor(ctx context.Context, c client.Client, name string, timeout time.Duration, ok func(*gitopsv1alpha1.Application) bool) (*gitopsv1alpha1.Application, error) {
	deadline := time.Now().Add(timeout)
	for {
		app, err := o.getApp(ctx, c, name)
		if err != nil {
			return nil, err
		}
		if ok(app) {
			return app, nil
		}
		if time.Now().After(deadline) {
			return app, fmt.Errorf("timed out after %s waiting for application %s (sync %s, health %s)", timeout, name,
				orUnknown(string(app.Status.Sync.Status)), orUnknown(string(app.Status.Health.Status)))
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (o *appOptions) diff() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "diff NAME",
		Short: "Show the difference between Git and the cluster; exits 1 when they differ (as argocd app diff)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := o.apiClient()
			if err != nil {
				return err
			}
			var res struct {
				Items []struct {
					Group, Kind, Namespace, Name, Diff string
					Modified                           bool
				}
			}
			path := appapi.Prefix + "/" + url.PathEscape(args[0]) + "/managed-resources?appNamespace=" + url.QueryEscape(projectNamespace(o.project))
			if err := api.do("GET", path, nil, &res); err != nil {
				return err
			}
			differs := false
			for _, it := range res.Items {
				if !it.Modified {
					continue
				}
				differs = true
				fmt.Fprintf(cmd.OutOrStdout(), "\n===== %s/%s %s/%s ======\n%s", it.Group, it.Kind, it.Namespace, it.Name, it.Diff)
			}
			if differs {
				return errDiffers
			}
			return nil
		},
	}
	return cmd
}

// errDiffers makes `gantry app diff` exit 1, as argocd app diff does.
var errDiffers = ExitCode(1)

// ExitCode is an error that only sets the process's exit status: its command
// has already said everything.
type ExitCode int

func (e ExitCode) Error() string { return "exit status " + strconv.Itoa(int(e)) }

func (o *appOptions) history() *cobra.Command {
	return &cobra.Command{
		Use:   "history NAME",
		Short: "Show the application's deployment history",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.hostClient()
			if err != nil {
				return err
			}
			app, err := o.getApp(cmd.Context(), c, args[0])
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tDATE\tREVISION")
			for _, h := range app.Status.History {
				rev := h.Revision
				if rev == "" {
					rev = strings.Join(h.Revisions, ",")
				}
				src := ""
				if h.Source != nil {
					src = fmt.Sprintf(" (%s)", h.Source.TargetRevision)
				}
				fmt.Fprintf(w, "%d\t%s\t%s%s\n", h.ID, h.DeployedAt.Format(time.RFC3339), rev, src)
			}
			return w.Flush()
		},
	}
}

func (o *appOptions) rollback() *cobra.Command {
	var prune bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "rollback NAME ID",
		Short: "Sync the application back to a history entry (automated sync must be off)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[1], 10, 64)
			if err != nil {
				return fmt.Errorf("history ID %q is not a number (see gantry app history %s)", args[1], args[0])
			}
			c, err := o.hostClient()
			if err != nil {
				return err
			}
			app, err := o.getApp(cmd.Context(), c, args[0])
			if err != nil {
				return err
			}
			if p := app.Spec.SyncPolicy; p != nil && p.Automated != nil && (p.Automated.Enabled == nil || *p.Automated.Enabled) {
				return fmt.Errorf("rollback cannot be initiated when auto-sync is enabled: disable it first (spec.syncPolicy.automated)")
			}
			op, err := app.RollbackOperation(id, "admin")
			if err != nil {
				return err
			}
			op.Sync.Prune = prune
			return o.runOperation(cmd, c, app, op, false, timeout)
		},
	}
	cmd.Flags().BoolVar(&prune, "prune", false, "delete resources not in the rolled-back revision")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "how long to wait")
	return cmd
}

func (o *appOptions) delete() *cobra.Command {
	var cascade bool
	var policy string
	var wait bool
	cmd := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete an application and, with --cascade (default), its resources",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, err := o.hostClient()
			if err != nil {
				return err
			}
			app, err := o.getApp(ctx, c, args[0])
			if err != nil {
				return err
			}
			patch := client.MergeFrom(app.DeepCopy())
			if err := app.SetCascade(cascade, policy); err != nil {
				return fmt.Errorf("--propagation-policy: %w", err)
			}
			if err := c.Patch(ctx, app, patch); err != nil {
				return err
			}
			if err := c.Delete(ctx, app); err != nil {
				return err
			}
			if wait {
				deadline := time.Now().Add(5 * time.Minute)
				for {
					err := c.Get(ctx, o.key(args[0]), &gitopsv1alpha1.Application{})
					if apierrors.IsNotFound(err) {
						break
					}
					if time.Now().After(deadline) {
						return fmt.Errorf("application %s still being deleted after 5m: gantry app get %s shows why", args[0], args[0])
					}
					time.Sleep(200 * time.Millisecond)
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "application '%s' deleted\n", args[0])
			return nil
		},
	}
	cmd.Flags().BoolVar(&cascade, "cascade", true, "also delete the application's resources")
	cmd.Flags().StringVar(&policy, "propagation-policy", "foreground", "foreground or background")
	cmd.Flags().BoolVar(&wait, "wait", true, "wait until the application (and with --cascade its resources) is gone")
	return cmd
}

func (o *appOptions) wait() *cobra.Command {
	var health, synced, operation bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "wait NAME",
		Short: "Wait until the application is Synced and Healthy (or as --sync / --health / --operation say)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.hostClient()
			if err != nil {
				return err
			}
			if !health && !synced && !operation {
				health, synced, operation = true, true, true
			}
			app, err := o.waitFor(cmd.Context(), c, args[0], timeout, func(a *gitopsv1alpha1.Application) bool {
				if synced && a.Status.Sync.Status != gitopsv1alpha1.SyncStatusSynced {
					return false
				}
				if health && a.Status.Health.Status != gitopsv1alpha1.HealthHealthy {
					return false
				}
				if operation && (a.Operation != nil || a.Status.OperationState != nil && a.Status.OperationState.Phase == gitopsv1alpha1.OperationRunning) {
					return false
				}
				return true
			})
			if err != nil {
				return err
			}
			printApp(cmd.OutOrStdout(), app)
			return nil
		},
	}
	cmd.Flags().BoolVar(&health, "health", false, "wait for Healthy")
	cmd.Flags().BoolVar(&synced, "sync", false, "wait for Synced")
	cmd.Flags().BoolVar(&operation, "operation", false, "wait for the running operation to finish")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "how long to wait")
	return cmd
}

// helmFromFlags is the helm block of `app create`'s flags, nil when none is
// given. --helm-set and --helm-set-string are parameters, --helm-set-file
// file parameters, as with argocd app create.
func helmFromFlags(valuesFiles, sets, setStrings, setFiles []string, releaseName string) (*gitopsv1alpha1.ApplicationSourceHelm, error) {
	if len(valuesFiles)+len(sets)+len(setStrings)+len(setFiles) == 0 && releaseName == "" {
		return nil, nil
	}
	h := &gitopsv1alpha1.ApplicationSourceHelm{ValueFiles: valuesFiles, ReleaseName: releaseName}
	for _, set := range []struct {
		flag        string
		values      []string
		forceString bool
	}{{"--helm-set", sets, false}, {"--helm-set-string", setStrings, true}} {
		for _, s := range set.values {
			k, v, ok := strings.Cut(s, "=")
			if !ok || k == "" {
				return nil, fmt.Errorf("%s %q: want name=value", set.flag, s)
			}
			h.Parameters = append(h.Parameters, gitopsv1alpha1.HelmParameter{Name: k, Value: v, ForceString: set.forceString})
		}
	}
	for _, s := range setFiles {
		k, p, ok := strings.Cut(s, "=")
		if !ok || k == "" || p == "" {
			return nil, fmt.Errorf("--helm-set-file %q: want name=path", s)
		}
		h.FileParameters = append(h.FileParameters, gitopsv1alpha1.HelmFileParameter{Name: k, Path: p})
	}
	return h, nil
}

// actions is argocd app actions: list and run a resource's actions (restart,
// pause, resume, create-job) through the REST API, which checks
// applications action/<group>/<kind>/<action>.
func (o *appOptions) actions() *cobra.Command {
	var kind, group, name, namespace string
	// call sends one request about the resource the flags name.
	call := func(app, method string, body, out any) error {
		if kind == "" || name == "" {
			return fmt.Errorf("--kind and --resource-name name the resource (see gantry app get %s)", app)
		}
		api, err := o.apiClient()
		if err != nil {
			return err
		}
		q := url.Values{"appNamespace": {projectNamespace(o.project)}, "kind": {kind}, "group": {group},
			"resourceName": {name}, "namespace": {namespace}}
		return api.do(method, appapi.Prefix+"/"+url.PathEscape(app)+"/resource/actions?"+q.Encode(), body, out)
	}
	flags := func(cmd *cobra.Command) {
		cmd.Flags().StringVar(&kind, "kind", "", "the resource's kind, e.g. Deployment")
		cmd.Flags().StringVar(&group, "group", "", "the resource's API group, e.g. apps (empty for core kinds)")
		cmd.Flags().StringVar(&name, "resource-name", "", "the resource's name")
		cmd.Flags().StringVar(&namespace, "namespace", "", "the resource's namespace")
	}
	list := &cobra.Command{
		Use:   "list APP --kind KIND --resource-name NAME [--group G] [--namespace NS]",
		Short: "List the actions of one of the application's resources",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var res struct {
				Actions []struct {
					Name     string
					Disabled bool
				}
			}
			if err := call(args[0], "GET", nil, &res); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "GROUP\tKIND\tNAME\tACTION\tDISABLED")
			for _, a := range res.Actions {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\n", group, kind, name, a.Name, a.Disabled)
			}
			return tw.Flush()
		},
	}
	run := &cobra.Command{
		Use:   "run APP ACTION --kind KIND --resource-name NAME [--group G] [--namespace NS]",
		Short: "Run an action (restart, pause, resume, create-job) on one of the application's resources",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var res struct{ Created string }
			if err := call(args[0], "POST", map[string]string{"action": args[1]}, &res); err != nil {
				return err
			}
			if res.Created != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "%s %s: %s created job %s\n", kind, name, args[1], res.Created)
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "%s %s: %s done\n", kind, name, args[1])
			}
			return nil
		},
	}
	flags(list)
	flags(run)
	cmd := &cobra.Command{Use: "actions", Short: "List and run resource actions, as argocd app actions"}
	cmd.AddCommand(list, run)
	return cmd
}
