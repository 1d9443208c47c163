package cli

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/projectapi"
)

func newProject(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "project",
		Aliases: []string{"projects", "proj"},
		Short:   "Create, list and delete projects; manage their members",
	}
	cmd.AddCommand(projectCreate(g), projectList(g), projectGet(g), projectDelete(g), projectMember(g, true), projectMember(g, false),
		projectRules(g, true), projectRules(g, false), projectArgoCD(g))
	return cmd
}

// projectNotFound says a 404 the CLI's way.
func projectNotFound(err error, name string) error {
	if httpStatus(err) == http.StatusNotFound {
		return fmt.Errorf("project %s not found (gantry project list)", name)
	}
	return err
}

// ensureProject creates the project when it does not exist yet, as the CLI
// always did for its default project, and says whether it did: callers who
// may not create projects learn it from the answer.
func ensureProject(api *apiClient, project string, out io.Writer) (bool, error) {
	if err := api.do("GET", pathOf(projectapi.Prefix, project), nil, nil); httpStatus(err) != http.StatusNotFound {
		return false, nil // there, or not for this caller to see: the create tells
	}
	err := api.do("POST", projectapi.Prefix, map[string]string{"name": project}, nil)
	switch {
	case err == nil:
		fmt.Fprintf(out, "project %s created\n", project)
		return true, nil
	case httpStatus(err) == http.StatusConflict:
		return true, nil // made meanwhile
	}
	return false, fmt.Errorf("project %s does not exist, and creating it failed: %w", project, err)
}

// createInProject sends a create (of a virtual cluster, an application) into
// a project's namespace, again for up to 30s while a project ensureProject
// just made is not ready for it: its namespace comes a moment later, and
// gantry answers 503 until its caches see it.
func createInProject(madeProject bool, create func() error) error {
	start := time.Now()
	for {
		err := create()
		code := httpStatus(err)
		if code != http.StatusServiceUnavailable && !(madeProject && code == http.StatusNotFound) || time.Since(start) > 30*time.Second {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func projectCreate(g *globals) *cobra.Command {
	var display, description string
	var vcs, running, apps int32
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a project (its namespace is p-NAME)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := projectapi.ValidName(args[0]); err != nil {
				return err
			}
			set := func(flag string, v int32) *int32 {
				if cmd.Flags().Changed(flag) {
					return &v
				}
				return nil
			}
			req := projectapi.CreateRequest{Name: args[0], DisplayName: display, Description: description,
				Quotas: platformv1alpha1.ProjectQuotas{VirtualClusters: set("max-vclusters", vcs),
					RunningVirtualClusters: set("max-running-vclusters", running), Applications: set("max-apps", apps)}}
			api, err := g.apiClient()
			if err != nil {
				return err
			}
			var p projectapi.Project
			if err := api.do("POST", projectapi.Prefix, req, &p); err != nil {
				if httpStatus(err) == http.StatusConflict {
					return fmt.Errorf("project %s already exists", args[0])
				}
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "project %s created (namespace %s)\n", p.Name, p.Namespace)
			return nil
		},
	}
	cmd.Flags().StringVar(&display, "display-name", "", "display name")
	cmd.Flags().StringVar(&description, "description", "", "description")
	cmd.Flags().Int32Var(&vcs, "max-vclusters", 0, "quota: virtual clusters")
	cmd.Flags().Int32Var(&running, "max-running-vclusters", 0, "quota: virtual clusters running at once")
	cmd.Flags().Int32Var(&apps, "max-apps", 0, "quota: applications")
	return cmd
}

func projectList(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List projects (you may see) with their members and usage",
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := g.apiClient()
			if err != nil {
				return err
			}
			var list struct{ Items []projectapi.Project }
			if err := api.do("GET", projectapi.Prefix, nil, &list); err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tDISPLAY NAME\tNAMESPACE\tMEMBERS\tVCLUSTERS\tRUNNING\tAPPS")
			for _, p := range list.Items {
				var members []string
				for _, m := range p.Members {
					members = append(members, fmt.Sprintf("%s:%s=%s", strings.ToLower(string(m.Kind)), m.Name, m.Role))
				}
				u := p.Usage
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d%s\t%d%s\t%d%s\n", p.Name, p.DisplayName, p.Namespace, strings.Join(members, ","),
					u.VirtualClusters, limit(p.Quotas.VirtualClusters), u.RunningVirtualClusters, limit(p.Quotas.RunningVirtualClusters),
					u.Applications, limit(p.Quotas.Applications))
			}
			return w.Flush()
		},
	}
}

func limit(v *int32) string {
	if v == nil {
		return ""
	}
	return fmt.Sprintf("/%d", *v)
}

func projectDelete(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a project with its namespace, virtual clusters and applications",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := g.apiClient()
			if err != nil {
				return err
			}
			if err := api.do("DELETE", pathOf(projectapi.Prefix, args[0]), nil, nil); err != nil {
				return projectNotFound(err, args[0])
			}
			fmt.Fprintf(cmd.OutOrStdout(), "project %s deleted\n", args[0])
			return nil
		},
	}
}

// projectMember is add-member (add) or remove-member.
func projectMember(g *globals, add bool) *cobra.Command {
	var user, team, role string
	use, short := "add-member PROJECT (--user U | --team T) --role ROLE", "Give a user or team a role in a project"
	if !add {
		use, short = "remove-member PROJECT (--user U | --team T)", "Take a user or team out of a project"
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if (user == "") == (team == "") {
				return fmt.Errorf("give exactly one of --user and --team")
			}
			m := platformv1alpha1.Member{Kind: platformv1alpha1.MemberUser, Name: user, Role: platformv1alpha1.ProjectRole(role)}
			if team != "" {
				m.Kind, m.Name = platformv1alpha1.MemberTeam, team
			}
			if add && !validRole(role) {
				return fmt.Errorf("--role %q: use project-admin, project-member or project-viewer", role)
			}
			api, err := g.apiClient()
			if err != nil {
				return err
			}
			kind := strings.ToLower(string(m.Kind))
			if add {
				err = api.do("POST", pathOf(projectapi.Prefix, args[0], "members"), m, nil)
			} else {
				err = api.do("DELETE", pathOf(projectapi.Prefix, args[0], "members", string(m.Kind), m.Name), nil, nil)
			}
			if err != nil {
				return err
			}
			if add {
				fmt.Fprintf(cmd.OutOrStdout(), "%s %s is %s of project %s\n", kind, m.Name, m.Role, args[0])
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "%s %s removed from project %s\n", kind, m.Name, args[0])
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&user, "user", "", "user name")
	cmd.Flags().StringVar(&team, "team", "", "team name")
	if add {
		cmd.Flags().StringVar(&role, "role", "project-member", "project-admin, project-member or project-viewer")
	}
	return cmd
}
