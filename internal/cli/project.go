package cli

import (
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
)

func newProject(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "project",
		Aliases: []string{"projects", "proj"},
		Short:   "Create, list and delete projects; manage their members",
	}
	cmd.AddCommand(projectCreate(g), projectList(g), projectDelete(g), projectMember(g, true), projectMember(g, false), projectArgoCD(g))
	return cmd
}

func validProjectName(name string) error {
	if msgs := validation.IsDNS1123Label("p-" + name); len(msgs) > 0 {
		return fmt.Errorf("project name %q: %s (use at most 61 lower-case letters, digits and '-')", name, msgs[0])
	}
	return nil
}

func projectCreate(g *globals) *cobra.Command {
	var display, description string
	var vcs, running, apps int32
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a project (its namespace is p-NAME)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := validProjectName(args[0]); err != nil {
				return err
			}
			c, err := g.hostClient()
			if err != nil {
				return err
			}
			p := &platformv1alpha1.Project{ObjectMeta: metav1.ObjectMeta{Name: args[0]},
				Spec: platformv1alpha1.ProjectSpec{DisplayName: display, Description: description}}
			set := func(flag string, v int32) *int32 {
				if cmd.Flags().Changed(flag) {
					return &v
				}
				return nil
			}
			p.Spec.Quotas = platformv1alpha1.ProjectQuotas{VirtualClusters: set("max-vclusters", vcs),
				RunningVirtualClusters: set("max-running-vclusters", running), Applications: set("max-apps", apps)}
			if err := c.Create(cmd.Context(), p); err != nil {
				if apierrors.IsAlreadyExists(err) {
					return fmt.Errorf("project %s already exists", args[0])
				}
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "project %s created (namespace %s)\n", args[0], projectNamespace(args[0]))
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
		Short: "List projects with their members and usage",
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.hostClient()
			if err != nil {
				return err
			}
			var list platformv1alpha1.ProjectList
			if err := c.List(cmd.Context(), &list); err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tDISPLAY NAME\tNAMESPACE\tMEMBERS\tVCLUSTERS\tRUNNING\tAPPS")
			for _, p := range list.Items {
				var members []string
				for _, m := range p.Spec.Members {
					members = append(members, fmt.Sprintf("%s:%s=%s", strings.ToLower(string(m.Kind)), m.Name, m.Role))
				}
				u := p.Status.Usage
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d%s\t%d%s\t%d%s\n", p.Name, p.Spec.DisplayName, p.Status.Namespace, strings.Join(members, ","),
					u.VirtualClusters, limit(p.Spec.Quotas.VirtualClusters), u.RunningVirtualClusters, limit(p.Spec.Quotas.RunningVirtualClusters),
					u.Applications, limit(p.Spec.Quotas.Applications))
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
			c, err := g.hostClient()
			if err != nil {
				return err
			}
			p := &platformv1alpha1.Project{ObjectMeta: metav1.ObjectMeta{Name: args[0]}}
			if err := c.Delete(cmd.Context(), p); err != nil {
				if apierrors.IsNotFound(err) {
					return fmt.Errorf("project %s not found (gantry project list)", args[0])
				}
				return err
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
			if add && !slices.Contains([]platformv1alpha1.ProjectRole{platformv1alpha1.RoleProjectAdmin, platformv1alpha1.RoleProjectMember, platformv1alpha1.RoleProjectViewer}, m.Role) {
				return fmt.Errorf("--role %q: use project-admin, project-member or project-viewer", role)
			}
			c, err := g.hostClient()
			if err != nil {
				return err
			}
			p := &platformv1alpha1.Project{}
			if err := c.Get(cmd.Context(), client.ObjectKey{Name: args[0]}, p); err != nil {
				if apierrors.IsNotFound(err) {
					return fmt.Errorf("project %s not found (gantry project list)", args[0])
				}
				return err
			}
			patch := client.MergeFrom(p.DeepCopy())
			p.Spec.Members = slices.DeleteFunc(p.Spec.Members, func(x platformv1alpha1.Member) bool { return x.Kind == m.Kind && x.Name == m.Name })
			if add {
				p.Spec.Members = append(p.Spec.Members, m)
			}
			if err := c.Patch(cmd.Context(), p, patch); err != nil {
				return err
			}
			if add {
				fmt.Fprintf(cmd.OutOrStdout(), "%s %s is %s of project %s\n", strings.ToLower(string(m.Kind)), m.Name, m.Role, p.Name)
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "%s %s removed from project %s\n", strings.ToLower(string(m.Kind)), m.Name, p.Name)
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
