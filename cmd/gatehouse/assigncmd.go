package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
)

// subject is who a role assignment is for: a user or a service account.
// Both are subjects of one namespace, so an assignment to either is the
// same request; the flags only say which the operator means.
type subject struct {
	user, serviceAccount string
}

func (s *subject) addFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&s.user, "user", "", "username or id")
	cmd.Flags().StringVar(&s.serviceAccount, "service-account", "", "service account name or id")
}

// name checks that exactly one of --user and --service-account is given
// and returns it with what it names, for messages.
func (s *subject) name() (name, kind string, err error) {
	name, kind, err = s.optional()
	if err == nil && name == "" {
		err = usageError{errors.New("give --user USERNAME or --service-account NAME")}
	}
	return name, kind, err
}

// optional is name for a filter: neither flag is fine ("" names nobody),
// both are not.
func (s *subject) optional() (name, kind string, err error) {
	switch {
	case s.user != "" && s.serviceAccount != "":
		return "", "", usageError{errors.New("give --user or --service-account, not both")}
	case s.user != "":
		return s.user, "user", nil
	case s.serviceAccount != "":
		return s.serviceAccount, "service account", nil
	}
	return "", "", nil
}

func (a *app) roleAssignCmd(o *clientOptions) *cobra.Command {
	var who subject
	cmd := &cobra.Command{
		Use:   "assign ROLE (--user USERNAME | --service-account NAME)",
		Short: "Give a user or a service account a role",
		Long: `Give a user or a service account a role. Their existing tokens and API keys
carry the new permissions from their next request; no new login is needed.
A key narrowed to some roles (api-key create --role) keeps its narrowing.`,
		Example: "  gatehouse role assign releaser --user alice\n  gatehouse role assign releaser --service-account ci-bot",
		Args:    exactArgs("ROLE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, kind, err := who.name()
			if err != nil {
				return err
			}
			c, err := a.connect(o)
			if err != nil {
				return err
			}
			res, err := c.Assign(cmd.Context(), name, args[0])
			if err != nil {
				return o.apiError(err)
			}
			if o.output != "table" {
				return printAs(a.stdout, o.output, res.Body)
			}
			fmt.Fprintf(a.stdout, "Assigned role %s to %s %s.\n", res.Value.Role, kind, res.Value.User)
			return nil
		},
	}
	who.addFlags(cmd)
	return cmd
}

func (a *app) roleRevokeCmd(o *clientOptions) *cobra.Command {
	var who subject
	cmd := &cobra.Command{
		Use:   "revoke ROLE (--user USERNAME | --service-account NAME)",
		Short: "Take a role from a user or a service account",
		Long: `Take a role from a user or a service account. Their existing tokens and API
keys lose its permissions on the next request. The last active admin keeps
the admin role.`,
		Example: "  gatehouse role revoke releaser --user alice\n  gatehouse role revoke releaser --service-account ci-bot",
		Args:    exactArgs("ROLE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, kind, err := who.name()
			if err != nil {
				return err
			}
			c, err := a.connect(o)
			if err != nil {
				return err
			}
			if err := c.Revoke(cmd.Context(), name, args[0]); err != nil {
				return o.apiError(err)
			}
			if o.output == "table" {
				fmt.Fprintf(a.stdout, "Revoked role %s from %s %s.\n", args[0], kind, name)
			}
			return nil
		},
	}
	who.addFlags(cmd)
	return cmd
}

func (a *app) roleAssignmentCmd(o *clientOptions) *cobra.Command {
	cmd := a.clientGroup("assignment", "List which users and service accounts hold which roles",
		"  gatehouse role assignment list --user alice", nil)
	var who subject
	var role string
	list := &cobra.Command{
		Use:     "list",
		Short:   "List role assignments, optionally of one user, service account or role",
		Example: "  gatehouse role assignment list\n  gatehouse role assignment list --user alice\n  gatehouse role assignment list --service-account ci-bot\n  gatehouse role assignment list --role admin -o json",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			user, _, err := who.optional()
			if err != nil {
				return err
			}
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
	list.Flags().StringVar(&who.user, "user", "", "only this user (name or id)")
	list.Flags().StringVar(&who.serviceAccount, "service-account", "", "only this service account (name or id)")
	list.Flags().StringVar(&role, "role", "", "only this role")
	cmd.AddCommand(list)
	return cmd
}
