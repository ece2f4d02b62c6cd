package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/proxy"
)

// diffOptions are the flags of policy diff.
type diffOptions struct {
	base     string
	routes   []string
	output   string
	auditLog string
	since    time.Duration
}

// Exit codes of policy diff.
const (
	diffSame    = 0
	diffChanged = 1
	diffFailed  = 2
)

func (a *app) policyDiffCmd() *cobra.Command {
	o := &diffOptions{}
	cmd := &cobra.Command{
		Use:   "diff (OLD_DIR NEW_DIR | --base GIT_REF [DIR])",
		Short: "Print every decision that changes between two versions of a policy directory",
		Long: `Decide the same requests with two versions of a policy directory and print
every (subject, method, route) whose decision changes, grouped by subject,
with the lines responsible on each side (FILE:LINE: line).

With --base, OLD is DIR as it is at GIT_REF in the git checkout DIR belongs to
(read with git archive) and NEW is DIR in the working tree. DIR defaults to
GATEHOUSE_POLICY_DIR, else policy.

Subjects: anonymous callers, every role (a name holding a role or permission
through a g line), every team, group and user that a policy line or a
tests.yaml on either side names; a permission is decided through the roles
and users that hold it, and as a subject of its own (kind permission) when
none of them reaches it on a side (one only the database's g lines give). Users and teams hold the roles their lines and their
tests.yaml fixtures give them, each side's own (the other side's for one a
side does not list).

Routes: the path pattern of every p line on either side, decided on a sample
path ({name} as 1, a final * as x, as the empty rest and as x/x, {self} as
the subject's own name, {workspace} as any-workspace and as each workspace a
g2 line names), the routes of --routes FILE (a table of METHOD<TAB>PATH
lines, concrete paths or patterns) and the paths of either tests.yaml. Every
route is decided with every method any of them names. A custom model's
pattern that is not a Gatehouse pattern (regexMatch, keyMatch with a * inside)
has no sample path; such patterns are named (on stderr with -o text).

--audit-log FILE replays recorded decisions, the audit lines of Gatehouse's
JSON log (deny, would_deny, and allow with serve --audit-allowed), with both
sides and counts those that flip. Users are decided with the roles the files
give them; a user the files do not name is not replayed, only counted.
--since keeps the lines of the last DURATION.

Exit code: 0 when no decision changes, 1 when some do (or, with --audit-log,
when a recorded decision flips), 2 on any error (a directory that is missing
or has problems, a bad reference, no git checkout, a routes file or log that
cannot be read).`,
		Example: `  gatehouse policy diff old-policy/ policy/
  gatehouse policy diff --base origin/main policy/ -o markdown
  gatehouse policy diff --base origin/main policy/ --routes routes.tsv --audit-log gatehouse.log --since 720h`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.check(cmd, args); err != nil {
				return err
			}
			code, err := a.diff(cmd.Context(), o, args)
			if err != nil {
				return exitError{code: diffFailed, err: err}
			}
			if code != diffSame {
				return exitError{code: code}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.base, "base", "", "compare DIR in the working tree with DIR at this git `REF` (a branch, tag or commit)")
	f.StringArrayVar(&o.routes, "routes", nil, "also decide the routes of this table `FILE` (METHOD<TAB>PATH lines; repeatable)")
	f.StringVarP(&o.output, "output", "o", "text", "output format: text, markdown or json")
	f.StringVar(&o.auditLog, "audit-log", "", "replay the decisions recorded in this JSON log `FILE` with both sides")
	f.DurationVar(&o.since, "since", 0, "with --audit-log: only the lines of the last `DURATION` (720h: 30 days)")
	return cmd
}

// check refuses a command line that does not name two sides, or flags
// that do not go together.
func (o *diffOptions) check(cmd *cobra.Command, args []string) error {
	var errs []error
	switch {
	case o.base == "" && len(args) != 2:
		errs = append(errs, fmt.Errorf("%q needs OLD_DIR and NEW_DIR, or --base GIT_REF [DIR]", cmd.CommandPath()))
	case o.base != "" && len(args) > 1:
		errs = append(errs, fmt.Errorf("--base %s: takes one DIR at most, got %q", o.base, args))
	}
	if err := checkOutput(o.output, "text", "markdown", "json"); err != nil {
		errs = append(errs, err)
	}
	if o.since < 0 {
		errs = append(errs, fmt.Errorf("--since %s: want a positive duration", o.since))
	}
	if o.since != 0 && o.auditLog == "" {
		errs = append(errs, errors.New("--since needs --audit-log"))
	}
	if len(errs) > 0 {
		return usageError{errors.Join(errs...)}
	}
	return nil
}

// diff loads both sides and prints what changes. It returns the exit code
// of a diff that ran.
func (a *app) diff(ctx context.Context, o *diffOptions, args []string) (int, error) {
	var older, newer *policy.Side
	var err error
	if o.base == "" {
		if older, err = loadSide(args[0]); err != nil {
			return 0, err
		}
		if newer, err = loadSide(args[1]); err != nil {
			return 0, err
		}
	} else {
		dir := a.env("GATEHOUSE_POLICY_DIR")
		if len(args) == 1 {
			dir = args[0]
		}
		if dir == "" {
			dir = "policy"
		}
		if older, err = gitSide(ctx, dir, o.base); err != nil {
			return 0, err
		}
		if newer, err = loadSide(dir); err != nil {
			return 0, err
		}
	}
	opts := policy.DiffOptions{Canonical: proxy.Canonicalize}
	for _, name := range o.routes {
		routes, err := readRoutes(name)
		if err != nil {
			return 0, err
		}
		opts.Routes = append(opts.Routes, routes...)
	}
	if o.auditLog != "" {
		if opts.Audit, opts.AuditSkipped, err = readAuditLog(o.auditLog, o.since); err != nil {
			return 0, err
		}
		opts.Replay = true
	}
	res, err := policy.Diff(older, newer, opts)
	if err != nil {
		return 0, policyLoadError("", err)
	}
	// The whole report is built before anything is written: an error
	// leaves stdout empty.
	var buf bytes.Buffer
	switch o.output {
	case "json":
		err = res.WriteJSON(&buf)
	case "markdown":
		err = res.WriteMarkdown(&buf)
	default:
		err = res.WriteText(&buf)
	}
	if err != nil {
		return 0, err
	}
	if _, err := a.stdout.Write(buf.Bytes()); err != nil {
		return 0, err
	}
	if note := res.NotSampledNote(); note != "" && o.output == "text" {
		fmt.Fprintln(a.stderr, note)
	}
	if res.Changed() {
		return diffChanged, nil
	}
	return diffSame, nil
}

// loadSide reads a policy directory of the working tree.
func loadSide(arg string) (*policy.Side, error) {
	dir, fsys, err := policyDir(arg)
	if err != nil {
		return nil, err
	}
	side, err := policy.LoadSide(fsys, dir)
	if err != nil {
		return nil, newProblems(dir, policy.Problems(err))
	}
	return side, nil
}

// readRoutes reads a --routes table.
func readRoutes(name string) ([]policy.Route, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("--routes: %w", err)
	}
	defer f.Close()
	routes, errs := policy.ParseRoutes(filepath.Clean(name), f)
	if len(errs) > 0 {
		return nil, newProblems("--routes "+name, errs)
	}
	return routes, nil
}

// readAuditLog reads the decisions of --audit-log, of the last since when
// since is not zero, and counts the lines left out. A log of which no
// line is read but some are skipped is an error: its lines are most
// likely not Gatehouse's JSON lines as written (a container runtime's
// wrapping, a timestamp prefix), and a replay of nothing would pass
// unnoticed.
func readAuditLog(name string, since time.Duration) ([]policy.AuditRecord, int, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, 0, fmt.Errorf("--audit-log: %w", err)
	}
	defer f.Close()
	var from time.Time
	if since > 0 {
		from = time.Now().Add(-since)
	}
	recs, skipped, err := policy.ReadAuditLog(f, from)
	if err != nil {
		return nil, 0, fmt.Errorf("--audit-log %s: %w", name, err)
	}
	if len(recs) == 0 && skipped > 0 {
		why := ""
		if since > 0 {
			why = fmt.Sprintf(" or older than --since %s", since)
		}
		return nil, 0, fmt.Errorf("--audit-log %s: no decision read, %d lines skipped (not Gatehouse's JSON audit lines%s): "+
			"give the log as Gatehouse writes it, one JSON object a line, not wrapped by the container runtime (docker logs, "+
			"kubectl logs without --timestamps print it so)", name, skipped, why)
	}
	if recs == nil {
		recs = []policy.AuditRecord{}
	}
	return recs, skipped, nil
}
