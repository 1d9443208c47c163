package cli

import (
	"fmt"
	"net/url"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"gantry.dev/gantry/internal/identity/oidcprovider"
)

// newOIDCClient manages the applications that sign users in through gantry's
// OpenID Connect provider (<gantry>/oidc): Argo CD, Grafana, kubelogin, ...
func newOIDCClient(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "oidc-client",
		Aliases: []string{"oidc-clients"},
		Short:   "Register the applications that sign users in with gantry (OpenID Connect clients)",
	}
	var spec oidcprovider.ClientSpec
	create := &cobra.Command{
		Use:   "create ID --redirect-uri URI",
		Short: "Register a client; a confidential client's secret is shown once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := g.apiClient()
			if err != nil {
				return err
			}
			spec.ID = args[0]
			var v oidcprovider.ClientView
			if err := api.do("POST", oidcprovider.ClientsPrefix, spec, &v); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "client %s registered\nissuer: %s/oidc\nclient ID: %s\n", v.ID, api.server, v.ID)
			if v.Secret != "" {
				fmt.Fprintf(out, "client secret: %s\n  (shown once: gantry keeps only its hash; gantry oidc-client rotate-secret %s makes a new one)\n", v.Secret, v.ID)
			} else {
				fmt.Fprintln(out, "public client: no secret, PKCE required")
			}
			return nil
		},
	}
	create.Flags().StringVar(&spec.Name, "name", "", "name shown on the sign-in page")
	create.Flags().StringSliceVar(&spec.RedirectURIs, "redirect-uri", nil, "redirect URI, matched exactly (repeatable)")
	create.Flags().StringSliceVar(&spec.PostLogoutRedirectURIs, "post-logout-redirect-uri", nil, "where signing out may send the browser (repeatable)")
	create.Flags().BoolVar(&spec.Public, "public", false, "a public client (CLI, single-page app): no secret, PKCE required")
	_ = create.MarkFlagRequired("redirect-uri")

	list := &cobra.Command{
		Use:   "list",
		Short: "List the registered clients",
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := g.apiClient()
			if err != nil {
				return err
			}
			var res struct{ Items []oidcprovider.ClientView }
			if err := api.do("GET", oidcprovider.ClientsPrefix, nil, &res); err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tNAME\tTYPE\tREDIRECT URIS\tCREATED")
			for _, c := range res.Items {
				kind := "confidential"
				if c.Public {
					kind = "public"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", c.ID, c.Name, kind, strings.Join(c.RedirectURIs, ","), c.Created.Format("2006-01-02"))
			}
			return w.Flush()
		},
	}
	byID := func(use, short, method, verb, done string) *cobra.Command {
		return &cobra.Command{
			Use:   use + " ID",
			Short: short,
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				api, err := g.apiClient()
				if err != nil {
					return err
				}
				var v oidcprovider.ClientView
				path := oidcprovider.ClientsPrefix + "/" + url.PathEscape(args[0]) + verb
				if err := api.do(method, path, nil, &v); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "client %s %s\n", args[0], done)
				if v.Secret != "" {
					fmt.Fprintf(cmd.OutOrStdout(), "client secret: %s\n  (shown once; the old one no longer works)\n", v.Secret)
				}
				return nil
			},
		}
	}
	cmd.AddCommand(create, list,
		byID("delete", "Delete a client; its refresh tokens stop working", "DELETE", "", "deleted"),
		byID("rotate-secret", "Give a confidential client a new secret", "POST", "/rotate-secret", "has a new secret"))
	return cmd
}
