package cli

import (
	"fmt"
	"net/url"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"gantry.dev/gantry/internal/identity/accesskeyapi"
)

func newAccessKey(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "accesskey",
		Aliases: []string{"accesskeys", "key"},
		Short:   "Create, list and revoke access keys for the CLI and CI",
	}
	var project, vcluster, expiresIn string
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create an access key (shown once), optionally scoped to a project or a virtual cluster",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := g.apiClient()
			if err != nil {
				return err
			}
			var v accesskeyapi.View
			body := map[string]string{"name": args[0], "project": project, "virtualCluster": vcluster, "expiresIn": expiresIn}
			if err := api.do("POST", accesskeyapi.Prefix, body, &v); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "access key %s (%s) created, expires %s\nkey: %s\n  (shown once: gantry keeps only its hash; use it as a bearer token)\n",
				v.Name, v.ID, v.Expires.Format("2006-01-02"), v.Key)
			return nil
		},
	}
	create.Flags().StringVarP(&project, "project", "p", "", "scope the key to this project")
	create.Flags().StringVar(&vcluster, "vcluster", "", "scope the key to this virtual cluster (with --project)")
	create.Flags().StringVar(&expiresIn, "expires-in", "720h", "lifetime (at most a year)")
	var all bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List your access keys (--all: everyone's, for administrators)",
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := g.apiClient()
			if err != nil {
				return err
			}
			var res struct{ Items []accesskeyapi.View }
			path := accesskeyapi.Prefix
			if all {
				path += "?all=true"
			}
			if err := api.do("GET", path, nil, &res); err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tNAME\tOWNER\tSCOPE\tEXPIRES\tREVOKED")
			for _, k := range res.Items {
				scope := "*"
				if k.Project != "" {
					scope = k.Project
					if k.VirtualCluster != "" {
						scope += "/" + k.VirtualCluster
					}
				}
				exp := "never"
				if k.Expires != nil {
					exp = k.Expires.Format("2006-01-02")
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%v\n", k.ID, k.Name, k.Owner, scope, exp, k.Revoked)
			}
			return w.Flush()
		},
	}
	list.Flags().BoolVar(&all, "all", false, "everyone's keys")
	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke an access key at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := g.apiClient()
			if err != nil {
				return err
			}
			if err := api.do("DELETE", accesskeyapi.Prefix+"/"+url.PathEscape(args[0]), nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "access key %s revoked\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}
