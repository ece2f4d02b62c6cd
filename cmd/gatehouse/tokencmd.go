package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func (a *app) tokenCmd() *cobra.Command {
	o := &clientOptions{}
	cmd := a.clientGroup("token", "Manage token signing", "  gatehouse token rotate-key", o)
	cmd.AddCommand(&cobra.Command{
		Use:   "rotate-key",
		Short: "Sign new tokens with a new key; earlier tokens stay valid until they expire",
		Long: `Create a new signing key. Every replica signs new tokens with it at once;
tokens signed with earlier keys stay valid until they expire (--token-ttl).
Needs the write permission.`,
		Example: "  gatehouse token rotate-key\n  gatehouse token rotate-key -o json",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.connect(o)
			if err != nil {
				return err
			}
			res, err := c.RotateKey(cmd.Context())
			if err != nil {
				return o.apiError(err)
			}
			if o.output != "table" {
				return printAs(a.stdout, o.output, res.Body)
			}
			fmt.Fprintf(a.stdout, "New tokens are signed with key %s; earlier tokens stay valid until they expire.\n", res.Value.Kid)
			return nil
		},
	})
	return cmd
}
