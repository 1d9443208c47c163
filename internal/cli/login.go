package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"gantry.dev/gantry/internal/identity/sessionapi"
)

// sessionFile keeps the CLI's login for the gantry of a data directory (0600).
func (g *globals) sessionFile() string { return filepath.Join(g.absDataDir(), "cli-session.json") }

type cliSession struct {
	Username     string `json:"username"`
	Token        string `json:"token"`
	RefreshToken string `json:"refreshToken"`
}

func newLogin(g *globals) *cobra.Command {
	var username string
	var stdin bool
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Log in to the running gantry; later commands use the session",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var password string
			switch {
			case stdin:
				line, err := bufio.NewReader(os.Stdin).ReadString('\n')
				if err != nil && line == "" {
					return fmt.Errorf("reading the password from stdin: %w", err)
				}
				password = strings.TrimRight(line, "\r\n")
			case term.IsTerminal(int(os.Stdin.Fd())):
				fmt.Fprintf(cmd.ErrOrStderr(), "password for %s: ", username)
				b, err := term.ReadPassword(int(os.Stdin.Fd()))
				fmt.Fprintln(cmd.ErrOrStderr())
				if err != nil {
					return err
				}
				password = string(b)
			default:
				return fmt.Errorf("no terminal to ask for the password: use --password-stdin")
			}
			api, err := g.apiClientAnonymous()
			if err != nil {
				return err
			}
			var resp sessionapi.Response
			if err := api.do("POST", sessionapi.Prefix, map[string]string{"username": username, "password": password}, &resp); err != nil {
				return fmt.Errorf("login failed: %w", err)
			}
			data, _ := json.Marshal(cliSession{Username: username, Token: resp.Token, RefreshToken: resp.RefreshToken})
			if err := os.WriteFile(g.sessionFile(), data, 0o600); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "logged in as %s\n", username)
			return nil
		},
	}
	cmd.Flags().StringVarP(&username, "username", "u", "admin", "user name")
	cmd.Flags().BoolVar(&stdin, "password-stdin", false, "read the password from the first line of stdin")
	return cmd
}

func newLogout(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "End the CLI's session with the running gantry",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(g.sessionFile())
			if os.IsNotExist(err) {
				fmt.Fprintln(cmd.OutOrStdout(), "not logged in")
				return nil
			} else if err != nil {
				return err
			}
			var s cliSession
			_ = json.Unmarshal(data, &s)
			if api, err := g.apiClientAnonymous(); err == nil {
				_ = api.do("DELETE", sessionapi.Prefix, map[string]string{"refreshToken": s.RefreshToken}, nil)
			}
			if err := os.Remove(g.sessionFile()); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "logged out %s\n", s.Username)
			return nil
		},
	}
}
