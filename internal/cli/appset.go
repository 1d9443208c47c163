package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
	"gantry.dev/gantry/internal/appsetapi"
)

type appSetOptions struct {
	*globals
	project string
}

// newAppSet is `gantry appset`, a client of /api/v1/applicationsets (as
// argocd appset ...).
func newAppSet(g *globals) *cobra.Command {
	o := &appSetOptions{globals: g}
	cmd := &cobra.Command{
		Use:     "appset",
		Aliases: []string{"appsets", "applicationset", "applicationsets"},
		Short:   "Manage ApplicationSets (Argo CD's ApplicationSet, as in argocd appset ...)",
	}
	cmd.PersistentFlags().StringVarP(&o.project, "project", "p", "default", "project of the ApplicationSet (its namespace is p-<project>)")
	cmd.AddCommand(o.create(), o.list(), o.get(), o.delete())
	return cmd
}

func (o *appSetOptions) query(project string) string {
	return "?appsetNamespace=" + url.QueryEscape(projectNamespace(project))
}

func (o *appSetOptions) create() *cobra.Command {
	var file string
	var upsert bool
	cmd := &cobra.Command{
		Use:   "create -f FILE",
		Short: "Create an ApplicationSet from a manifest (apiVersion argoproj.io/v1alpha1 is accepted)",
		Example: `  gantry appset create -f previews.yaml
  gantry appset create -f previews.yaml --upsert   # replace the spec of an existing set`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if file == "" {
				return fmt.Errorf("give the manifest: -f FILE (- for stdin)")
			}
			data, err := readFileOrStdin(file)
			if err != nil {
				return err
			}
			obj := map[string]any{}
			if err := yaml.Unmarshal(data, &obj); err != nil {
				return fmt.Errorf("%s is not a YAML ApplicationSet: %w", file, err)
			}
			if k, _ := obj["kind"].(string); k != "ApplicationSet" {
				return fmt.Errorf("%s holds a %q, not an ApplicationSet", file, k)
			}
			// The set lives in its project's namespace: the template's project
			// unless -p says otherwise.
			project := o.project
			if !cmd.Flags().Changed("project") {
				var set gitopsv1alpha1.ApplicationSet
				if err := yaml.Unmarshal(data, &set); err == nil && set.Spec.Template.Spec.Project != "" && !strings.Contains(set.Spec.Template.Spec.Project, "{{") {
					project = set.Spec.Template.Spec.Project
				}
			}
			api, err := o.apiClient()
			if err != nil {
				return err
			}
			path := appsetapi.Prefix + o.query(project)
			if upsert {
				path += "&upsert=true"
			}
			var out gitopsv1alpha1.ApplicationSet
			if err := api.do("POST", path, obj, &out); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "ApplicationSet '%s' created\n", out.Name)
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "the ApplicationSet manifest (YAML or JSON; - for stdin)")
	cmd.Flags().BoolVar(&upsert, "upsert", false, "replace the spec of an existing set of that name")
	return cmd
}

func (o *appSetOptions) list() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List ApplicationSets (all projects you may see)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := o.apiClient()
			if err != nil {
				return err
			}
			path := appsetapi.Prefix
			if cmd.Flags().Changed("project") {
				path += "?projects=" + url.QueryEscape(o.project)
			}
			var list gitopsv1alpha1.ApplicationSetList
			if err := api.do("GET", path, nil, &list); err != nil {
				return err
			}
			sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
			if output == "name" {
				for _, s := range list.Items {
					fmt.Fprintln(cmd.OutOrStdout(), s.Name)
				}
				return nil
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tNAMESPACE\tPROJECT\tSYNCPOLICY\tCONDITIONS\tRESOURCES\tREPO\tPATH\tTARGET")
			for _, s := range list.Items {
				src := s.Spec.Template.Spec.Source
				if src == nil {
					src = &gitopsv1alpha1.ApplicationSource{}
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", s.Name, s.Namespace, s.Spec.Template.Spec.Project,
					appSetSyncPolicy(&s), appSetConditions(&s), len(s.Status.Resources), src.RepoURL, src.Path, src.TargetRevision)
			}
			return w.Flush()
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "wide", "wide or name")
	return cmd
}

// appSetSyncPolicy is what the set may do to its applications.
func appSetSyncPolicy(s *gitopsv1alpha1.ApplicationSet) string {
	if p := s.Spec.SyncPolicy; p != nil && p.ApplicationsSync != nil && *p.ApplicationsSync != "" {
		return string(*p.ApplicationsSync)
	}
	return "sync"
}

// appSetConditions are the types of the conditions that hold, as argocd appset list shows them.
func appSetConditions(s *gitopsv1alpha1.ApplicationSet) string {
	var t []string
	for _, c := range s.Status.Conditions {
		if c.Status == gitopsv1alpha1.ApplicationSetConditionStatusTrue {
			t = append(t, string(c.Type))
		}
	}
	if len(t) == 0 {
		return "<none>"
	}
	return strings.Join(t, ",")
}

func (o *appSetOptions) get() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "get NAME",
		Short: "Show an ApplicationSet: its template, conditions, and the applications and virtual clusters it generated",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := o.apiClient()
			if err != nil {
				return err
			}
			var set gitopsv1alpha1.ApplicationSet
			if err := api.do("GET", pathOf(appsetapi.Prefix, args[0])+o.query(o.project), nil, &set); err != nil {
				if httpStatus(err) == 404 {
					return fmt.Errorf("%w (gantry appset list)", err)
				}
				return err
			}
			switch output {
			case "yaml":
				return printYAML(cmd.OutOrStdout(), &set)
			case "json":
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(&set)
			case "":
			default:
				return fmt.Errorf("-o %q: use yaml or json", output)
			}
			printAppSet(cmd.OutOrStdout(), &set)
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "yaml or json (default: a summary like argocd appset get)")
	return cmd
}

func printAppSet(out io.Writer, s *gitopsv1alpha1.ApplicationSet) {
	src := s.Spec.Template.Spec.Source
	if src == nil {
		src = &gitopsv1alpha1.ApplicationSource{}
	}
	w := tabwriter.NewWriter(out, 0, 4, 1, ' ', 0)
	fmt.Fprintf(w, "Name:\t%s/%s\n", s.Namespace, s.Name)
	fmt.Fprintf(w, "Project:\t%s\n", s.Spec.Template.Spec.Project)
	fmt.Fprintf(w, "Application:\t%s\n", s.Spec.Template.Name)
	if vc := s.Spec.VirtualCluster; vc != nil {
		sleep := vc.SleepAfter
		if sleep == "" {
			sleep = "never"
		}
		fmt.Fprintf(w, "Virtual Cluster:\t%s (sleep after %s)\n", vc.Name, sleep)
	}
	fmt.Fprintf(w, "Server:\t%s\n", orDash(s.Spec.Template.Spec.Destination.Server+s.Spec.Template.Spec.Destination.Name))
	fmt.Fprintf(w, "Namespace:\t%s\n", s.Spec.Template.Spec.Destination.Namespace)
	fmt.Fprintf(w, "Repo:\t%s\n", src.RepoURL)
	fmt.Fprintf(w, "Target:\t%s\n", src.TargetRevision)
	fmt.Fprintf(w, "Path:\t%s\n", src.Path)
	fmt.Fprintf(w, "SyncPolicy:\t%s\n", appSetSyncPolicy(s))
	w.Flush()
	if len(s.Status.Conditions) > 0 {
		fmt.Fprintln(out)
		w = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "CONDITION\tSTATUS\tREASON\tMESSAGE")
		for _, c := range s.Status.Conditions {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", c.Type, c.Status, c.Reason, c.Message)
		}
		w.Flush()
	}
	fmt.Fprintln(out)
	w = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "KIND\tNAMESPACE\tNAME\tSTATUS\tHEALTH")
	for _, r := range s.Status.Resources {
		h := ""
		if r.Health != nil {
			h = string(r.Health.Status)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", r.Kind, r.Namespace, r.Name, r.Status, h)
	}
	w.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (o *appSetOptions) delete() *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete an ApplicationSet; the applications it generated go with it (unless its syncPolicy preserves them)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := o.apiClient()
			if err != nil {
				return err
			}
			if err := api.do("DELETE", pathOf(appsetapi.Prefix, args[0])+o.query(o.project), nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "ApplicationSet '%s' deleted\n", args[0])
			return nil
		},
	}
}
