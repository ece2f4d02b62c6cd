package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gatehouse-dev/gatehouse/cmd/gatehouse/internal/client"
)

// clientOptions are the flags every client command shares: which server,
// and how to print.
type clientOptions struct {
	server string
	output string
	// relogin, set by connect, tells the user what to do when the server
	// refuses the token.
	relogin string
	// stored, set by connect, is the stored login whose token it sends;
	// nil when the token is GATEHOUSE_TOKEN.
	stored *storedRef
}

// storedRef is a stored login and where it is stored.
type storedRef struct {
	file   string // the credentials file
	server string // the server it is stored for, which gets its token
	login  *storedLogin
}

func (o *clientOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.server, "server", "", "URL of the Gatehouse server (env GATEHOUSE_SERVER; default: the server of the last login)")
	fs.StringVarP(&o.output, "output", "o", "table", `output format: "table", "json" (the API's JSON, for scripts) or "yaml" (the same, as YAML)`)
}

// clientGroup returns a command that only holds subcommands. Run without
// one, or with an unknown one, it is a usage error (exit 2), not help with
// exit 0, so that a typo in a script fails.
func (a *app) clientGroup(use, short, example string, o *clientOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:     use,
		Short:   short,
		Example: example,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return unknownCommand(cmd, args[0])
			}
			return usageError{fmt.Errorf("%q needs a command", cmd.CommandPath())}
		},
	}
	if o != nil {
		o.addFlags(cmd.PersistentFlags())
	}
	return cmd
}

// connect returns a client of the chosen server with the chosen token.
// The server is --server, else GATEHOUSE_SERVER, else the server of the
// last login; the token is GATEHOUSE_TOKEN, else the stored login for that
// server. A stored token is only ever sent to the server it came from.
func (a *app) connect(o *clientOptions) (*client.Client, error) {
	if err := checkOutput(o.output, "table", "json", "yaml"); err != nil {
		return nil, err
	}
	server, source := o.server, "--server"
	if server == "" {
		server, source = a.env("GATEHOUSE_SERVER"), "GATEHOUSE_SERVER"
	}
	if tok := a.env("GATEHOUSE_TOKEN"); tok != "" {
		// Never pair this token with the stored server: it may belong to
		// another deployment.
		if server == "" {
			return nil, usageError{errors.New("GATEHOUSE_TOKEN is set but no server is: pass --server or set GATEHOUSE_SERVER")}
		}
		o.relogin = "GATEHOUSE_TOKEN was refused; set a fresh token or unset it to use the stored login"
		return a.newClient(server, source, tok)
	}
	path, err := credentialsPath(a.env)
	if err != nil {
		return nil, err
	}
	creds, err := loadCredentials(path)
	if err != nil {
		return nil, err
	}
	if server == "" {
		if creds.Current == "" {
			return nil, usageError{errors.New("no server: log in first (gatehouse login --server URL --username NAME), or pass --server and set GATEHOUSE_TOKEN")}
		}
		server, source = creds.Current, path
	}
	base, err := client.ParseServer(server)
	if err != nil {
		return nil, usageError{fmt.Errorf("%s: %w", source, err)}
	}
	stored, l := creds.login(base)
	if l == nil {
		return nil, fmt.Errorf("not logged in to %s: run gatehouse login --server %s --username NAME, or set GATEHOUSE_TOKEN", base, base)
	}
	base = stored // the token goes only where it came from
	if !l.ExpiresAt.IsZero() && time.Now().After(l.ExpiresAt) {
		return nil, fmt.Errorf("your login to %s as %s expired at %s: run gatehouse login --server %s --username %s",
			base, l.Username, l.ExpiresAt.UTC().Format(time.RFC3339), base, l.Username)
	}
	o.relogin = fmt.Sprintf("log in again: gatehouse login --server %s --username %s", base, l.Username)
	o.stored = &storedRef{file: path, server: base, login: l}
	return a.newClient(base, source, string(l.Token))
}

func (a *app) newClient(server, source, token string) (*client.Client, error) {
	c, err := client.New(server, token, nil)
	if err != nil {
		return nil, usageError{fmt.Errorf("%s: %w", source, err)}
	}
	return c, nil
}

// apiError adds a hint to the errors a user can act on.
func (o *clientOptions) apiError(err error) error {
	if client.IsCode(err, "unauthenticated") && o.relogin != "" {
		return fmt.Errorf("%w (%s)", err, o.relogin)
	}
	return err
}

// table writes rows as aligned columns, under header unless it is "";
// every cell goes through termSafe (a tab in a value would also break the
// columns).
func table(w io.Writer, header string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	if header != "" {
		fmt.Fprintln(tw, header)
	}
	for _, r := range rows {
		cells := make([]string, len(r))
		for i, c := range r {
			cells[i] = termSafe(c)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

// orStar shows a workspace, "*" (every workspace) for "".
func orStar(ws string) string {
	if ws == "" {
		return "*"
	}
	return ws
}

// workspaceRoles shows workspace roles as ROLE@WORKSPACE, comma-separated.
func workspaceRoles(rs []client.WorkspaceRole) string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Role + "@" + r.Workspace
	}
	return strings.Join(out, ", ")
}

// orDash shows an empty value as "-".
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func timestamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// show is the body of a client command that prints one API answer: it
// connects, calls the API, names the flag behind a refused field (fields:
// flagNamed), and prints the answer as the server sent it with -o json or
// yaml, or with table.
func show[T any](a *app, o *clientOptions, fields map[string]string, call func(*client.Client) (client.Result[T], error), table func(T) error) error {
	c, err := a.connect(o)
	if err != nil {
		return err
	}
	res, err := call(c)
	if err != nil {
		return o.apiError(flagNamed(err, fields))
	}
	if o.output != "table" {
		return printAs(a.stdout, o.output, res.Body)
	}
	return table(res.Value)
}

// remove is the body of a client command that deletes something: it
// connects, calls the API and says what it did (nothing with -o json or
// yaml, whose readers read the exit code).
func (a *app) remove(o *clientOptions, call func(*client.Client) error, done string) error {
	c, err := a.connect(o)
	if err != nil {
		return err
	}
	if err := call(c); err != nil {
		return o.apiError(err)
	}
	if o.output == "table" {
		fmt.Fprintln(a.stdout, done)
	}
	return nil
}

// flagNamed rewrites an API error about a body field ("expires_in: …") to
// name the command-line flag that set it ("--expires-in: …"), so the
// message speaks of what the user typed.
func flagNamed(err error, flags map[string]string) error {
	var e *client.Error
	if !errors.As(err, &e) {
		return err
	}
	for field, flag := range flags {
		if rest, ok := strings.CutPrefix(e.Message, field+": "); ok {
			named := *e
			named.Message = flag + ": " + rest
			return &named
		}
	}
	return err
}
