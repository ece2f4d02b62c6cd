package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func (a *app) roleAssignCmd(o *clientOptions) *cobra.Command {
	var user string
	cmd := &cobra.Command{
		Use:   "assign ROLE --user USERNAME",
		Short: "Give a user a role",
		Long: `Give a user a role. The user's existing tokens carry the new permissions
from their next request; no new login is needed.`,
		Example: "  gatehouse role assign releaser --user alice",
		Args:    exactArgs("ROLE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.connect(o)
			if err != nil {
				return err
			}
			res, err := c.Assign(cmd.Context(), user, args[0])
			if err != nil {
				return o.apiError(err)
			}
			if o.output != "table" {
				return printAs(a.stdout, o.output, res.Body)
			}
			fmt.Fprintf(a.stdout, "Assigned role %s to user %s.\n", res.Value.Role, res.Value.User)
			return nil
		},
	}
	cmd.Flags().StringVar(&user, "user", "", "username or id (required)")
	_ = cmd.MarkFlagRequired("user")
	return cmd
}

func (a *app) roleRevokeCmd(o *clientOptions) *cobra.Command {
	var user string
	cmd := &cobra.Command{
		Use:   "revoke ROLE --user USERNAME",
		Short: "Take a role from a user",
		Long: `Take a role from a user. Their existing tokens lose its permissions on the
next request. The last active admin keeps the admin role.`,
		Example: "  gatehouse role revoke releaser --user alice",
		Args:    exactArgs("ROLE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.connect(o)
			if err != nil {
				return err
			}
			if err := c.Revoke(cmd.Context(), user, args[0]); err != nil {
				return o.apiError(err)
			}
			if o.output == "table" {
				fmt.Fprintf(a.stdout, "Revoked role %s from user %s.\n", args[0], user)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&user, "user", "", "username or id (required)")
	_ = cmd.MarkFlagRequired("user")
	return cmd
}

func (a *app) roleAssignmentCmd(o *clientOptions) *cobra.Command {
	cmd := a.clientGroup("assignment", "List which users hold which roles",
		"  gatehouse role assignment list --user alice", nil)
	var user, role string
	list := &cobra.Command{
		Use:     "list",
		Short:   "List role assignments, optionally of one user or one role",
		Example: "  gatehouse role assignment list\n  gatehouse role assignment list --user alice\n  gatehouse role assignment list --role admin -o json",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.connect(o)
			if err != nil {
				return err
			}
			res, err := c.ListAssignments(cmd.Context(), user, role)
			if err != nil {
				return o.apiError(err)
			}
			if o.output != "table" {
				return printAs(a.stdout, o.output, res.Body)
			}
			rows := make([][]string, len(res.Value))
			for i, as := range res.Value {
				rows[i] = []string{as.User, as.Role, as.Source}
			}
			return table(a.stdout, "USER\tROLE\tSOURCE", rows)
		},
	}
	list.Flags().StringVar(&user, "user", "", "only this user (name or id)")
	list.Flags().StringVar(&role, "role", "", "only this role")
	cmd.AddCommand(list)
	return cmd
}
