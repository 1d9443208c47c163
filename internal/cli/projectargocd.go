package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/argocd"
	"gantry.dev/gantry/internal/projectapi"
)

// argoSyncedCondition is the Project condition the Argo CD integration
// reports on (package argocd).
const argoSyncedCondition = argocd.ConditionSynced

// projectArgoCD turns a project's Argo CD integration on and off (spec.argoCD)
// and shows what gantry made of it.
func projectArgoCD(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "argocd",
		Short: "Connect a project to a real Argo CD: its virtual clusters, SSO and an AppProject",
	}
	var (
		cluster, namespace, ssoHost string
		direct, sso, appProject     bool
		restartServer               bool
		roles, sourceRepos          []string
		noImport, wait              bool
	)
	enable := &cobra.Command{
		Use:   "enable PROJECT",
		Short: "Turn the integration on (or change it): virtual clusters become Argo CD clusters",
		Example: `  gantry project argocd enable shop
  gantry project argocd enable shop --sso --sso-host https://argocd.example.com --role project-admin=role:admin --role project-viewer=role:readonly
  gantry project argocd enable shop --app-project --source-repo https://github.com/shop/*`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if sso && ssoHost == "" {
				return fmt.Errorf("--sso needs --sso-host, Argo CD's URL (e.g. https://argocd.example.com)")
			}
			var assigned []platformv1alpha1.ArgoCDRoleAssignment
			for _, r := range roles {
				projectRole, argoRole, ok := strings.Cut(r, "=")
				if !ok {
					projectRole, argoRole = "", r
				}
				if projectRole != "" && !validRole(projectRole) {
					return fmt.Errorf("--role %q: %q is not project-admin, project-member or project-viewer", r, projectRole)
				}
				if argoRole == "" {
					return fmt.Errorf("--role %q: give [PROJECT-ROLE=]ARGO-ROLE, e.g. project-admin=role:admin", r)
				}
				assigned = append(assigned, platformv1alpha1.ArgoCDRoleAssignment{ProjectRole: platformv1alpha1.ProjectRole(projectRole), Role: argoRole})
			}
			return g.patchArgoCD(cmd, args[0], func(a *platformv1alpha1.ArgoCDIntegration) *platformv1alpha1.ArgoCDIntegration {
				if a == nil {
					a = &platformv1alpha1.ArgoCDIntegration{}
				}
				a.Enabled = true
				if cmd.Flags().Changed("cluster") {
					a.Cluster = cluster
				}
				if cmd.Flags().Changed("namespace") {
					a.Namespace = namespace
				}
				if cmd.Flags().Changed("direct") {
					a.Direct = direct
				}
				if cmd.Flags().Changed("no-import") {
					imp := !noImport
					a.ImportVirtualClusters = &imp
				}
				if sso {
					var restart *bool
					if a.SSO != nil {
						restart = a.SSO.RestartServer
					}
					a.SSO = &platformv1alpha1.ArgoCDSSO{Enabled: true, Host: strings.TrimRight(ssoHost, "/"), AssignedRoles: assigned, RestartServer: restart}
				}
				if cmd.Flags().Changed("restart-server") && a.SSO != nil {
					a.SSO.RestartServer = &restartServer
				}
				if appProject {
					a.Project = &platformv1alpha1.ArgoCDProject{Enabled: true, SourceRepos: sourceRepos}
				}
				return a
			}, wait)
		},
	}
	enable.Flags().StringVar(&cluster, "cluster", "", "where Argo CD runs: empty for the host, else a registered cluster's name")
	enable.Flags().StringVar(&namespace, "namespace", "", "Argo CD's namespace (default argocd)")
	enable.Flags().BoolVar(&direct, "direct", false, "Argo CD reaches virtual clusters at their own endpoint, not through gantry's proxy")
	enable.Flags().BoolVar(&noImport, "no-import", false, "add only virtual clusters that ask for it (spec.argoCD or label gantry.dev/import-argocd=true)")
	enable.Flags().BoolVar(&sso, "sso", false, "Argo CD users sign in with gantry")
	enable.Flags().StringVar(&ssoHost, "sso-host", "", "Argo CD's URL, for --sso")
	enable.Flags().StringSliceVar(&roles, "role", nil, "[PROJECT-ROLE=]ARGO-ROLE given in Argo CD to the project's people (repeatable), e.g. project-admin=role:admin")
	enable.Flags().BoolVar(&restartServer, "restart-server", true, "with --sso: let gantry restart argocd-server when it changes oidc.config's issuer or rootCA (argocd-server reads them only at start)")
	enable.Flags().BoolVar(&appProject, "app-project", false, "keep an Argo CD AppProject for the project")
	enable.Flags().StringSliceVar(&sourceRepos, "source-repo", nil, "repositories the AppProject allows (repeatable; default *)")
	enable.Flags().BoolVar(&wait, "wait", true, "wait until gantry reports the result")

	var ssoOnly, appProjectOnly bool
	disable := &cobra.Command{
		Use:   "disable PROJECT",
		Short: "Turn the integration (or only --sso / --app-project) off: gantry removes exactly what it wrote",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.patchArgoCD(cmd, args[0], func(a *platformv1alpha1.ArgoCDIntegration) *platformv1alpha1.ArgoCDIntegration {
				if a == nil {
					return nil
				}
				switch {
				case ssoOnly || appProjectOnly:
					if sso := a.SSO; sso != nil && ssoOnly {
						sso.Enabled = false
					}
					if ap := a.Project; ap != nil && appProjectOnly {
						ap.Enabled = false
					}
				default:
					a.Enabled = false
				}
				return a
			}, wait)
		},
	}
	disable.Flags().BoolVar(&ssoOnly, "sso", false, "turn off only SSO")
	disable.Flags().BoolVar(&appProjectOnly, "app-project", false, "turn off only the AppProject")
	disable.Flags().BoolVar(&wait, "wait", true, "wait until gantry reports the result")

	status := &cobra.Command{
		Use:   "status PROJECT",
		Short: "Show the integration's settings and what gantry reports",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := g.apiClient()
			if err != nil {
				return err
			}
			var p projectapi.Project
			if err := api.do("GET", pathOf(projectapi.Prefix, args[0]), nil, &p); err != nil {
				return projectNotFound(err, args[0])
			}
			printArgoStatus(cmd, p)
			return nil
		},
	}
	cmd.AddCommand(enable, disable, status)
	return cmd
}

func validRole(r string) bool {
	switch platformv1alpha1.ProjectRole(r) {
	case platformv1alpha1.RoleProjectAdmin, platformv1alpha1.RoleProjectMember, platformv1alpha1.RoleProjectViewer:
		return true
	}
	return false
}

// patchArgoCD changes a project's Argo CD settings (spec.argoCD) and, with
// wait, waits until the integration has reported on the change, and prints
// its report. A report of failure is an error (exit status 1).
//
// The API shows no generation, so "reported on the change" is a report newer
// than the one before it (its observedGeneration greater), or, when nothing
// changed, the report there is.
func (g *globals) patchArgoCD(cmd *cobra.Command, name string, change func(*platformv1alpha1.ArgoCDIntegration) *platformv1alpha1.ArgoCDIntegration, wait bool) error {
	api, err := g.apiClient()
	if err != nil {
		return err
	}
	var p projectapi.Project
	if err := api.do("GET", pathOf(projectapi.Prefix, name), nil, &p); err != nil {
		return projectNotFound(err, name)
	}
	var before int64 = -1
	if cond := meta.FindStatusCondition(p.Conditions, argoSyncedCondition); cond != nil {
		before = cond.ObservedGeneration
	}
	old := p.ArgoCD.DeepCopy()
	next := change(p.ArgoCD.DeepCopy())
	if !equality.Semantic.DeepEqual(old, next) {
		if err := api.do("PUT", pathOf(projectapi.Prefix, name), map[string]any{"argoCD": next}, &p); err != nil {
			return err
		}
	} else if before >= 0 {
		before-- // nothing changed: the report there is the answer
	}
	if !wait {
		return nil
	}
	off := next == nil || !next.Enabled
	deadline := time.Now().Add(time.Minute)
	return poll(cmd, func() (bool, error) {
		if err := api.do("GET", pathOf(projectapi.Prefix, name), nil, &p); err != nil {
			return false, err
		}
		cond := meta.FindStatusCondition(p.Conditions, argoSyncedCondition)
		switch {
		case off && cond == nil:
			// Turned off, the integration removes what it wrote, then its condition.
			printArgoStatus(cmd, p)
			return true, nil
		case !off && cond != nil && cond.ObservedGeneration > before:
			printArgoStatus(cmd, p)
			if cond.Status != "True" {
				return false, fmt.Errorf("the Argo CD integration of project %s: %s", name, cond.Message)
			}
			return true, nil
		case time.Now().After(deadline):
			return false, fmt.Errorf("gantry has not reported on project %s's Argo CD integration within a minute: is gantry running? (gantry status)", name)
		}
		return false, nil
	})
}

func printArgoStatus(cmd *cobra.Command, p projectapi.Project) {
	out := cmd.OutOrStdout()
	a := p.ArgoCD
	if a == nil || !a.Enabled {
		fmt.Fprintf(out, "project %s: Argo CD integration off\n", p.Name)
	} else {
		ns := a.Namespace
		if ns == "" {
			ns = "argocd"
		}
		where := a.Cluster
		if where == "" {
			where = "the host"
		}
		fmt.Fprintf(out, "project %s: Argo CD in namespace %s on %s\n", p.Name, ns, where)
		if a.SSO != nil && a.SSO.Enabled {
			restart := ""
			if r := a.SSO.RestartServer; r != nil && !*r {
				restart = " (gantry does not restart argocd-server)"
			}
			fmt.Fprintf(out, "  SSO: on, Argo CD at %s%s\n", a.SSO.Host, restart)
		}
		if a.Project != nil && a.Project.Enabled {
			fmt.Fprintf(out, "  AppProject: %s\n", p.Name)
		}
	}
	for _, t := range []string{argoSyncedCondition, argocd.ConditionServerUpToDate} {
		if cond := meta.FindStatusCondition(p.Conditions, t); cond != nil {
			fmt.Fprintf(out, "  %s=%s (%s): %s\n", cond.Type, cond.Status, cond.Reason, cond.Message)
		}
	}
}
