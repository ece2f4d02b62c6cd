package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/cmd/gatehouse/internal/client"
)

// subject is who a role assignment is for: a user, a service account or a
// team. Users and service accounts are subjects of one namespace, so an
// assignment to either is the same request; the flags only say which the
// operator means. A team is its own subject (team:NAME in the policy),
// whose members reach its roles.
type subject struct {
	user, serviceAccount, team string
	workspace                  string // the workspace of a scoped role; "" for everywhere
}

// Subject kinds, as messages name them.
const (
	kindUser           = "user"
	kindServiceAccount = "service account"
	kindTeam           = "team"
)

func (s *subject) addFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&s.user, "user", "", "username or id")
	cmd.Flags().StringVar(&s.serviceAccount, "service-account", "", "service account name or id")
	cmd.Flags().StringVar(&s.team, "team", "", "team name")
	cmd.Flags().StringVar(&s.workspace, "workspace", "", "in this workspace only (the policy's {workspace} routes)")
}

// name checks that exactly one of --user, --service-account and --team is
// given and returns it with what it names, for messages.
func (s *subject) name() (name, kind string, err error) {
	var given []string
	for _, f := range []struct{ value, kind string }{{s.user, kindUser}, {s.serviceAccount, kindServiceAccount}, {s.team, kindTeam}} {
		if f.value != "" {
			name, kind = f.value, f.kind
			given = append(given, f.kind)
		}
	}
	switch len(given) {
	case 0:
		return "", "", usageError{errors.New("give --user USERNAME, --service-account NAME or --team TEAM")}
	case 1:
		return name, kind, nil
	}
	return "", "", usageError{errors.New("give one of --user, --service-account and --team, not several")}
}

// account is the user filter of a list: --user or --service-account, or
// neither ("" names nobody), not both.
func (s *subject) account() (string, error) {
	if s.user != "" && s.serviceAccount != "" {
		return "", usageError{errors.New("give --user or --service-account, not both")}
	}
	return s.user + s.serviceAccount, nil
}

func (a *app) roleAssignCmd(o *clientOptions) *cobra.Command {
	var who subject
	cmd := &cobra.Command{
		Use:   "assign ROLE (--user USERNAME | --service-account NAME | --team TEAM) [--workspace W]",
		Short: "Give a user, a service account or a team a role",
		Long: `Give a user, a service account or a team a role. Their existing tokens and
API keys carry the new permissions from their next request; no new login is
needed. A team's members hold the team's roles for as long as they are
members. A key narrowed to some roles (api-key create --role) keeps its
narrowing.

With --workspace W the role holds in workspace W only: on the routes whose
policy path binds a workspace ({workspace}) and whose segment there is W.
A role that opens no such route is still assigned, with a warning on
stderr, since it allows nothing. A workspace role never makes a Gatehouse
admin.`,
		Example: "  gatehouse role assign releaser --user alice\n  gatehouse role assign releaser --service-account ci-bot\n  gatehouse role assign releaser --team ml-platform\n" +
			"  gatehouse role assign guest --user ann --workspace ws-a",
		Args: exactArgs("ROLE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, kind, err := who.name()
			if err != nil {
				return err
			}
			c, err := a.connect(o)
			if err != nil {
				return err
			}
			var res client.Result[client.Assignment]
			if kind == kindTeam {
				res, err = c.AssignTeam(cmd.Context(), name, args[0], who.workspace)
			} else {
				res, err = c.Assign(cmd.Context(), name, args[0], who.workspace)
			}
			if err != nil {
				return o.apiError(err)
			}
			for _, w := range res.Value.Warnings {
				fmt.Fprintf(a.stderr, "warning: %s\n", w)
			}
			if o.output != "table" {
				return printAs(a.stdout, o.output, res.Body)
			}
			fmt.Fprintf(a.stdout, "Assigned role %s to %s %s%s.\n", res.Value.Role, kind, res.Value.User+res.Value.Team, inWorkspace(res.Value.Workspace))
			return nil
		},
	}
	who.addFlags(cmd)
	return cmd
}

func (a *app) roleRevokeCmd(o *clientOptions) *cobra.Command {
	var who subject
	cmd := &cobra.Command{
		Use:   "revoke ROLE (--user USERNAME | --service-account NAME | --team TEAM) [--workspace W]",
		Short: "Take a role from a user, a service account or a team",
		Long: `Take a role from a user, a service account or a team. Their existing tokens
and API keys (for a team: its members') lose its permissions on the next
request. The last active admin keeps the admin role. With --workspace W
it takes the role held in workspace W (a global one stays).`,
		Example: "  gatehouse role revoke releaser --user alice\n  gatehouse role revoke releaser --service-account ci-bot\n  gatehouse role revoke releaser --team ml-platform\n" +
			"  gatehouse role revoke guest --user ann --workspace ws-a",
		Args: exactArgs("ROLE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, kind, err := who.name()
			if err != nil {
				return err
			}
			c, err := a.connect(o)
			if err != nil {
				return err
			}
			if kind == kindTeam {
				err = c.RevokeTeam(cmd.Context(), name, args[0], who.workspace)
			} else {
				err = c.Revoke(cmd.Context(), name, args[0], who.workspace)
			}
			if err != nil {
				return o.apiError(err)
			}
			if o.output == "table" {
				fmt.Fprintf(a.stdout, "Revoked role %s from %s %s%s.\n", args[0], kind, name, inWorkspace(who.workspace))
			}
			return nil
		},
	}
	who.addFlags(cmd)
	return cmd
}

func (a *app) roleAssignmentCmd(o *clientOptions) *cobra.Command {
	cmd := a.clientGroup("assignment", "List which users, service accounts and teams hold which roles",
		"  gatehouse role assignment list --user alice", nil)
	var who subject
	var role string
	list := &cobra.Command{
		Use:   "list",
		Short: "List role assignments, optionally of one user, service account, team or role",
		Long: `List role assignments: the roles users and service accounts hold themselves
(USER set) and the roles teams hold (TEAM set). A member of a team also
holds the team's roles; "gatehouse team describe TEAM" lists its members.
WORKSPACE is the workspace a scoped role holds in, "*" for a global role;
--workspace W lists the roles held in W only.`,
		Example: "  gatehouse role assignment list\n  gatehouse role assignment list --user alice\n  gatehouse role assignment list --service-account ci-bot\n" +
			"  gatehouse role assignment list --team ml-platform\n  gatehouse role assignment list --workspace ws-a\n  gatehouse role assignment list --role admin -o json",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			user, err := who.account()
			if err != nil {
				return err
			}
			return show(a, o, nil, func(c *client.Client) (client.Result[[]client.Assignment], error) {
				return c.ListAssignments(cmd.Context(), client.AssignmentFilter{User: user, Team: who.team, Role: role, Workspace: who.workspace})
			}, func(as []client.Assignment) error {
				rows := make([][]string, len(as))
				for i, as := range as {
					rows[i] = []string{orDash(as.User), orDash(as.Team), as.Role, orStar(as.Workspace), as.Source}
				}
				return table(a.stdout, "USER\tTEAM\tROLE\tWORKSPACE\tSOURCE", rows)
			})
		},
	}
	list.Flags().StringVar(&who.user, "user", "", "only this user (name or id)")
	list.Flags().StringVar(&who.serviceAccount, "service-account", "", "only this service account (name or id)")
	list.Flags().StringVar(&who.team, "team", "", "only this team")
	list.Flags().StringVar(&role, "role", "", "only this role")
	list.Flags().StringVar(&who.workspace, "workspace", "", "only the roles held in this workspace")
	cmd.AddCommand(list)
	return cmd
}

// inWorkspace is the end of a sentence about a role held in workspace
// ("" for everywhere).
func inWorkspace(workspace string) string {
	if workspace == "" {
		return ""
	}
	return " in workspace " + workspace
}
