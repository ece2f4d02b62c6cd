package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/admin"
	"github.com/gatehouse-dev/gatehouse/cmd/gatehouse/internal/client"
)

func (a *app) userCmd() *cobra.Command {
	o := &clientOptions{}
	cmd := a.clientGroup("user", "Create, list, describe, update, delete and invite users",
		"  gatehouse user list\n  gatehouse user create alice --role admin --email alice@example.com", o)
	cmd.AddCommand(a.userCreateCmd(o), a.userListCmd(o), a.userDescribeCmd(o),
		a.userUpdateCmd(o), a.userDeleteCmd(o), a.userInviteCmd(o))
	return cmd
}

func (a *app) userCreateCmd(o *clientOptions) *cobra.Command {
	var in client.CreateUser
	var roles []string
	var passwordStdin bool
	cmd := &cobra.Command{
		Use:   "create USERNAME",
		Short: "Create a user; without a password, print an invitation link",
		Long: `Create a user. Without --role the user gets the server's default role
(guest unless the server says otherwise); --role may be repeated.

With --password-stdin the user is active at once. Without it the user is
inactive and the command prints an invitation URL, shown only this once:
send it to the user, who opens it and chooses a password.`,
		Example: `  gatehouse user create alice --role admin --email alice@example.com --full-name "Alice Liddell"
  gatehouse user create bob
  printf '%s\n' "$PW" | gatehouse user create ci-bot --role guest --password-stdin`,
		Args: exactArgs("USERNAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.connect(o)
			if err != nil {
				return err
			}
			in.Username = args[0]
			if cmd.Flags().Changed("role") {
				in.Roles = &roles
			}
			if passwordStdin {
				pw, err := a.readPassword(true, "")
				if err != nil {
					return err
				}
				in.Password = string(pw)
			}
			res, err := c.CreateUser(cmd.Context(), in)
			if err != nil {
				return o.apiError(err)
			}
			if o.output != "table" {
				return printAs(a.stdout, o.output, res.Body)
			}
			u := res.Value
			state := "active"
			if !u.Active {
				state = "inactive until they sign up"
			}
			fmt.Fprintf(a.stdout, "Created user %s (%s) with roles: %s.\n", u.Username, state, orDash(strings.Join(u.Roles, ", ")))
			if u.InvitationURL != "" {
				fmt.Fprintf(a.stdout, "Send this invitation link to %s; it is shown only once and expires at %s:\n\n  %s\n",
					u.Username, timestamp(*u.InvitationExpiresAt), u.InvitationURL)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&roles, "role", nil, "role to grant; repeat for more (default: the server's default role)")
	f.StringVar(&in.Email, "email", "", "email address")
	f.StringVar(&in.FullName, "full-name", "", "full name")
	f.BoolVar(&passwordStdin, "password-stdin", false, "read the password from the first line of stdin; the user is active at once")
	f.BoolVar(&in.ReuseName, "reuse-name", false, "take a name another user gave up less than the server's --name-reservation ago, on purpose")
	return cmd
}

func (a *app) userListCmd(o *clientOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Short:   "List users",
		Example: "  gatehouse user list\n  gatehouse user list -o json | jq -r '.items[].username'",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.connect(o)
			if err != nil {
				return err
			}
			res, err := c.ListUsers(cmd.Context())
			if err != nil {
				return o.apiError(err)
			}
			if o.output != "table" {
				return printAs(a.stdout, o.output, res.Body)
			}
			rows := make([][]string, len(res.Value))
			for i, u := range res.Value {
				rows[i] = []string{u.Username, orDash(u.FullName), orDash(u.Email), u.State, orDash(strings.Join(u.Roles, ",")), timestamp(u.CreatedAt)}
			}
			return table(a.stdout, "USERNAME\tFULL NAME\tEMAIL\tSTATE\tROLES\tCREATED", rows)
		},
	}
}

func (a *app) userDescribeCmd(o *clientOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "describe USERNAME",
		Short:   "Show one user (by name or id)",
		Example: "  gatehouse user describe alice\n  gatehouse user describe alice -o json",
		Args:    exactArgs("USERNAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.connect(o)
			if err != nil {
				return err
			}
			res, err := c.GetUser(cmd.Context(), args[0])
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

func (a *app) describeUser(u client.User) error {
	return table(a.stdout, "Username:\t"+u.Username, withWorkspaceRoles([][]string{
		{"ID:", u.ID},
		{"Full name:", orDash(u.FullName)},
		{"Email:", orDash(u.Email)},
		{"State:", describeState(u.State)},
		{"Roles:", orDash(strings.Join(u.Roles, ", "))},
		{"Created:", timestamp(u.CreatedAt)},
	}, u.WorkspaceRoles))
}

// withWorkspaceRoles adds, after the "Roles:" row of a description, a
// "Workspace roles:" row (ROLE@WORKSPACE, …) when there are any.
func withWorkspaceRoles(rows [][]string, rs []client.WorkspaceRole) [][]string {
	if len(rs) == 0 {
		return rows
	}
	for i, r := range rows {
		if r[0] == "Roles:" {
			return slices.Insert(rows, i+1, []string{"Workspace roles:", workspaceRoles(rs)})
		}
	}
	return append(rows, []string{"Workspace roles:", workspaceRoles(rs)})
}

// describeState says what a user's state means.
func describeState(state string) string {
	switch state {
	case admin.StateInvited:
		return "invited (has not signed up yet; cannot log in)"
	case admin.StateDeactivated:
		return "deactivated (cannot log in or sign up; user update --active=true reactivates)"
	}
	return state
}

func (a *app) userUpdateCmd(o *clientOptions) *cobra.Command {
	var username, email, fullName string
	var active, reuseName bool
	cmd := &cobra.Command{
		Use:   "update USERNAME",
		Short: "Change a user's name, email, full name or active state",
		Long: `Change a user. Only the flags given change. --active=false deactivates the
user, ends every token they hold at once and voids a pending invitation, so a
user who has not signed up cannot sign up either; --active=true reactivates
(old tokens stay void; a user who never signed up is invited again and needs
"gatehouse user invite"). Roles change with "gatehouse role assign/revoke".`,
		Example: `  gatehouse user update alice --email alice@example.org --full-name "Alice L."
  gatehouse user update alice --username alice.l
  gatehouse user update bob --active=false`,
		Args: exactArgs("USERNAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var in client.UpdateUser
			f := cmd.Flags()
			if f.Changed("username") {
				in.Username = &username
			}
			if f.Changed("email") {
				in.Email = &email
			}
			if f.Changed("full-name") {
				in.FullName = &fullName
			}
			if f.Changed("active") {
				in.Active = &active
			}
			if in == (client.UpdateUser{}) {
				return usageError{errors.New("nothing to change: give at least one of --username, --email, --full-name, --active")}
			}
			in.ReuseName = reuseName
			c, err := a.connect(o)
			if err != nil {
				return err
			}
			res, err := c.UpdateUser(cmd.Context(), args[0], in)
			if client.IsCode(err, "forbidden") && in.Username == nil && in.Active == nil {
				// Most often a user changing their own name or email.
				return fmt.Errorf("%w; your own full name and email change with gatehouse me update", err)
			}
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
	f.StringVar(&username, "username", "", "new username")
	f.StringVar(&email, "email", "", `new email address ("" clears it)`)
	f.StringVar(&fullName, "full-name", "", `new full name ("" clears it)`)
	f.BoolVar(&active, "active", true, "--active=false deactivates the user, --active=true reactivates")
	f.BoolVar(&reuseName, "reuse-name", false, "with --username: take a name another user gave up less than the server's --name-reservation ago, on purpose")
	return cmd
}

func (a *app) userDeleteCmd(o *clientOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "delete USERNAME",
		Short:   "Delete a user and their role assignments; their tokens stop working at once",
		Example: "  gatehouse user delete bob",
		Args:    exactArgs("USERNAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.connect(o)
			if err != nil {
				return err
			}
			if err := c.DeleteUser(cmd.Context(), args[0]); err != nil {
				return o.apiError(err)
			}
			if o.output == "table" {
				fmt.Fprintf(a.stdout, "Deleted user %s.\n", args[0])
			}
			return nil
		},
	}
}

func (a *app) userInviteCmd(o *clientOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "invite USERNAME",
		Short: "Print a new invitation link for a user; earlier links stop working",
		Long: `Issue a new invitation link for a user, for example when the first one
expired or was lost. Earlier links of that user stop working. Opening the
link lets the user choose a (new) password.`,
		Example: "  gatehouse user invite bob\n  gatehouse user invite bob -o json | jq -r .invitation_url",
		Args:    exactArgs("USERNAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.connect(o)
			if err != nil {
				return err
			}
			res, err := c.Invite(cmd.Context(), args[0])
			if err != nil {
				return o.apiError(err)
			}
			if o.output != "table" {
				return printAs(a.stdout, o.output, res.Body)
			}
			fmt.Fprintf(a.stdout, "Send this invitation link to %s; it is shown only once and expires at %s:\n\n  %s\n",
				args[0], timestamp(res.Value.ExpiresAt), res.Value.URL)
			return nil
		},
	}
}
