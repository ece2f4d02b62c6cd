package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/admin/store"
	"github.com/gatehouse-dev/gatehouse/policy"
)

func (a *app) policyExportCmd() *cobra.Command {
	var dir, dsn string
	cmd := &cobra.Command{
		Use:   "export [--policy-dir DIR] [--db DSN]",
		Short: "Print the policy in force as Casbin CSV: file lines and database lines",
		Long: `Print the effective policy as Casbin CSV, so that a running system can be
committed back to git: the lines of --policy-dir (the embedded defaults
without it) and, with --db, the lines the admin API stored in the database.
A comment header names the model and each origin. --db and --policy-dir
take the same values as serve and read GATEHOUSE_DB and GATEHOUSE_POLICY_DIR
when not given, so the command works inside the server's pod. A SQLite file
that does not exist is an error, not a new empty store.`,
		Example: `  gatehouse policy export --policy-dir policy/ --db sqlite:gatehouse.db > policy/policy.csv
  kubectl exec deploy/zenml -c gatehouse -- gatehouse policy export > policy/policy.csv`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd.Flags(), a.env); err != nil {
				return err
			}
			return a.export(cmd.Context(), dir, dsn)
		},
	}
	cmd.Flags().StringVar(&dir, "policy-dir", "", "policy directory (env GATEHOUSE_POLICY_DIR); the embedded defaults when empty")
	cmd.Flags().StringVar(&dsn, "db", "", `store to read database lines from (env GATEHOUSE_DB): "sqlite:PATH" or "postgres://…"`)
	return cmd
}

func (a *app) export(ctx context.Context, dir, dsn string) error {
	files := policy.DefaultFiles()
	if dir != "" {
		name, fsys, err := policyDir(dir)
		if err != nil {
			return err
		}
		if files, err = policy.LoadDir(fsys, name); err != nil {
			return a.printProblems(name, policy.Problems(err))
		}
	}
	header := []string{
		"model: " + files.ModelName,
		"file lines: " + files.PolicyName + " (revision " + files.Revision + ")",
	}
	var eng *policy.Engine
	if dsn != "" {
		if err := checkSQLiteExists(dsn); err != nil {
			return err
		}
		db, err := store.Open(ctx, dsn)
		if err != nil {
			return err
		}
		if sqlDB, err := db.DB(); err == nil {
			defer sqlDB.Close()
		}
		if eng, err = policy.New(ctx, db, files, nil); err != nil {
			return a.loadProblems(files, err)
		}
		header = append(header, "database lines: "+store.Redact(dsn))
	} else {
		var err error
		if eng, err = policy.New(ctx, nil, files, nil); err != nil {
			return a.loadProblems(files, err)
		}
		header = append(header, "database lines: none (no --db)")
	}
	var database []policy.Line
	for _, l := range eng.Lines() {
		if !l.FromFile() {
			database = append(database, l)
		}
	}
	return policy.Export(a.stdout, header, files, database)
}

// loadProblems prints the problems of a policy that does not load, each
// as FILE:LINE: message, and returns an error counting them. Problems
// without a line (a database that cannot be read) are returned as they are.
func (a *app) loadProblems(files *policy.Files, err error) error {
	problems := policy.Problems(err)
	for _, p := range problems {
		var le *policy.LineError
		if !errors.As(p, &le) {
			return fmt.Errorf("policy: %w", err)
		}
	}
	return a.printProblems(files.PolicyName, problems)
}

// checkSQLiteExists refuses a SQLite store that does not exist: opening
// it would create an empty one and export nothing but the files.
func checkSQLiteExists(dsn string) error {
	path, ok := strings.CutPrefix(dsn, "sqlite:")
	if !ok {
		return nil
	}
	path, _, _ = strings.Cut(path, "?")
	path = strings.TrimPrefix(path, "file:")
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("--db %s: no such database file", dsn)
	}
	return nil
}
