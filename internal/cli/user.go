package cli

import (
	"bufio"
	"fmt"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/identity/users"
	"gantry.dev/gantry/internal/platform"
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
			c, err := g.hostClient()
			if err != nil {
				return err
			}
			u := &platformv1alpha1.User{ObjectMeta: metav1.ObjectMeta{Name: name},
				Spec: platformv1alpha1.UserSpec{Username: name, Email: email, DisplayName: display, Groups: groups}}
			if err := c.Create(cmd.Context(), u); err != nil {
				if apierrors.IsAlreadyExists(err) {
					return fmt.Errorf("user %s already exists (gantry user set-password %s to change the password)", name, name)
				}
				return err
			}
			if ssoOnly {
				fmt.Fprintf(cmd.OutOrStdout(), "user %s created; they sign in through single sign-on, which binds the account on first login\n", name)
				return nil
			}
			if err := users.SetPassword(cmd.Context(), c, platform.SystemNamespace, name, pw); err != nil {
				_ = c.Delete(cmd.Context(), u) // nothing half-made
				return err
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
		Short: "List users",
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.hostClient()
			if err != nil {
				return err
			}
			var list platformv1alpha1.UserList
			if err := c.List(cmd.Context(), &list); err != nil {
				return err
			}
			var secrets corev1.SecretList
			if err := c.List(cmd.Context(), &secrets, client.InNamespace(platform.SystemNamespace), client.HasLabels{users.LabelUser}); err != nil {
				return err
			}
			withPassword := map[string]bool{}
			for _, s := range secrets.Items {
				withPassword[s.Labels[users.LabelUser]] = true
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tEMAIL\tGROUPS\tPASSWORD\tDISABLED")
			for _, u := range list.Items {
				fmt.Fprintf(w, "%s\t%s\t%s\t%v\t%v\n", u.Name, u.Spec.Email, strings.Join(u.Spec.Groups, ","), withPassword[u.Name], u.Spec.Disabled)
			}
			return w.Flush()
		},
	}
}

func userSetPassword(g *globals) *cobra.Command {
	var stdin bool
	cmd := &cobra.Command{
		Use:   "set-password NAME",
		Short: "Set a user's password (from --password-stdin, or generated and shown once)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.hostClient()
			if err != nil {
				return err
			}
			if err := c.Get(cmd.Context(), client.ObjectKey{Name: args[0]}, &platformv1alpha1.User{}); err != nil {
				if apierrors.IsNotFound(err) {
					return fmt.Errorf("user %s not found (gantry user list)", args[0])
				}
				return err
			}
			pw, generated, err := readPassword(cmd, stdin)
			if err != nil {
				return err
			}
			if err := users.SetPassword(cmd.Context(), c, platform.SystemNamespace, args[0], pw); err != nil {
				return err
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
			c, err := g.hostClient()
			if err != nil {
				return err
			}
			if err := c.Delete(cmd.Context(), &platformv1alpha1.User{ObjectMeta: metav1.ObjectMeta{Name: args[0]}}); err != nil {
				if apierrors.IsNotFound(err) {
					return fmt.Errorf("user %s not found (gantry user list)", args[0])
				}
				return err
			}
			s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: users.SecretName(args[0]), Namespace: platform.SystemNamespace}}
			if err := c.Delete(cmd.Context(), s); err != nil && !apierrors.IsNotFound(err) {
				return err
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
			c, err := g.hostClient()
			if err != nil {
				return err
			}
			t := &platformv1alpha1.Team{ObjectMeta: metav1.ObjectMeta{Name: args[0]},
				Spec: platformv1alpha1.TeamSpec{Users: usersFlag, Groups: groups}}
			if err := c.Create(cmd.Context(), t); err != nil {
				if apierrors.IsAlreadyExists(err) {
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
		Short: "List teams",
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.hostClient()
			if err != nil {
				return err
			}
			var l platformv1alpha1.TeamList
			if err := c.List(cmd.Context(), &l); err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tUSERS\tGROUPS")
			for _, t := range l.Items {
				fmt.Fprintf(w, "%s\t%s\t%s\n", t.Name, strings.Join(t.Spec.Users, ","), strings.Join(t.Spec.Groups, ","))
			}
			return w.Flush()
		},
	}
	del := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a team",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.hostClient()
			if err != nil {
				return err
			}
			if err := c.Delete(cmd.Context(), &platformv1alpha1.Team{ObjectMeta: metav1.ObjectMeta{Name: args[0]}}); err != nil {
				if apierrors.IsNotFound(err) {
					return fmt.Errorf("team %s not found (gantry team list)", args[0])
				}
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "team %s deleted\n", args[0])
			return nil
		},
	}
	member := func(add bool) *cobra.Command {
		use := "add-user TEAM USER"
		if !add {
			use = "remove-user TEAM USER"
		}
		return &cobra.Command{
			Use:   use,
			Short: strings.Split(use, " ")[0] + " a user to or from a team",
			Args:  cobra.ExactArgs(2),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, err := g.hostClient()
				if err != nil {
					return err
				}
				t := &platformv1alpha1.Team{}
				if err := c.Get(cmd.Context(), client.ObjectKey{Name: args[0]}, t); err != nil {
					if apierrors.IsNotFound(err) {
						return fmt.Errorf("team %s not found (gantry team list)", args[0])
					}
					return err
				}
				patch := client.MergeFrom(t.DeepCopy())
				t.Spec.Users = slices.DeleteFunc(t.Spec.Users, func(u string) bool { return u == args[1] })
				if add {
					t.Spec.Users = append(t.Spec.Users, args[1])
				}
				return c.Patch(cmd.Context(), t, patch)
			},
		}
	}
	cmd.AddCommand(create, list, del, member(true), member(false))
	return cmd
}
