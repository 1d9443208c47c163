package cli

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"k8s.io/apimachinery/pkg/util/validation"

	"gantry.dev/gantry/internal/identity/users"
	"gantry.dev/gantry/internal/userapi"
)

func newUser(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "user",
		Aliases: []string{"users"},
		Short:   "Create, list and delete local users; set their passwords",
	}
	cmd.AddCommand(userCreate(g), userList(g), userSetPassword(g), userDelete(g))
	return cmd
}

// readPassword takes the password from stdin (--password-stdin) or makes one and
// prints it once.
func readPassword(cmd *cobra.Command, fromStdin bool) (string, bool, error) {
	if fromStdin {
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && line == "" {
			return "", false, fmt.Errorf("reading the password from stdin: %w", err)
		}
		return strings.TrimRight(line, "\r\n"), false, nil
	}
	pw, err := users.Generate()
	return pw, true, err
}

// notFoundAs says a 404 the CLI's way: "user alice not found (gantry user list)".
func notFoundAs(err error, what, name string) error {
	if httpStatus(err) == http.StatusNotFound {
		return fmt.Errorf("%s %s not found (gantry %s list)", what, name, what)
	}
	return err
}

func userCreate(g *globals) *cobra.Command {
	var email, display string
	var groups []string
	var stdin, ssoOnly bool
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a user; the password comes from --password-stdin or is generated and shown once (--sso: none, they sign in through SSO)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if msgs := validation.IsDNS1123Subdomain(name); len(msgs) > 0 {
				return fmt.Errorf("user name %q: %s", name, msgs[0])
			}
			if ssoOnly && stdin {
				return fmt.Errorf("--sso users have no password: drop --password-stdin")
			}
			var pw string
			var generated bool
			if !ssoOnly {
				var err error
				if pw, generated, err = readPassword(cmd, stdin); err != nil {
					return err
				}
				if err := users.CheckPolicy(name, pw); err != nil {
					return err
				}
			}
			api, err := g.apiClient()
			if err != nil {
				return err
			}
			req := userapi.CreateUserRequest{Name: name, Email: email, DisplayName: display, Groups: groups, Password: pw}
			if err := api.do("POST", userapi.UsersPrefix, req, nil); err != nil {
				if httpStatus(err) == http.StatusConflict {
					return fmt.Errorf("user %s already exists (gantry user set-password %s to change the password)", name, name)
				}
				return err
			}
			if ssoOnly {
				fmt.Fprintf(cmd.OutOrStdout(), "user %s created; they sign in through single sign-on, which binds the account on first login\n", name)
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "user %s created\n", name)
			if generated {
				fmt.Fprintf(cmd.OutOrStdout(), "password: %s\n  (shown once: gantry keeps only its hash)\n", pw)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&email, "email", "", "email address")
	cmd.Flags().StringVar(&display, "display-name", "", "display name")
	cmd.Flags().StringSliceVar(&groups, "group", nil, "group (repeatable)")
	cmd.Flags().BoolVar(&stdin, "password-stdin", false, "read the password from the first line of stdin")
	cmd.Flags().BoolVar(&ssoOnly, "sso", false, "no local password: the user signs in through single sign-on only")
	return cmd
}

func userList(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List users (you may see)",
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := g.apiClient()
			if err != nil {
				return err
			}
			var list struct{ Items []userapi.User }
			if err := api.do("GET", userapi.UsersPrefix, nil, &list); err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tEMAIL\tGROUPS\tPASSWORD\tDISABLED")
			for _, u := range list.Items {
				fmt.Fprintf(w, "%s\t%s\t%s\t%v\t%v\n", u.Name, u.Email, strings.Join(u.Groups, ","), u.PasswordSet, u.Disabled)
			}
			return w.Flush()
		},
	}
}

func userSetPassword(g *globals) *cobra.Command {
	var stdin bool
	cmd := &cobra.Command{
		Use:   "set-password NAME",
		Short: "Set a user's password (from --password-stdin, or generated and shown once); your own needs your current one too",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := g.apiClient()
			if err != nil {
				return err
			}
			req := userapi.PasswordRequest{}
			if api.session && api.username == args[0] {
				// Your own password: gantry wants the current one too, so that a
				// stolen session cannot take the account over.
				if !term.IsTerminal(int(os.Stdin.Fd())) || stdin {
					return fmt.Errorf("changing your own password needs your current one: run gantry user set-password %s in a terminal, without --password-stdin", args[0])
				}
				fmt.Fprint(cmd.ErrOrStderr(), "current password: ")
				cur, err := term.ReadPassword(int(os.Stdin.Fd()))
				fmt.Fprintln(cmd.ErrOrStderr())
				if err != nil {
					return err
				}
				req.CurrentPassword = string(cur)
			}
			pw, generated, err := readPassword(cmd, stdin)
			if err != nil {
				return err
			}
			req.Password = pw
			if err := api.do("POST", pathOf(userapi.UsersPrefix, args[0], "password"), req, nil); err != nil {
				return notFoundAs(err, "user", args[0])
			}
			fmt.Fprintf(cmd.OutOrStdout(), "password of %s changed\n", args[0])
			if generated {
				fmt.Fprintf(cmd.OutOrStdout(), "password: %s\n  (shown once: gantry keeps only its hash)\n", pw)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&stdin, "password-stdin", false, "read the password from the first line of stdin")
	return cmd
}

func userDelete(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a user and their password",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] == users.Admin {
				return fmt.Errorf("the admin user cannot be deleted (disable it with kubectl patch user admin --type merge -p '{\"spec\":{\"disabled\":true}}')")
			}
			api, err := g.apiClient()
			if err != nil {
				return err
			}
			if err := api.do("DELETE", pathOf(userapi.UsersPrefix, args[0]), nil, nil); err != nil {
				return notFoundAs(err, "user", args[0])
			}
			fmt.Fprintf(cmd.OutOrStdout(), "user %s deleted\n", args[0])
			return nil
		},
	}
}

func newTeam(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "team",
		Aliases: []string{"teams"},
		Short:   "Create, list and delete teams; add and remove their users",
	}
	var usersFlag, groups []string
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a team of users, and SSO groups mapped to it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := g.apiClient()
			if err != nil {
				return err
			}
			req := userapi.CreateTeamRequest{Name: args[0], Users: usersFlag, Groups: groups}
			if err := api.do("POST", userapi.TeamsPrefix, req, nil); err != nil {
				if httpStatus(err) == http.StatusConflict {
					return fmt.Errorf("team %s already exists", args[0])
				}
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "team %s created\n", args[0])
			return nil
		},
	}
	create.Flags().StringSliceVar(&usersFlag, "user", nil, "member user (repeatable)")
	create.Flags().StringSliceVar(&groups, "group", nil, "SSO group mapped to the team (repeatable)")
	list := &cobra.Command{
		Use:   "list",
		Short: "List teams (you may see)",
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := g.apiClient()
			if err != nil {
				return err
			}
			var l struct{ Items []userapi.Team }
			if err := api.do("GET", userapi.TeamsPrefix, nil, &l); err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tUSERS\tGROUPS")
			for _, t := range l.Items {
				fmt.Fprintf(w, "%s\t%s\t%s\n", t.Name, strings.Join(t.Users, ","), strings.Join(t.Groups, ","))
			}
			return w.Flush()
		},
	}
	del := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a team",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := g.apiClient()
			if err != nil {
				return err
			}
			if err := api.do("DELETE", pathOf(userapi.TeamsPrefix, args[0]), nil, nil); err != nil {
				return notFoundAs(err, "team", args[0])
			}
			fmt.Fprintf(cmd.OutOrStdout(), "team %s deleted\n", args[0])
			return nil
		},
	}
	member := func(add bool) *cobra.Command {
		use, done := "add-user TEAM USER", "added to"
		if !add {
			use, done = "remove-user TEAM USER", "removed from"
		}
		return &cobra.Command{
			Use:   use,
			Short: strings.Split(use, " ")[0] + " a user to or from a team",
			Args:  cobra.ExactArgs(2),
			RunE: func(cmd *cobra.Command, args []string) error {
				api, err := g.apiClient()
				if err != nil {
					return err
				}
				var t userapi.Team
				if err := api.do("GET", pathOf(userapi.TeamsPrefix, args[0]), nil, &t); err != nil {
					return notFoundAs(err, "team", args[0])
				}
				members := slices.DeleteFunc(t.Users, func(u string) bool { return u == args[1] })
				if add {
					members = append(members, args[1])
				}
				if err := api.do("PATCH", pathOf(userapi.TeamsPrefix, args[0]), map[string]any{"users": members}, nil); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "user %s %s team %s\n", args[1], done, args[0])
				return nil
			},
		}
	}
	cmd.AddCommand(create, list, del, member(true), member(false))
	return cmd
}
