package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/cmd/gatehouse/internal/client"
)

func (a *app) permissionCmd() *cobra.Command {
	o := &clientOptions{}
	cmd := a.clientGroup("permission", "List permissions and the paths and methods each opens",
		"  gatehouse permission list", o)
	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List permissions and the rules (path, methods) each opens",
		Long: `List every permission with the policy rules that make it: which paths and
methods it opens on the protected server. read, write and me are built in;
more come from policy files.`,
		Example: "  gatehouse permission list\n  gatehouse permission list -o json",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.connect(o)
			if err != nil {
				return err
			}
			res, err := c.ListPermissions(cmd.Context())
			if err != nil {
				return o.apiError(err)
			}
			if o.output != "table" {
				return printAs(a.stdout, o.output, res.Body)
			}
			var rows [][]string
			for _, p := range res.Value {
				if len(p.Rules) == 0 {
					rows = append(rows, []string{p.Name, "-", "-", p.Source})
				}
				for _, r := range p.Rules {
					rows = append(rows, []string{p.Name, r.Path, r.Methods, r.Source})
				}
			}
			return table(a.stdout, "PERMISSION\tPATH\tMETHODS\tSOURCE", rows)
		},
	})
	return cmd
}

func (a *app) roleCmd() *cobra.Command {
	o := &clientOptions{}
	cmd := a.clientGroup("role", "Create, list, update and delete roles; assign and revoke them",
		"  gatehouse role list\n  gatehouse role create releaser -p read -p write -p me\n  gatehouse role assign releaser --user alice", o)
	cmd.AddCommand(a.roleListCmd(o), a.roleCreateCmd(o), a.roleUpdateCmd(o), a.roleDeleteCmd(o),
		a.roleAssignCmd(o), a.roleRevokeCmd(o), a.roleAssignmentCmd(o))
	return cmd
}

func (a *app) roleListCmd(o *clientOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Short:   "List roles and their permissions",
		Example: "  gatehouse role list\n  gatehouse role list -o json",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.connect(o)
			if err != nil {
				return err
			}
			res, err := c.ListRoles(cmd.Context())
			if err != nil {
				return o.apiError(err)
			}
			if o.output != "table" {
				return printAs(a.stdout, o.output, res.Body)
			}
			rows := make([][]string, len(res.Value))
			for i, r := range res.Value {
				rows[i] = []string{r.Name, orDash(strings.Join(r.Permissions, ",")), yesNo(r.Builtin), r.Source}
			}
			return table(a.stdout, "ROLE\tPERMISSIONS\tBUILTIN\tSOURCE", rows)
		},
	}
}

// printRole prints a role after a change.
func (a *app) printRole(o *clientOptions, res client.Result[client.Role], verb string) error {
	if o.output != "table" {
		return printAs(a.stdout, o.output, res.Body)
	}
	fmt.Fprintf(a.stdout, "%s role %s with permissions: %s.\n", verb, res.Value.Name, orDash(strings.Join(res.Value.Permissions, ", ")))
	return nil
}

func (a *app) roleCreateCmd(o *clientOptions) *cobra.Command {
	var perms []string
	cmd := &cobra.Command{
		Use:   "create ROLE",
		Short: "Create a role with a set of permissions",
		Long: `Create a role. -p/--permission names a permission the role carries; repeat
it for more. "gatehouse permission list" shows what each one opens.`,
		Example: "  gatehouse role create releaser -p read -p write -p me\n  gatehouse role create viewer -p read",
		Args:    exactArgs("ROLE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.connect(o)
			if err != nil {
				return err
			}
			res, err := c.CreateRole(cmd.Context(), args[0], perms)
			if err != nil {
				return o.apiError(err)
			}
			return a.printRole(o, res, "Created")
		},
	}
	cmd.Flags().StringArrayVarP(&perms, "permission", "p", nil, "permission the role carries; repeat for more")
	return cmd
}

func (a *app) roleUpdateCmd(o *clientOptions) *cobra.Command {
	var add, remove []string
	cmd := &cobra.Command{
		Use:   "update ROLE",
		Short: "Add permissions to a role or remove them",
		Long: `Add permissions to a role or remove them. Holders of the role gain or lose
them on their next request. The built-in admin role keeps read, write and
me; roles from policy files are changed in those files.`,
		Example: "  gatehouse role update releaser --add-permission write\n  gatehouse role update releaser --remove-permission me --remove-permission write",
		Args:    exactArgs("ROLE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(add) == 0 && len(remove) == 0 {
				return usageError{errors.New("nothing to change: give --add-permission or --remove-permission")}
			}
			for _, p := range add {
				if slices.Contains(remove, p) {
					return usageError{fmt.Errorf("permission %q is both added and removed", p)}
				}
			}
			c, err := a.connect(o)
			if err != nil {
				return err
			}
			res, err := c.ChangeRolePermissions(cmd.Context(), args[0], add, remove)
			if err != nil {
				return o.apiError(err)
			}
			return a.printRole(o, res, "Updated")
		},
	}
	cmd.Flags().StringArrayVar(&add, "add-permission", nil, "permission to add; repeat for more")
	cmd.Flags().StringArrayVar(&remove, "remove-permission", nil, "permission to remove; repeat for more")
	return cmd
}

func (a *app) roleDeleteCmd(o *clientOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "delete ROLE",
		Short:   "Delete a role that nobody holds",
		Example: "  gatehouse role delete releaser",
		Args:    exactArgs("ROLE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.connect(o)
			if err != nil {
				return err
			}
			if err := c.DeleteRole(cmd.Context(), args[0]); err != nil {
				return o.apiError(err)
			}
			if o.output == "table" {
				fmt.Fprintf(a.stdout, "Deleted role %s.\n", args[0])
			}
			return nil
		},
	}
}
