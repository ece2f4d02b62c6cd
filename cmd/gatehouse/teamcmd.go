package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/cmd/gatehouse/internal/client"
)

// teamFlags names the flag for each field of the team API.
var teamFlags = map[string]string{"users": "--user", "add_users": "--add-user", "remove_users": "--remove-user"}

func (a *app) teamCmd() *cobra.Command {
	o := &clientOptions{}
	cmd := a.clientGroup("team", "Create, list, describe, update and delete teams of users",
		"  gatehouse team create ml-platform --user alice --user bob\n  gatehouse role assign releaser --team ml-platform", o)
	cmd.Long = `A team is a named group of users that holds roles (gatehouse role assign
ROLE --team TEAM). Its members hold the team's roles from their next request
on, with the tokens they have, and lose them on the next request after they
leave the team or the role is revoked from it. In policy files a team is
the subject team:NAME: "g, user:alice, team:ml-platform" and
"g, team:ml-platform, releaser".`
	cmd.AddCommand(a.teamCreateCmd(o), a.teamListCmd(o), a.teamDescribeCmd(o), a.teamUpdateCmd(o), a.teamDeleteCmd(o))
	return cmd
}

func (a *app) teamCreateCmd(o *clientOptions) *cobra.Command {
	var users []string
	cmd := &cobra.Command{
		Use:   "create TEAM",
		Short: "Create a team, optionally with members",
		Long: `Create a team. --user names a member (username or id); repeat it for more.
A team's name may not be the name of a user, role or permission.`,
		Example: "  gatehouse team create ml-platform --user alice --user bob\n  gatehouse team create reviewers",
		Args:    exactArgs("TEAM"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return show(a, o, teamFlags, func(c *client.Client) (client.Result[client.Team], error) {
				return c.CreateTeam(cmd.Context(), args[0], users)
			}, func(t client.Team) error {
				_, err := fmt.Fprintf(a.stdout, "Created team %s with members: %s.\n", t.Name, orDash(strings.Join(t.Users, ", ")))
				return err
			})
		},
	}
	cmd.Flags().StringArrayVar(&users, "user", nil, "member (username or id); repeat for more")
	return cmd
}

func (a *app) teamListCmd(o *clientOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Short:   "List teams, their members and roles",
		Example: "  gatehouse team list\n  gatehouse team list -o json | jq -r '.items[].name'",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return show(a, o, nil, func(c *client.Client) (client.Result[[]client.Team], error) {
				return c.ListTeams(cmd.Context())
			}, func(teams []client.Team) error {
				rows := make([][]string, len(teams))
				for i, t := range teams {
					rows[i] = []string{t.Name, orDash(strings.Join(t.Users, ",")), orDash(strings.Join(t.Roles, ",")), timestamp(t.CreatedAt)}
				}
				return table(a.stdout, "TEAM\tMEMBERS\tROLES\tCREATED", rows)
			})
		},
	}
}

func (a *app) teamDescribeCmd(o *clientOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "describe TEAM",
		Short:   "Show one team, its members and roles",
		Example: "  gatehouse team describe ml-platform\n  gatehouse team describe ml-platform -o json",
		Args:    exactArgs("TEAM"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return show(a, o, nil, func(c *client.Client) (client.Result[client.Team], error) {
				return c.GetTeam(cmd.Context(), args[0])
			}, a.describeTeam)
		},
	}
}

func (a *app) describeTeam(t client.Team) error {
	return table(a.stdout, "Name:\t"+t.Name, withWorkspaceRoles([][]string{
		{"ID:", t.ID},
		{"Members:", orDash(strings.Join(t.Users, ", "))},
		{"Roles:", orDash(strings.Join(t.Roles, ", "))},
		{"Created:", timestamp(t.CreatedAt)},
		{"Updated:", timestamp(t.UpdatedAt)},
	}, t.WorkspaceRoles))
}

func (a *app) teamUpdateCmd(o *clientOptions) *cobra.Command {
	var add, remove []string
	cmd := &cobra.Command{
		Use:   "update TEAM",
		Short: "Add members to a team or remove them",
		Long: `Add members to a team or remove them, in one change. A new member holds
the team's roles from their next request, with the tokens they have; a member
who leaves loses them on their next request. The last active admin cannot
lose admin by leaving a team.`,
		Example: "  gatehouse team update ml-platform --add-user carol\n  gatehouse team update ml-platform --add-user dave --remove-user bob",
		Args:    exactArgs("TEAM"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(add) == 0 && len(remove) == 0 {
				return usageError{errors.New("nothing to change: give --add-user or --remove-user")}
			}
			for _, u := range add {
				if slices.Contains(remove, u) {
					return usageError{fmt.Errorf("user %q is both added and removed", u)}
				}
			}
			return show(a, o, teamFlags, func(c *client.Client) (client.Result[client.Team], error) {
				return c.ChangeTeamUsers(cmd.Context(), args[0], add, remove)
			}, a.describeTeam)
		},
	}
	cmd.Flags().StringArrayVar(&add, "add-user", nil, "member to add (username or id); repeat for more")
	cmd.Flags().StringArrayVar(&remove, "remove-user", nil, "member to remove (username or id); repeat for more")
	return cmd
}

func (a *app) teamDeleteCmd(o *clientOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "delete TEAM",
		Short:   "Delete a team and its role assignments; its members lose its roles on their next request",
		Example: "  gatehouse team delete ml-platform",
		Args:    exactArgs("TEAM"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.remove(o, func(c *client.Client) error { return c.DeleteTeam(cmd.Context(), args[0]) },
				fmt.Sprintf("Deleted team %s.", args[0]))
		},
	}
}
