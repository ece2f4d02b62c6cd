package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/admin"
	"github.com/gatehouse-dev/gatehouse/cmd/gatehouse/internal/client"
)

// renameYourself is why me update has no --username.
const renameYourself = "--username: renaming yourself needs the write permission, because your username is the identity the upstream sees; an admin renames users with gatehouse user update OLD --username NEW"

func (a *app) meCmd() *cobra.Command {
	o := &clientOptions{}
	cmd := a.clientGroup("me", "Show and change your own user: name, email, password (the me permission)",
		"  gatehouse me describe\n  gatehouse me update --full-name \"Bob Builder\"\n  gatehouse me password", o)
	cmd.Long = `Your own user, over /gatehouse/v1/me: every role with the me permission
(admin and guest among the built-in ones) may read it, change its full name
and email, and change its password. Renaming yourself needs write.`
	cmd.AddCommand(a.meDescribeCmd(o), a.meUpdateCmd(o), a.mePasswordCmd(o))
	return cmd
}

func (a *app) meDescribeCmd(o *clientOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "describe",
		Short:   "Show your own user",
		Example: "  gatehouse me describe\n  gatehouse me describe -o json | jq -r .email",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.connect(o)
			if err != nil {
				return err
			}
			res, err := c.Me(cmd.Context())
			if err != nil {
				return o.apiError(err)
			}
			if o.output != "table" {
				return printAs(a.stdout, o.output, res.Body)
			}
			return a.describeUser(res.Value)
		},
	}
}

func (a *app) meUpdateCmd(o *clientOptions) *cobra.Command {
	var email, fullName, username string
	cmd := &cobra.Command{
		Use:   "update [--full-name NAME] [--email EMAIL]",
		Short: "Change your own full name or email",
		Long: `Change your own full name or email; only the flags given change, and ""
clears a value. An email you set is unverified until an admin verifies it.
Renaming yourself needs the write permission (your username is the
identity the upstream sees): an admin does it with
"gatehouse user update OLD --username NEW". The password changes with
"gatehouse me password".`,
		Example: `  gatehouse me update --full-name "Bob Builder" --email bob@example.com
  gatehouse me update --email ""`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var in client.UpdateMe
			f := cmd.Flags()
			if f.Changed("username") {
				return usageError{errors.New(renameYourself)}
			}
			if f.Changed("email") {
				in.Email = &email
			}
			if f.Changed("full-name") {
				in.FullName = &fullName
			}
			if in == (client.UpdateMe{}) {
				return usageError{errors.New("nothing to change: give --full-name or --email")}
			}
			c, err := a.connect(o)
			if err != nil {
				return err
			}
			res, err := c.UpdateMe(cmd.Context(), in)
			if err != nil {
				return o.apiError(err)
			}
			if o.output != "table" {
				return printAs(a.stdout, o.output, res.Body)
			}
			return a.describeUser(res.Value)
		},
	}
	f := cmd.Flags()
	f.StringVar(&fullName, "full-name", "", `your new full name ("" clears it)`)
	f.StringVar(&email, "email", "", `your new email address ("" clears it)`)
	// --username is refused with the reason, not as an unknown flag.
	f.StringVar(&username, "username", "", "")
	_ = f.MarkHidden("username")
	return cmd
}

func (a *app) mePasswordCmd(o *clientOptions) *cobra.Command {
	var passwordStdin bool
	cmd := &cobra.Command{
		Use:   "password",
		Short: "Change your own password; every earlier token of yours stops working",
		Long: `Change your own password. It asks for the current password and the new
one (twice) at the terminal, without echo; with --password-stdin it reads
the current password from the first line of stdin and the new one from the
second. Passwords are never flags, which others could read in the process
list.

Every token issued to you before stops working at once, on every machine.
When the command used a stored login, it logs in again with the new
password and stores the new token, so the next command works; a
GATEHOUSE_TOKEN has to be replaced by hand.`,
		Example: `  gatehouse me password
  printf '%s\n%s\n' "$OLD_PASSWORD" "$NEW_PASSWORD" | gatehouse me password --password-stdin`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.connect(o)
			if err != nil {
				return err
			}
			current, next, err := a.readPasswordChange(passwordStdin, o)
			if err != nil {
				return err
			}
			cur, nxt := string(current), string(next)
			res, err := c.UpdateMe(cmd.Context(), client.UpdateMe{CurrentPassword: &cur, Password: &nxt})
			if err != nil {
				return o.apiError(passwordFields(err))
			}
			relogin := a.renewLogin(cmd.Context(), o, res.Value.Username, next)
			if o.output != "table" {
				if err := printAs(a.stdout, o.output, res.Body); err != nil {
					return err
				}
				return relogin
			}
			fmt.Fprintf(a.stdout, "Changed the password of %s. Every earlier token of %s has stopped working.\n", res.Value.Username, res.Value.Username)
			if relogin != nil {
				return relogin
			}
			if o.stored == nil {
				fmt.Fprintln(a.stdout, "GATEHOUSE_TOKEN has stopped working too: get a new token with the new password.")
				return nil
			}
			fmt.Fprintf(a.stdout, "Logged in to %s again; the new token is stored in %s and expires at %s.\n",
				o.stored.server, o.stored.file, timestamp(o.stored.login.ExpiresAt))
			return nil
		},
	}
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the current password from the first line of stdin and the new one from the second")
	return cmd
}

// readPasswordChange reads the current and the new password: two lines of
// stdin, or prompts without echo, the new password typed twice.
func (a *app) readPasswordChange(fromStdin bool, o *clientOptions) (current, next admin.Secret, err error) {
	if fromStdin {
		lines, err := a.stdinLines(2)
		if err != nil {
			return "", "", err
		}
		switch {
		case lines[0] == "":
			return "", "", usageError{errors.New("--password-stdin: stdin holds no current password (line 1: the current password, line 2: the new one)")}
		case lines[1] == "":
			return "", "", usageError{errors.New("--password-stdin: stdin holds no new password (line 1: the current password, line 2: the new one)")}
		}
		return admin.Secret(lines[0]), admin.Secret(lines[1]), nil
	}
	who := "your current password"
	if o.stored != nil {
		who = fmt.Sprintf("the current password of %s at %s", o.stored.login.Username, o.stored.server)
	}
	if current, err = a.askSecret(strings.ToUpper(who[:1])+who[1:]+": ", "the current password"); err != nil {
		return "", "", err
	}
	if next, err = a.askSecret("New password: ", "the new password"); err != nil {
		return "", "", err
	}
	again, err := a.askSecret("New password again: ", "the new password")
	if err != nil {
		return "", "", err
	}
	if again != next {
		return "", "", errors.New("the new passwords typed differ; nothing changed")
	}
	return current, next, nil
}

// passwordFields names the API's password fields as the command asks for
// them: "password" is the new password.
func passwordFields(err error) error {
	var e *client.Error
	if !errors.As(err, &e) || e.Code != "invalid_field" {
		return err
	}
	msg := e.Message
	if rest, ok := strings.CutPrefix(msg, "current_password: "); ok {
		msg = "current password: " + rest
	} else if rest, ok := strings.CutPrefix(msg, "password: "); ok {
		msg = "new password: " + rest
	}
	return &client.Error{Status: e.Status, Code: e.Code, Message: msg}
}

// renewLogin logs in again with the new password after a password change
// voided the stored login's token, and stores the new token; nothing to do
// for GATEHOUSE_TOKEN. The error says that the password did change.
func (a *app) renewLogin(ctx context.Context, o *clientOptions, username string, password admin.Secret) error {
	if o.stored == nil {
		return nil
	}
	fail := func(err error) error {
		return fmt.Errorf("the password was changed, but logging in again failed (%w): run gatehouse login --server %s --username %s", err, o.stored.server, username)
	}
	c, err := client.New(o.stored.server, "", nil)
	if err != nil {
		return fail(err)
	}
	tok, err := c.Login(ctx, username, string(password))
	if err != nil {
		return fail(err)
	}
	// Read the file again: only this server's login changes.
	creds, err := loadCredentials(o.stored.file)
	if err != nil {
		return fail(err)
	}
	l := newStoredLogin(username, tok)
	creds.Logins[o.stored.server] = l
	if err := creds.save(o.stored.file); err != nil {
		return fail(err)
	}
	o.stored.login = l
	return nil
}
