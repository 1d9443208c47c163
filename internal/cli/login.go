package cli

import (
	"bufio"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"gantry.dev/gantry/internal/identity/sessionapi"
)

// sessionFile keeps the CLI's login to the gantry of a data directory (0600).
func (g *globals) sessionFile() string { return filepath.Join(g.absDataDir(), "cli-session.json") }

func newLogin(g *globals) *cobra.Command {
	var username, caFile string
	var stdin bool
	cmd := &cobra.Command{
		Use:   "login [SERVER]",
		Short: "Log in to a gantry; later commands use the session",
		Long: `Log in to a gantry; later commands use the session.

With SERVER (https://host:port), log in to that gantry, wherever it runs, and
keep the login as the current context of the CLI config file ($GANTRY_CONFIG,
else $XDG_CONFIG_HOME/gantry/config.json, else ~/.config/gantry/config.json):
later commands talk to it. Give a private CA with --ca-file (a gantry with its
own CA has it in <data-dir>/pki/ca.crt on its machine); the server's
certificate is always verified.

Without SERVER, log in to the gantry the other commands talk to: --server or
$GANTRY_SERVER, the gantry running on --data-dir, the current context, else the
gantry running on the default data directory (the login is then kept in
<data-dir>/cli-session.json).`,
		Example: `  gantry login https://gantry.example.com:8080 --ca-file ca.crt --username alice
  gantry login                      # the local gantry (as admin), or the current context again`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				g.server = args[0]
			}
			t, err := g.target()
			if err != nil {
				return err
			}
			prev, _ := t.store.load()
			if !cmd.Flags().Changed("username") && prev.Username != "" {
				username = prev.Username
			}
			if caFile != "" {
				pem, err := os.ReadFile(caFile)
				if err != nil {
					return fmt.Errorf("--ca-file: %w", err)
				}
				if !x509.NewCertPool().AppendCertsFromPEM(pem) {
					return fmt.Errorf("--ca-file %s holds no PEM certificate", caFile)
				}
				t.ca = pem
			}
			password, err := readLoginPassword(cmd, stdin, username, t.server)
			if err != nil {
				return err
			}
			api := newAPIClient(t)
			var resp sessionapi.Response
			if err := api.do("POST", sessionapi.Prefix, map[string]string{"username": username, "password": password}, &resp); err != nil {
				if strings.Contains(err.Error(), "x509:") {
					return fmt.Errorf("login failed: %w (give the CA that signed gantry's certificate with --ca-file; gantry's own is <data-dir>/pki/ca.crt on its machine)", err)
				}
				return fmt.Errorf("login failed: %w", err)
			}
			s := cliSession{Username: username, Token: resp.Token, RefreshToken: resp.RefreshToken, ExpiresAt: resp.ExpiresAt}
			if t.remote() {
				s.CA = string(t.ca)
			}
			unlock, err := t.store.lock()
			if err != nil {
				return err
			}
			defer unlock()
			if err := t.store.save(s, true); err != nil {
				return err
			}
			if t.remote() {
				fmt.Fprintf(cmd.OutOrStdout(), "logged in as %s at %s (context saved in %s)\n", username, t.server, t.store.file)
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "logged in as %s\n", username)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&username, "username", "u", "admin", "user name")
	cmd.Flags().BoolVar(&stdin, "password-stdin", false, "read the password from the first line of stdin")
	cmd.Flags().StringVar(&caFile, "ca-file", "", "PEM file of the CA that signed gantry's certificate, trusted besides the system's (gantry's own: <data-dir>/pki/ca.crt)")
	return cmd
}

func readLoginPassword(cmd *cobra.Command, stdin bool, username, server string) (string, error) {
	switch {
	case stdin:
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && line == "" {
			return "", fmt.Errorf("reading the password from stdin: %w", err)
		}
		return strings.TrimRight(line, "\r\n"), nil
	case term.IsTerminal(int(os.Stdin.Fd())):
		fmt.Fprintf(cmd.ErrOrStderr(), "password for %s at %s: ", username, server)
		b, err := term.ReadPassword(int(os.Stdin.Fd()))
		fmt.Fprintln(cmd.ErrOrStderr())
		return string(b), err
	}
	return "", fmt.Errorf("no terminal to ask for the password: use --password-stdin")
}

func newLogout(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "logout [SERVER]",
		Short: "End the CLI's session with a gantry (the current one by default) and forget it",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				g.server = args[0]
			}
			t, err := g.target()
			if err != nil {
				return err
			}
			unlock, err := t.store.lock()
			if err != nil {
				return err
			}
			defer unlock()
			s, err := t.store.load()
			if errors.Is(err, os.ErrNotExist) {
				fmt.Fprintf(cmd.OutOrStdout(), "not logged in to %s\n", t.server)
				return nil
			} else if err != nil {
				return err
			}
			// Revoking needs no access token: the refresh token is the session.
			if err := newAPIClient(t).do("DELETE", sessionapi.Prefix, map[string]string{"refreshToken": s.RefreshToken}, nil); err != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: gantry at %s did not confirm the end of the session (%v); forgetting it anyway\n", t.server, err)
			}
			if err := t.store.remove(); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "logged out %s\n", s.Username)
			return nil
		},
	}
}
