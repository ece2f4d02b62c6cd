package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/proxy"
)

func (a *app) policyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Work with policy files kept in git: validate, test, check, export, diff",
		Long: `A policy directory holds model.conf (optional; the embedded default model
otherwise), policy.csv (Casbin p and g lines) and tests.yaml (decision tests).
serve --policy-dir DIR loads it and reloads it when it changes.`,
		Example: `  gatehouse policy validate policy/ && gatehouse policy test policy/
  gatehouse policy check --policy-dir policy/ --user rita --role releaser --method POST --path /api/v1/deployments/d1
  gatehouse policy export --policy-dir policy/ --db sqlite:gatehouse.db -o policy/policy.csv`,
		// Without these, cobra prints the help and exits 0 for a
		// misspelt subcommand, and a CI step would pass.
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return unknownCommand(cmd, args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(a.policyValidateCmd(), a.policyTestCmd(), a.policyCheckCmd(), a.policyExportCmd(), a.policyDiffCmd())
	return cmd
}

func (a *app) policyValidateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate DIR",
		Short: "Check a policy directory and report every problem as FILE:LINE: message",
		Long: `Check model.conf, policy.csv and (when present) the syntax of tests.yaml the
way a running server checks them on load. Every problem is printed on its own
line as FILE:LINE: message, and the exit code is 1; a valid directory prints
a one-line summary and exits 0.

It also catches typos a server would load: a g line whose role or permission
nothing defines (no p line names it, no g line gives it anything, and it is
not admin, read, write, me or public), a role of a tests.yaml user that the
files do not define, each with "did you mean" when a defined name is close.
Methods must be those of the IANA HTTP method registry (GET, HEAD, POST,
PUT, PATCH, DELETE, OPTIONS, TRACE, CONNECT, WebDAV's), or * in a rule.`,
		Example: "  gatehouse policy validate policy/\n  gatehouse policy validate deploy/kubernetes/policy",
		Args:    exactArgs("DIR"),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, fsys, err := policyDir(args[0])
			if err != nil {
				return err
			}
			problems := policy.ValidateDir(fsys, dir)
			cases := -1
			if data, err := fs.ReadFile(fsys, policy.TestsFile); err == nil {
				s, errs := policy.ParseSuite(filepath.Join(dir, policy.TestsFile), data)
				problems = append(problems, errs...)
				if s != nil {
					cases = len(s.Cases)
					if f, err := policy.LoadDir(fsys, dir); err == nil {
						problems = append(problems, s.BareUsers(f)...)
						problems = append(problems, s.UnknownRoles(f)...)
					}
				}
			} else if !errors.Is(err, fs.ErrNotExist) {
				problems = append(problems, fmt.Errorf("%s: %w", filepath.Join(dir, policy.TestsFile), err))
			}
			if err := a.printProblems(dir, problems); err != nil {
				return err
			}
			f, err := policy.LoadDir(fsys, dir)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "ok: %s: %d lines, model %s, revision %s", dir, len(f.Lines), f.ModelName, f.Revision)
			if cases >= 0 {
				fmt.Fprintf(a.stdout, ", %d test cases", cases)
			}
			fmt.Fprintln(a.stdout)
			return nil
		},
	}
}

func (a *app) policyTestCmd() *cobra.Command {
	var verbose bool
	cmd := &cobra.Command{
		Use:   "test DIR",
		Short: "Run the decision tests of DIR/tests.yaml",
		Long: `Decide every case of DIR/tests.yaml with the policy of DIR and print each
failing case with the rule that decided it. Users get the roles listed under
users: (each a line g, user:NAME, ROLE), teams the roles under teams: (each
a line g, team:NAME, ROLE), and a user listing team:NAME is a member; a
user's id is its name, so {self} matches it; a case without user is an
anonymous request. Paths are canonicalized as the proxy does. Exit code 1
when a case fails or the files have problems.

  teams:
    ops: [releaser]
  users:
    rita: [releaser]
    tom: [team:ops]
  cases:
    - {user: rita, method: POST, path: /api/v1/deployments/d1, allow: true}
    - {method: GET, path: /health, allow: true}`,
		Example: "  gatehouse policy test policy/\n  gatehouse policy test -v deploy/kubernetes/policy",
		Args:    exactArgs("DIR"),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, fsys, err := policyDir(args[0])
			if err != nil {
				return err
			}
			if err := a.printProblems(dir, policy.ValidateDir(fsys, dir)); err != nil {
				return err
			}
			files, err := policy.LoadDir(fsys, dir)
			if err != nil {
				return err
			}
			suite, err := policy.LoadSuite(fsys, dir)
			if err != nil {
				return a.printProblems(filepath.Join(dir, policy.TestsFile), policy.Problems(err))
			}
			if err := a.printProblems(dir, append(suite.BareUsers(files), suite.UnknownRoles(files)...)); err != nil {
				return err
			}
			results, err := suite.Run(files, proxy.Canonicalize)
			if err != nil {
				return a.printProblems(dir, policy.Problems(err))
			}
			return a.reportCases(results, verbose)
		},
	}
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "print passing cases too")
	return cmd
}

// reportCases prints failing cases (and passing ones when verbose) and a
// summary; an error when any case failed.
func (a *app) reportCases(results []policy.CaseResult, verbose bool) error {
	failed := 0
	for _, r := range results {
		switch {
		case !r.Passed():
			failed++
			fmt.Fprintln(a.stdout, "FAIL", r)
		case verbose:
			fmt.Fprintln(a.stdout, "ok  ", r)
		}
	}
	if failed > 0 {
		fmt.Fprintf(a.stdout, "FAIL: %d of %d cases failed\n", failed, len(results))
		return fmt.Errorf("%d of %d policy test cases failed", failed, len(results))
	}
	fmt.Fprintf(a.stdout, "PASS: %d cases\n", len(results))
	return nil
}

// printProblems returns the error of problems found in what (nil when
// there are none); run prints each problem on its own line to stderr,
// then the count.
func (a *app) printProblems(what string, problems []error) error {
	return newProblems(what, problems)
}

// policyDir checks that arg is a directory and returns its cleaned name
// (used in messages) and a file system rooted at it.
func policyDir(arg string) (string, fs.FS, error) {
	dir := filepath.Clean(arg)
	st, err := os.Stat(dir)
	if err != nil {
		return "", nil, fmt.Errorf("policy directory: %w", err)
	}
	if !st.IsDir() {
		return "", nil, fmt.Errorf("policy directory %s: not a directory", dir)
	}
	return dir, os.DirFS(dir), nil
}
