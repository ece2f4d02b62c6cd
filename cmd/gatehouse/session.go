package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/cmd/gatehouse/internal/client"
)

// whoamiInfo is what whoami -o json prints.
type whoamiInfo struct {
	Server string `json:"server"`
	// Username is the server's name for the user; the stored login's when
	// the server shows no more (the user lacks the me permission).
	Username string `json:"username,omitempty"`
	// TokenSource is where the token came from: "GATEHOUSE_TOKEN" or the
	// credentials file.
	TokenSource string     `json:"token_source"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty"` // of a stored login
	// User is the server's answer to GET /gatehouse/v1/me, absent when the
	// user lacks the me permission.
	User json.RawMessage `json:"user,omitempty"`
}

func (a *app) whoamiCmd() *cobra.Command {
	o := &clientOptions{}
	cmd := &cobra.Command{
		Use:   "whoami",
		Short: "Show who the CLI acts as, on which server, with which token",
		Long: `Show the user the client commands act as: the server (--server,
GATEHOUSE_SERVER or the last login), the user and roles as the server sees
them (GET /gatehouse/v1/me), and where the token comes from (GATEHOUSE_TOKEN
or the stored login, with its expiry). A missing, expired or refused token
is an error (exit 1) that says how to log in again.`,
		Example: "  gatehouse whoami\n  gatehouse whoami --server http://127.0.0.1:8080 -o json",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.connect(o)
			if err != nil {
				return err
			}
			info := whoamiInfo{Server: c.Server(), TokenSource: "GATEHOUSE_TOKEN"}
			if o.stored != nil {
				exp := o.stored.login.ExpiresAt
				info.Username, info.TokenSource, info.ExpiresAt = o.stored.login.Username, o.stored.file, &exp
			}
			res, err := c.Me(cmd.Context())
			switch {
			case client.IsCode(err, "forbidden"):
				// The token is good (else 401), but GET /me needs the
				// me permission: say what is known without it.
				fmt.Fprintln(a.stderr, "Note: the server accepts the token, but its user lacks the me permission, so the server shows no more.")
			case err != nil:
				return o.apiError(err)
			default:
				info.Username, info.User = res.Value.Username, res.Body
			}
			if o.output != "table" {
				return printValue(a.stdout, o.output, info)
			}
			return a.printWhoami(info, res.Value)
		},
	}
	o.addFlags(cmd.Flags())
	return cmd
}

func (a *app) printWhoami(info whoamiInfo, u client.User) error {
	user, roles := orDash(info.Username), "-"
	if info.User != nil {
		roles = orDash(strings.Join(u.Roles, ", "))
	}
	token := "GATEHOUSE_TOKEN"
	if info.ExpiresAt != nil {
		token = fmt.Sprintf("stored login in %s, expires at %s", info.TokenSource, timestamp(*info.ExpiresAt))
	}
	return table(a.stdout, "Server:\t"+info.Server, [][]string{
		{"User:", user},
		{"Roles:", roles},
		{"Token:", token},
	})
}

func (a *app) logoutCmd() *cobra.Command {
	var server string
	cmd := &cobra.Command{
		Use:   "logout",
		Short: "Forget the stored login for a server",
		Long: `Remove the stored login (its token) for --server, GATEHOUSE_SERVER or the
server of the last login from the credentials file. With no such login it
changes nothing and says so (exit 0), so running it twice is fine.

The server is not told: the token stays valid until it expires
(serve --token-ttl). "gatehouse me password" ends every token of yours at
once. GATEHOUSE_TOKEN, when set, is not stored and is not forgotten: unset
it yourself.`,
		Example: "  gatehouse logout\n  gatehouse logout --server https://gatehouse.example.com",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runLogout(firstNonEmpty(server, a.env("GATEHOUSE_SERVER")))
		},
	}
	cmd.Flags().StringVar(&server, "server", "", "URL of the Gatehouse server (env GATEHOUSE_SERVER; default: the server of the last login)")
	return cmd
}

func (a *app) runLogout(server string) error {
	if a.env("GATEHOUSE_TOKEN") != "" {
		fmt.Fprintln(a.stderr, "Note: GATEHOUSE_TOKEN is set; client commands use it until you unset it.")
	}
	path, err := credentialsPath(a.env)
	if err != nil {
		return err
	}
	creds, err := loadCredentials(path)
	if err != nil {
		return err
	}
	if server == "" {
		if server = creds.Current; server == "" {
			fmt.Fprintln(a.stdout, "No stored login: nothing to forget.")
			return nil
		}
	}
	base, err := client.ParseServer(server)
	if err != nil {
		return usageError{fmt.Errorf("--server: %w", err)}
	}
	stored, l := creds.login(base)
	if l == nil {
		fmt.Fprintf(a.stdout, "No stored login for %s: nothing to forget.\n", base)
		return nil
	}
	delete(creds.Logins, stored)
	if creds.Current == stored {
		creds.Current = ""
	}
	if err := creds.save(path); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "Forgot the login to %s as %s (removed from %s).\n", stored, l.Username, path)
	if time.Now().Before(l.ExpiresAt) {
		fmt.Fprintf(a.stdout, "The token itself stays valid until %s; gatehouse me password ends every token of yours at once.\n", timestamp(l.ExpiresAt))
	}
	return nil
}
