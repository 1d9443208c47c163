package cli

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/resourceversion"
	"sigs.k8s.io/yaml"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
	"gantry.dev/gantry/internal/appapi"
	"gantry.dev/gantry/internal/appsetapi"
	"gantry.dev/gantry/internal/gitops/argoapps"
)

type appOptions struct {
	*globals
	project string
}

// newApp is `gantry app`, a client of /api/v1/applications (as argocd app
// ...): every subcommand acts as the caller, their login or, on the gantry
// machine without one, the local admin token, within the caller's rights.
func newApp(g *globals) *cobra.Command {
	o := &appOptions{globals: g}
	cmd := &cobra.Command{
		Use:     "app",
		Aliases: []string{"apps", "application", "applications"},
		Short:   "Manage GitOps Applications (Argo CD's Application, as in argocd app ...)",
	}
	cmd.PersistentFlags().StringVarP(&o.project, "project", "p", "default", "project of the application (its namespace is p-<project>)")
	cmd.AddCommand(o.create(), o.list(), o.get(), o.sync(), o.diff(), o.history(), o.rollback(), o.delete(), o.wait(), o.actions(), o.logs())
	return cmd
}

// path is the REST path of application name, or of what follows it (sync,
// managed-resources, resource/actions), in the project's namespace, with q
// added to the query.
func (o *appOptions) path(name, sub string, q url.Values) string {
	v := url.Values{"appNamespace": {projectNamespace(o.project)}}
	for k, vs := range q {
		v[k] = vs
	}
	p := pathOf(appapi.Prefix, name)
	if sub != "" {
		p += "/" + sub
	}
	return p + "?" + v.Encode()
}

// fetch reads one application; q adds to the query (refresh).
func (o *appOptions) fetch(api *apiClient, name string, q url.Values) (*gitopsv1alpha1.Application, error) {
	app := &gitopsv1alpha1.Application{}
	if err := api.do("GET", o.path(name, "", q), nil, app); err != nil {
		return nil, o.notFound(err, name)
	}
	return app, nil
}

// notFound says a 404 the CLI's way.
func (o *appOptions) notFound(err error, name string) error {
	if httpStatus(err) == http.StatusNotFound {
		return fmt.Errorf("application %q not found in project %s (gantry app list -p %s)", name, o.project, o.project)
	}
	return err
}

func (o *appOptions) create() *cobra.Command {
	var file, repo, path, revision, destServer, destName, destNS, syncPolicy, releaseName string
	var syncOptions, valuesFiles, helmSets, helmSetStrings, helmSetFiles []string
	var prune, selfHeal, upsert bool
	cmd := &cobra.Command{
		Use:   "create [NAME]",
		Short: "Create an application from flags, or applications and application sets from Argo CD manifests (-f)",
		Long: `Create an application from flags, or the Applications and ApplicationSets of
Argo CD manifests (-f: a file, a directory of them, or -) as they are.

Each lands in its project: the one -p names, else the one the manifest names
(spec.project; Argo CD's "default" is gantry's project default). Argo CD's
namespace (argocd) is the project's namespace p-<project>, as metadata.namespace
and as destination.namespace on https://kubernetes.default.svc (an app of apps).`,
		Example: `  gantry app create guestbook --repo https://github.com/argoproj/argocd-example-apps.git --path guestbook \
      --dest-server https://kubernetes.default.svc --dest-namespace default --sync-policy automated
  gantry app create -f application.yaml   # apiVersion argoproj.io/v1alpha1 is accepted
  gantry app create -f argocd-apps/ -p shop   # every Application and ApplicationSet in the directory, into project shop
  gantry app create apps --repo https://github.com/argoproj/argocd-example-apps.git --path apps \
      --dest-namespace argocd   # an app of apps: its Applications become apps of the project`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var manifests []appManifest
			if file != "" {
				var err error
				if manifests, err = readAppManifests(file); err != nil {
					return err
				}
				if len(args) == 1 {
					if len(manifests) != 1 || manifests[0].obj.GetKind() != argoapps.KindApplication {
						return fmt.Errorf("NAME names one Application, and %s holds %d manifests: leave NAME out", file, len(manifests))
					}
					manifests[0].obj.SetName(args[0])
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
				obj := &unstructured.Unstructured{Object: m}
				obj.SetAPIVersion(gitopsv1alpha1.GroupVersion.String())
				obj.SetKind(argoapps.KindApplication)
				obj.SetName(args[0])
				manifests = []appManifest{{obj: obj, where: args[0]}}
			}
			// Each goes into its project, as Argo CD's manifests in Git do in
			// an app of apps (argoapps): the one -p names, else the one the
			// manifest names; Argo CD's namespace (argocd) is the project's.
			type item struct {
				obj     *unstructured.Unstructured
				project string
			}
			var items []item
			for _, m := range manifests {
				if m.obj.GetName() == "" && len(manifests) == 1 {
					return fmt.Errorf("%s has no metadata.name: give one there, or as NAME (gantry app create NAME -f %s)", file, file)
				}
				proj := o.project
				if file != "" && !cmd.Flags().Changed("project") {
					proj = manifestProject(m.obj)
				}
				obj, err := argoapps.Into(m.obj, proj)
				if err != nil {
					return fmt.Errorf("%s: %w", m.where, err)
				}
				items = append(items, item{obj: obj, project: proj})
			}
			api, err := o.apiClient()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			made := map[string]bool{} // project → made by this command
			var errs []error
			for _, it := range items {
				madeProject, seen := made[it.project]
				if !seen {
					if madeProject, err = ensureProject(api, it.project, out); err != nil {
						return err
					}
					made[it.project] = madeProject
				}
				if err := o.createOne(api, it.obj, it.project, madeProject, upsert, out); err != nil {
					errs = append(errs, err)
				}
			}
			return errors.Join(errs...)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&file, "file", "f", "", "Application and ApplicationSet manifests (Argo CD's or gantry's): a YAML or JSON file, a directory of them, or - for stdin")
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

// createOne creates one Application or ApplicationSet (made gantry's by
// argoapps.Into) in project through the REST API.
func (o *appOptions) createOne(api *apiClient, obj *unstructured.Unstructured, project string, madeProject, upsert bool, out io.Writer) error {
	ns := projectNamespace(project)
	if obj.GetKind() == argoapps.KindApplicationSet {
		path := appsetapi.Prefix + "?appsetNamespace=" + url.QueryEscape(ns)
		if upsert {
			path += "&upsert=true"
		}
		var created gitopsv1alpha1.ApplicationSet
		if err := createInProject(madeProject, func() error { return api.do("POST", path, obj.Object, &created) }); err != nil {
			return fmt.Errorf("ApplicationSet %s: %w", obj.GetName(), err)
		}
		fmt.Fprintf(out, "ApplicationSet '%s' created\n", obj.GetName())
		return nil
	}
	q := url.Values{"appNamespace": {ns}}
	if upsert {
		q.Set("upsert", "true")
	}
	var created gitopsv1alpha1.Application
	err := createInProject(madeProject, func() error {
		return api.do("POST", appapi.Prefix+"?"+q.Encode(), obj.Object, &created)
	})
	switch {
	case httpStatus(err) == http.StatusConflict:
		return fmt.Errorf("application %s already exists in project %s: use --upsert to replace its spec", obj.GetName(), project)
	case err != nil:
		return err
	}
	o.settle(api, &created, project)
	fmt.Fprintf(out, "application '%s' created\n", obj.GetName())
	return nil
}

// settle waits, a few seconds at most, until gantry's reads show the app as
// written: gantry answers them from its cache, and the next command of a
// script (sync, wait) must find the app and its new spec.
func (o *appOptions) settle(api *apiClient, written *gitopsv1alpha1.Application, project string) {
	path := pathOf(appapi.Prefix, written.Name) + "?" + url.Values{"appNamespace": {projectNamespace(project)}}.Encode()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		var cur gitopsv1alpha1.Application
		err := api.do("GET", path, nil, &cur)
		if err != nil && httpStatus(err) != http.StatusNotFound {
			return // not for this caller to read, or gantry is away: nothing to wait for
		}
		if err == nil && !olderThan(cur.ResourceVersion, written.ResourceVersion) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// olderThan says whether resource version a is known to come before b
// (Kubernetes' resource versions of one resource compare as integers).
func olderThan(a, b string) bool {
	c, err := resourceversion.CompareResourceVersion(a, b)
	return err == nil && c < 0
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
		Short: "List applications (all projects you may see)",
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := o.apiClient()
			if err != nil {
				return err
			}
			var list gitopsv1alpha1.ApplicationList
			if err := api.do("GET", appapi.Prefix, nil, &list); err != nil {
				return err
			}
			sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
			if output == "name" {
				for _, a := range list.Items {
					fmt.Fprintln(cmd.OutOrStdout(), a.Name)
				}
				return nil
			}
			printAppList(cmd.OutOrStdout(), list.Items)
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "wide", "wide or name")
	return cmd
}

func (o *appOptions) get() *cobra.Command {
	var output string
	var refresh, hardRefresh bool
	cmd := &cobra.Command{
		Use:   "get NAME",
		Short: "Show an application: source, destination, sync and health, its resources",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "" && output != "yaml" && output != "json" {
				return fmt.Errorf("-o %q: use yaml or json, or leave it out for the summary", output)
			}
			api, err := o.apiClient()
			if err != nil {
				return err
			}
			// Argo CD's refresh: gantry answers once the controller compared again.
			q := url.Values{}
			switch {
			case hardRefresh:
				q.Set("refresh", "hard")
			case refresh:
				q.Set("refresh", "normal")
			}
			app, err := o.fetch(api, args[0], q)
			if err != nil {
				return err
			}
			return printAppAs(cmd.OutOrStdout(), app, output)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "yaml or json (default: a summary like argocd app get)")
	cmd.Flags().BoolVar(&refresh, "refresh", false, "ask Git for new commits first")
	cmd.Flags().BoolVar(&hardRefresh, "hard-refresh", false, "also re-render manifests first")
	return cmd
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
			if err := api.do("GET", o.path(args[0], "managed-resources", nil), nil, &res); err != nil {
				return o.notFound(err, args[0])
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
			api, err := o.apiClient()
			if err != nil {
				return err
			}
			app, err := o.fetch(api, args[0], nil)
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

func (o *appOptions) delete() *cobra.Command {
	var cascade bool
	var policy string
	var wait bool
	cmd := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete an application and, with --cascade (default), its resources",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			// Checked here too, so that a typo is not sent at all.
			if err := (&gitopsv1alpha1.Application{}).SetCascade(cascade, policy); err != nil {
				return fmt.Errorf("--propagation-policy: %w", err)
			}
			api, err := o.apiClient()
			if err != nil {
				return err
			}
			q := url.Values{"cascade": {strconv.FormatBool(cascade)}, "propagationPolicy": {policy}}
			if err := api.do("DELETE", o.path(args[0], "", q), nil, nil); err != nil {
				return o.notFound(err, args[0])
			}
			if wait {
				deadline := time.Now().Add(5 * time.Minute)
				err := poll(cmd, func() (bool, error) {
					err := api.do("GET", o.path(args[0], "", nil), nil, nil)
					switch {
					case httpStatus(err) == http.StatusNotFound:
						return true, nil
					case err != nil:
						return false, err
					case time.Now().After(deadline):
						return false, fmt.Errorf("application %s still being deleted after 5m: gantry app get %s shows why", args[0], args[0])
					}
					return false, nil
				})
				if err != nil {
					return err
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
		q := url.Values{"kind": {kind}, "group": {group}, "resourceName": {name}, "namespace": {namespace}}
		// Not o.notFound: a 404 here may be the resource's (not in the app's tree).
		return api.do(method, o.path(app, "resource/actions", q), body, out)
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
