package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/cmd/gatehouse/internal/client"
)

// accessTableBlock is how many rows the access report's table aligns at a
// time: the table streams in blocks rather than holding a whole report.
const accessTableBlock = 1000

func (a *app) accessCmd() *cobra.Command {
	cmd := a.clientGroup("access", "Who can do what, and why", "  gatehouse access report --user alice", nil)
	cmd.AddCommand(a.accessReportCmd())
	return cmd
}

func (a *app) accessReportCmd() *cobra.Command {
	o := &clientOptions{}
	var f client.ReportFilter
	cmd := &cobra.Command{
		Use:   "report",
		Short: "List who holds which permission, through which roles and teams",
		Long: `List every permission each user and service account holds under the policy
in force, with the chain that gives it (user > team > role > permission), in
username order. --user, --role or --team narrows the report to one user, to
the chains through one role, or to a team's members and the chains through
the team. --method with --path asks who may call that route: the server
decides the request for every user as the data plane would (their own name
and id for {self}) and prints the deciding rule; "*" is anyone, without a
token, when the public role opens the route. A user who is not active
(invited, or deactivated) is listed with ACTIVE false: the data plane
refuses them until they are active.

-o csv and -o json print the server's answer as it streams in; the table
aligns its columns a block of rows at a time.`,
		Example: "  gatehouse access report\n  gatehouse access report --team ml-platform\n" +
			"  gatehouse access report --method POST --path /api/v1/pipelines\n  gatehouse access report -o csv > access.csv",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkReportFlags(f); err != nil {
				return err
			}
			if err := checkOutput(o.output, "table", "json", "csv"); err != nil {
				return err
			}
			format, out := o.output, o.output
			if out == "csv" {
				o.output = "table" // for connect's check: csv is this command's own
			}
			c, err := a.connect(o)
			if err != nil {
				return err
			}
			if format == "table" {
				format = "json"
			}
			body, err := c.AccessReport(cmd.Context(), f, format)
			if err != nil {
				return o.apiError(flagNamed(err, map[string]string{"user": "--user", "role": "--role", "team": "--team", "method": "--method", "path": "--path"}))
			}
			defer body.Close()
			if out != "table" {
				_, err := io.Copy(a.stdout, body)
				return err
			}
			return a.reportTable(body, f.Method != "")
		},
	}
	o.addFlags(cmd.Flags())
	cmd.Flags().Lookup("output").Usage = `output format: "table", "json" (the API's JSON) or "csv"`
	cmd.Flags().StringVar(&f.User, "user", "", "only this user or service account (name or id)")
	cmd.Flags().StringVar(&f.Role, "role", "", "only the chains through this role")
	cmd.Flags().StringVar(&f.Team, "team", "", "only this team's members, through the team")
	cmd.Flags().StringVar(&f.Method, "method", "", "with --path: who may call this route")
	cmd.Flags().StringVar(&f.Path, "path", "", "with --method: the route's path")
	return cmd
}

// checkReportFlags refuses what the server would refuse, as a usage error.
func checkReportFlags(f client.ReportFilter) error {
	n := 0
	for _, v := range []string{f.User, f.Role, f.Team} {
		if v != "" {
			n++
		}
	}
	switch {
	case n > 1:
		return usageError{errors.New("give one of --user, --role and --team")}
	case f.Method != "" && f.Path == "":
		return usageError{errors.New("--method needs --path")}
	case f.Path != "" && f.Method == "":
		return usageError{errors.New("--path needs --method")}
	}
	return nil
}

// reportTable prints a JSON access report as a table, a block at a time.
func (a *app) reportTable(body io.Reader, route bool) error {
	header := "USER\tKIND\tACTIVE\tPERMISSION\tWORKSPACE\tVIA"
	if route {
		header += "\tRULE"
	}
	var rows [][]string
	printed := false
	flush := func() error {
		if len(rows) == 0 && printed {
			return nil
		}
		h := header
		if printed {
			h = "" // one header, on the first block
		}
		err := table(a.stdout, h, rows)
		rows, printed = rows[:0], true
		return err
	}
	err := client.ReportRows(body, func(r client.ReportRow) error {
		row := []string{r.User, r.Kind, fmt.Sprint(r.Active), r.Permission, orStar(r.Workspace), strings.Join(r.Via, " > ")}
		if route {
			row = append(row, r.Rule)
		}
		rows = append(rows, row)
		if len(rows) == accessTableBlock {
			return flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}
