package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/cmd/gatehouse/internal/client"
)

func (a *app) serviceAccountCmd() *cobra.Command {
	o := &clientOptions{}
	cmd := a.clientGroup("service-account", "Create, list, describe, update and delete service accounts and their API keys",
		"  gatehouse service-account create ci-bot --role admin --description \"CI pipelines\"\n"+
			"  KEY=$(gatehouse service-account api-key create ci-bot deploy --expires-in 90d)", o)
	cmd.Long = `A service account is a machine identity for CI pipelines, schedulers and
scripts. It holds roles like a user (gatehouse role assign R --service-account S)
but has no password: it authenticates with its API keys, sent as a Bearer
token, as HTTP Basic NAME:KEY, or traded for a token at the login endpoint.
Service accounts and users share one namespace of names.`
	cmd.AddCommand(a.saCreateCmd(o), a.saListCmd(o), a.saDescribeCmd(o), a.saUpdateCmd(o), a.saDeleteCmd(o),
		a.apiKeyCmd(o))
	return cmd
}

// saFlags names the flag for each field of the service-account API.
var saFlags = map[string]string{"roles": "--role", "description": "--description", "active": "--active"}

func (a *app) saCreateCmd(o *clientOptions) *cobra.Command {
	var in client.CreateServiceAccount
	var roles []string
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a service account",
		Long: `Create a service account. Without --role it gets the server's default role
(guest unless the server says otherwise); --role may be repeated. It has no
password and can do nothing until it has an API key:
"gatehouse service-account api-key create NAME KEYNAME".`,
		Example: `  gatehouse service-account create ci-bot --role admin --role guest --description "CI pipelines"
  gatehouse service-account create nightly`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			in.Name = args[0]
			if cmd.Flags().Changed("role") {
				in.Roles = &roles
			}
			return show(a, o, saFlags, func(c *client.Client) (client.Result[client.ServiceAccount], error) {
				return c.CreateServiceAccount(cmd.Context(), in)
			}, func(sa client.ServiceAccount) error {
				_, err := fmt.Fprintf(a.stdout, "Created service account %s with roles: %s.\n", sa.Name, orDash(strings.Join(sa.Roles, ", ")))
				return err
			})
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&roles, "role", nil, "role to grant; repeat for more (default: the server's default role)")
	f.StringVar(&in.Description, "description", "", "what the account is for")
	return cmd
}

func (a *app) saListCmd(o *clientOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Short:   "List service accounts",
		Example: "  gatehouse service-account list\n  gatehouse service-account list -o json | jq -r '.items[].name'",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return show(a, o, nil, func(c *client.Client) (client.Result[[]client.ServiceAccount], error) {
				return c.ListServiceAccounts(cmd.Context())
			}, func(sas []client.ServiceAccount) error {
				rows := make([][]string, len(sas))
				for i, sa := range sas {
					rows[i] = []string{sa.Name, orDash(sa.Description), activeState(sa.Active), orDash(strings.Join(sa.Roles, ",")), timestamp(sa.CreatedAt)}
				}
				return table(a.stdout, "NAME\tDESCRIPTION\tSTATE\tROLES\tCREATED", rows)
			})
		},
	}
}

func (a *app) saDescribeCmd(o *clientOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "describe NAME",
		Short:   "Show one service account (by name or id) and the names of its API keys",
		Example: "  gatehouse service-account describe ci-bot\n  gatehouse service-account describe ci-bot -o json",
		Args:    exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var keys []client.APIKey
			return show(a, o, nil, func(c *client.Client) (client.Result[client.ServiceAccount], error) {
				res, err := c.GetServiceAccount(cmd.Context(), args[0])
				if err != nil || o.output != "table" {
					return res, err
				}
				k, err := c.ListAPIKeys(cmd.Context(), res.Value.Name)
				keys = k.Value
				return res, err
			}, func(sa client.ServiceAccount) error {
				return a.describeServiceAccount(sa, keys)
			})
		},
	}
}

// describeServiceAccount prints an account and, when keys is not nil, the
// names of its keys.
func (a *app) describeServiceAccount(sa client.ServiceAccount, keys []client.APIKey) error {
	rows := [][]string{
		{"ID:", sa.ID},
		{"Description:", orDash(sa.Description)},
		{"State:", activeState(sa.Active)},
		{"Roles:", orDash(strings.Join(sa.Roles, ", "))},
		{"Created:", timestamp(sa.CreatedAt)},
	}
	if keys != nil {
		names := make([]string, len(keys))
		for i, k := range keys {
			names[i] = k.Name
		}
		rows = append(rows, []string{"API keys:", orDash(strings.Join(names, ", "))})
	}
	return table(a.stdout, "Name:\t"+sa.Name, rows)
}

// activeState names an account's state.
func activeState(active bool) string {
	if active {
		return "active"
	}
	return "deactivated"
}

func (a *app) saUpdateCmd(o *clientOptions) *cobra.Command {
	var name, description string
	var active bool
	cmd := &cobra.Command{
		Use:   "update NAME",
		Short: "Rename a service account, change its description, or deactivate it",
		Long: `Change a service account. Only the flags given change. --active=false
deactivates it and every key of it for good: the keys, and every token
traded for one, stop working on their next request, on every replica.
--active=true reactivates the account, which then needs new keys. Roles
change with "gatehouse role assign/revoke ROLE --service-account NAME".`,
		Example: `  gatehouse service-account update ci-bot --description "GitHub Actions"
  gatehouse service-account update ci-bot --name ci-deployer
  gatehouse service-account update ci-bot --active=false`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var in client.UpdateServiceAccount
			f := cmd.Flags()
			if f.Changed("name") {
				in.Name = &name
			}
			if f.Changed("description") {
				in.Description = &description
			}
			if f.Changed("active") {
				in.Active = &active
			}
			if in == (client.UpdateServiceAccount{}) {
				return usageError{errors.New("nothing to change: give at least one of --name, --description, --active")}
			}
			return show(a, o, saFlags, func(c *client.Client) (client.Result[client.ServiceAccount], error) {
				return c.UpdateServiceAccount(cmd.Context(), args[0], in)
			}, func(sa client.ServiceAccount) error { return a.describeServiceAccount(sa, nil) })
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "new name")
	f.StringVar(&description, "description", "", `new description ("" clears it)`)
	f.BoolVar(&active, "active", true, "--active=false deactivates the account and all its keys for good, --active=true reactivates the account")
	return cmd
}

func (a *app) saDeleteCmd(o *clientOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "delete NAME",
		Short:   "Delete a service account, its role assignments and its API keys; they stop working at once",
		Example: "  gatehouse service-account delete ci-bot",
		Args:    exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.remove(o, func(c *client.Client) error { return c.DeleteServiceAccount(cmd.Context(), args[0]) },
				fmt.Sprintf("Deleted service account %s and its API keys.", args[0]))
		},
	}
}
