package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/cmd/gatehouse/internal/client"
)

// apiKeyFlags names the flag for each field of the API-key API.
var apiKeyFlags = map[string]string{"expires_in": "--expires-in", "retain": "--retain", "roles": "--role"}

func (a *app) apiKeyCmd(o *clientOptions) *cobra.Command {
	cmd := a.clientGroup("api-key", "Create, list, describe, rotate, deactivate and delete a service account's API keys",
		"  KEY=$(gatehouse service-account api-key create ci-bot deploy --expires-in 90d)\n"+
			"  gatehouse service-account api-key list ci-bot", nil)
	cmd.Long = `An API key authenticates its service account: as "Authorization: Bearer KEY",
as HTTP Basic with the account's name as user and the key as password, or
traded for a token at POST /gatehouse/v1/login (and /api/v1/login under
--preset zenml) with the key as password. A key is printed once, when it is
created or rotated; the server keeps only its SHA-256 hash. Keys start with
"gatehouse_" so secret scanners can find a leaked one.`
	cmd.AddCommand(a.apiKeyCreateCmd(o), a.apiKeyListCmd(o), a.apiKeyDescribeCmd(o),
		a.apiKeyRotateCmd(o), a.apiKeyDeactivateCmd(o), a.apiKeyDeleteCmd(o))
	return cmd
}

// secret runs a command that creates a key (create, rotate). On success
// it says on stderr that the key is shown only this once, then prints the
// key alone on stdout, so that KEY=$(gatehouse service-account api-key
// create …) holds the key; with -o json or yaml stdout gets the whole
// answer, the key in its "key" field.
func (a *app) secret(o *clientOptions, call func(*client.Client) (client.Result[client.APIKey], error), note func(client.APIKey) string) error {
	return show(a, o, apiKeyFlags, func(c *client.Client) (client.Result[client.APIKey], error) {
		res, err := call(c)
		if err == nil {
			fmt.Fprintf(a.stderr, "%s The key is shown only once: store it now.\n", note(res.Value))
		}
		return res, err
	}, func(k client.APIKey) error {
		_, err := fmt.Fprintln(a.stdout, string(k.Key))
		return err
	})
}

func (a *app) apiKeyCreateCmd(o *clientOptions) *cobra.Command {
	var in client.CreateAPIKey
	cmd := &cobra.Command{
		Use:   "create SERVICE_ACCOUNT KEYNAME",
		Short: "Create an API key and print it, this once",
		Long: `Create an API key for a service account and print it on stdout, alone on
its line, so that KEY=$(…) captures it; a note on stderr says it is shown
only once. The server keeps only its hash.

--expires-in sets a lifetime ("90d", "36h", "30m"); without it the key does
not expire. --role narrows the key to some of the account's roles (repeat
it for more): the key may do what both the account and those roles allow,
never more than the account.`,
		Example: `  KEY=$(gatehouse service-account api-key create ci-bot deploy --expires-in 90d)
  gatehouse service-account api-key create ci-bot readonly --role guest
  curl -H "Authorization: Bearer $KEY" https://gatehouse.example.com/api/v1/pipelines`,
		Args: exactArgs("SERVICE_ACCOUNT", "KEYNAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			in.Name = args[1]
			return a.secret(o, func(c *client.Client) (client.Result[client.APIKey], error) {
				return c.CreateAPIKey(cmd.Context(), args[0], in)
			}, func(k client.APIKey) string {
				return fmt.Sprintf("Created API key %s of %s (%s, %s).", k.Name, args[0], keyRoles(k), keyExpiry(k))
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.ExpiresIn, "expires-in", "", `lifetime, such as "90d", "36h" or "30m" (default: no expiry)`)
	f.StringArrayVar(&in.Roles, "role", nil, "narrow the key to this role of the account; repeat for more (default: all of the account's roles)")
	return cmd
}

// keyRoles says which roles a key may use.
func keyRoles(k client.APIKey) string {
	if len(k.Roles) == 0 {
		return "all of the account's roles"
	}
	return "roles: " + strings.Join(k.Roles, ", ")
}

// keyExpiry says when a key expires.
func keyExpiry(k client.APIKey) string {
	if k.ExpiresAt == nil {
		return "no expiry"
	}
	return "expires at " + timestamp(*k.ExpiresAt)
}

// keyState names a key's state at now: active, deactivated, expired, or
// retired (an old key that rotate --retain keeps valid until it expires).
func keyState(k client.APIKey, now time.Time) string {
	switch {
	case !k.Active:
		return "deactivated"
	case k.ExpiresAt != nil && !now.Before(*k.ExpiresAt):
		return "expired"
	case k.RetainedUntil != nil:
		return "retired"
	}
	return "active"
}

// describeKeyState says what a key's state means.
func describeKeyState(state string) string {
	switch state {
	case "retired":
		return "retired (replaced by rotate --retain; valid until it expires)"
	case "deactivated":
		return "deactivated (for good; create or rotate a key instead)"
	}
	return state
}

// optTime shows a time that may be missing as what.
func optTime(t *time.Time, what string) string {
	if t == nil {
		return what
	}
	return timestamp(*t)
}

func (a *app) apiKeyListCmd(o *clientOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "list SERVICE_ACCOUNT",
		Short:   "List a service account's API keys, with when each was last used",
		Example: "  gatehouse service-account api-key list ci-bot\n  gatehouse service-account api-key list ci-bot -o json | jq -r '.items[].last_used_at'",
		Args:    exactArgs("SERVICE_ACCOUNT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return show(a, o, nil, func(c *client.Client) (client.Result[[]client.APIKey], error) {
				return c.ListAPIKeys(cmd.Context(), args[0])
			}, func(keys []client.APIKey) error {
				now := time.Now()
				rows := make([][]string, len(keys))
				for i, k := range keys {
					roles := strings.Join(k.Roles, ",")
					if roles == "" {
						roles = "(account's)"
					}
					rows[i] = []string{k.Name, k.Prefix + "…", roles, keyState(k, now), optTime(k.ExpiresAt, "never"), optTime(k.LastUsedAt, "never"), timestamp(k.CreatedAt)}
				}
				return table(a.stdout, "NAME\tPREFIX\tROLES\tSTATE\tEXPIRES\tLAST USED\tCREATED", rows)
			})
		},
	}
}

// keyCmd is a command on one key, SERVICE_ACCOUNT KEYNAME, that prints
// the key the server answers with (describe, deactivate).
func (a *app) keyCmd(o *clientOptions, cmd *cobra.Command, call func(c *client.Client, cmd *cobra.Command, sa, key string) (client.Result[client.APIKey], error)) *cobra.Command {
	cmd.Args = exactArgs("SERVICE_ACCOUNT", "KEYNAME")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return show(a, o, nil, func(c *client.Client) (client.Result[client.APIKey], error) {
			return call(c, cmd, args[0], args[1])
		}, a.describeAPIKey)
	}
	return cmd
}

func (a *app) describeAPIKey(k client.APIKey) error {
	rows := [][]string{
		{"ID:", k.ID},
		{"Service account:", k.ServiceAccount},
		{"Prefix:", k.Prefix + "…"},
		{"Roles:", keyRoles(k)},
		{"State:", describeKeyState(keyState(k, time.Now()))},
		{"Expires:", optTime(k.ExpiresAt, "never")},
		{"Last used:", optTime(k.LastUsedAt, "never")},
		{"Created:", timestamp(k.CreatedAt)},
	}
	return table(a.stdout, "Name:\t"+k.Name, rows)
}

func (a *app) apiKeyDescribeCmd(o *clientOptions) *cobra.Command {
	return a.keyCmd(o, &cobra.Command{
		Use:     "describe SERVICE_ACCOUNT KEYNAME",
		Short:   "Show one API key (never the key itself)",
		Example: "  gatehouse service-account api-key describe ci-bot deploy",
	}, func(c *client.Client, cmd *cobra.Command, sa, key string) (client.Result[client.APIKey], error) {
		return c.GetAPIKey(cmd.Context(), sa, key)
	})
}

func (a *app) apiKeyDeactivateCmd(o *clientOptions) *cobra.Command {
	return a.keyCmd(o, &cobra.Command{
		Use:   "deactivate SERVICE_ACCOUNT KEYNAME",
		Short: "Deactivate an API key for good; its next request is refused",
		Long: `Deactivate an API key: its next request, and that of every token traded for
it, is refused with 401 on every replica. A deactivated key stays listed and
cannot be reactivated; create or rotate a key instead.`,
		Example: "  gatehouse service-account api-key deactivate ci-bot deploy",
	}, func(c *client.Client, cmd *cobra.Command, sa, key string) (client.Result[client.APIKey], error) {
		return c.DeactivateAPIKey(cmd.Context(), sa, key)
	})
}

func (a *app) apiKeyRotateCmd(o *clientOptions) *cobra.Command {
	var retain string
	cmd := &cobra.Command{
		Use:   "rotate SERVICE_ACCOUNT KEYNAME",
		Short: "Issue a new key under the same name and print it, this once",
		Long: `Issue a new secret for an API key, with the same name, roles and expiry,
and print it on stdout as create does. Without --retain the old secret stops
working at once; with --retain 24h it keeps working for that long, so the
clients that use it can move to the new one without downtime.`,
		Example: `  NEW=$(gatehouse service-account api-key rotate ci-bot deploy --retain 24h)
  gatehouse service-account api-key rotate ci-bot deploy`,
		Args: exactArgs("SERVICE_ACCOUNT", "KEYNAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			old := "the old key stopped working."
			if retain != "" {
				old = "the old key stays valid for " + retain + "."
			}
			return a.secret(o, func(c *client.Client) (client.Result[client.APIKey], error) {
				return c.RotateAPIKey(cmd.Context(), args[0], args[1], retain)
			}, func(k client.APIKey) string {
				return fmt.Sprintf("Rotated API key %s of %s; %s", k.Name, args[0], old)
			})
		},
	}
	cmd.Flags().StringVar(&retain, "retain", "", `how long the old key stays valid, such as "24h" (default: it stops at once)`)
	return cmd
}

func (a *app) apiKeyDeleteCmd(o *clientOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "delete SERVICE_ACCOUNT KEYNAME",
		Short:   "Delete an API key; its next request is refused",
		Example: "  gatehouse service-account api-key delete ci-bot deploy",
		Args:    exactArgs("SERVICE_ACCOUNT", "KEYNAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.remove(o, func(c *client.Client) error { return c.DeleteAPIKey(cmd.Context(), args[0], args[1]) },
				fmt.Sprintf("Deleted API key %s of %s.", args[1], args[0]))
		},
	}
}
