package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/admin"
	"github.com/gatehouse-dev/gatehouse/cmd/gatehouse/internal/client"
)

type loginOptions struct {
	server, username string
	passwordStdin    bool
}

func (a *app) loginCmd() *cobra.Command {
	o := &loginOptions{}
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Log in to a Gatehouse server and store the token for the other commands",
		Long: `Log in with a username and password and store the access token in
<user config dir>/gatehouse/credentials.json (mode 0600), one per server.
The other client commands use it for the server of the last login, or for
--server / GATEHOUSE_SERVER when a login for that server is stored.
GATEHOUSE_TOKEN, when set, is used instead of any stored login. A login
stored for a loopback URL (http://127.0.0.1:8080) is also found under the
loopback's other names (http://localhost:8080, http://[::1]:8080); its
token still goes only to the URL it was stored for. "gatehouse whoami"
shows which login is used, "gatehouse logout" forgets it.

Without --username, the user of the stored login for that server logs in
again; when there is none, login asks for the username at the terminal.
The password is read without echo from the terminal, or as one line of
stdin with --password-stdin. It is never passed as a flag, where other
users could read it in the process list.`,
		Example: `  gatehouse login --server http://127.0.0.1:8080 --username admin
  gatehouse login --server http://127.0.0.1:8080   # asks for the username and the password
  printf '%s\n' "$ADMIN_PASSWORD" | gatehouse login --server https://gatehouse.example.com --username admin --password-stdin`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runLogin(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.server, "server", "", "URL of the Gatehouse server (env GATEHOUSE_SERVER; default: the server of the last login)")
	cmd.Flags().StringVar(&o.username, "username", "", "username (default: the user of the stored login for this server, else asked at the terminal)")
	cmd.Flags().BoolVar(&o.passwordStdin, "password-stdin", false, "read the password from the first line of stdin")
	return cmd
}

func (a *app) runLogin(ctx context.Context, o *loginOptions) error {
	path, err := credentialsPath(a.env)
	if err != nil {
		return err
	}
	creds, err := loadCredentials(path)
	if err != nil {
		return err
	}
	server := firstNonEmpty(o.server, a.env("GATEHOUSE_SERVER"), creds.Current)
	if server == "" {
		return usageError{fmt.Errorf("--server is required (env GATEHOUSE_SERVER): the URL of Gatehouse, e.g. http://127.0.0.1:8080")}
	}
	base, err := client.ParseServer(server)
	if err != nil {
		return usageError{fmt.Errorf("--server: %w", err)}
	}
	username := o.username
	if _, prev := creds.login(base); username == "" && prev != nil {
		username = prev.Username
	}
	if username == "" {
		if username, err = a.askUsername(base); err != nil {
			return err
		}
	}
	pw, err := a.readPassword(o.passwordStdin, fmt.Sprintf("Password for %s at %s: ", username, base))
	if err != nil {
		return err
	}
	if plainRemote(base) {
		fmt.Fprintf(a.stderr, "Warning: %s is plain HTTP to another host; the password and token cross the network unencrypted.\n", base)
	}
	c, err := client.New(base, "", nil)
	if err != nil {
		return err
	}
	tok, err := c.Login(ctx, username, string(pw))
	if err != nil {
		return err
	}
	l := newStoredLogin(username, tok)
	creds.Current = base
	creds.Logins[base] = l
	// One login per server: the one just made replaces any stored under
	// another loopback name of it, which would otherwise be found first
	// when that name is typed.
	for _, alias := range loopbackAliases(base) {
		delete(creds.Logins, alias)
	}
	if err := creds.save(path); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "Logged in to %s as %s. The token expires at %s and is stored in %s.\n",
		base, username, timestamp(l.ExpiresAt), path)
	return nil
}

// newStoredLogin is the login to store for a token just issued.
func newStoredLogin(username string, tok client.Token) *storedLogin {
	expires := time.Now().Add(time.Duration(tok.ExpiresIn) * time.Second).UTC().Truncate(time.Second)
	return &storedLogin{Username: username, Token: admin.Secret(tok.AccessToken), ExpiresAt: expires}
}

// askUsername asks for the username at the terminal, for login without
// --username and without a stored login to take it from.
func (a *app) askUsername(base string) (string, error) {
	if a.prompt == nil {
		return "", usageError{errors.New("--username is required (stdin is not a terminal to ask for it)")}
	}
	name, err := a.prompt.Line(fmt.Sprintf("Username for %s: ", base))
	if err != nil {
		return "", fmt.Errorf("reading the username: %w", err)
	}
	if name = strings.TrimSpace(name); name == "" {
		return "", errors.New("no username given")
	}
	return name, nil
}

// plainRemote reports whether base is http:// to a host other than the
// loopback interface.
func plainRemote(base string) bool {
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "http" {
		return false
	}
	host := u.Hostname()
	if host == "localhost" {
		return false
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsLoopback()
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
