package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gatehouse-dev/gatehouse/admin/store"
	"github.com/gatehouse-dev/gatehouse/policy"
)

// exportOptions are the flags of policy export.
type exportOptions struct {
	dir, dsn     string
	out          string // -o FILE; "" for stdout
	includeUsers bool
}

func (a *app) policyExportCmd() *cobra.Command {
	o := &exportOptions{}
	// Only the flags serve shares read the environment: a GATEHOUSE_OUTPUT
	// set for another purpose must not pick the file export overwrites.
	envFlags := pflag.NewFlagSet("policy export", pflag.ContinueOnError)
	envFlags.StringVar(&o.dir, "policy-dir", "", "policy directory (env GATEHOUSE_POLICY_DIR); the embedded defaults when empty")
	envFlags.StringVar(&o.dsn, "db", "", `store to read database lines from (env GATEHOUSE_DB): "sqlite:PATH" or "postgres://…"`)
	cmd := &cobra.Command{
		Use:   "export [--policy-dir DIR] [--db DSN] [-o FILE] [--include-users]",
		Short: "Write the policy in force as Casbin CSV: file lines and database lines",
		Long: `Write the effective policy as Casbin CSV, so that a running system can be
committed back to git: the lines of --policy-dir (the embedded defaults
without it) and, with --db, the lines the admin API stored in the database.
A comment header names the model and each origin. The policy file's own
comments, blank lines and lines stay in place as written; the database lines
follow under "# from database". Exporting a file that was exported before
replaces its header instead of adding one.

Users are not written: policy files name roles and permissions, never users,
so the database's user assignments (g, user:NAME, ROLE) are left out and
counted in the header. --include-users writes them too.

-o FILE writes the file atomically (a temporary file in the same directory,
renamed over FILE, keeping FILE's mode; a symbolic link is followed), and only
once the whole export is ready: FILE may be the policy.csv being exported, and
a failed export leaves it as it was. Without -o the export goes to stdout;
never redirect it onto one of its own inputs (> policy/policy.csv empties the
file before export reads it).

--db and --policy-dir take the same values as serve and read GATEHOUSE_DB and
GATEHOUSE_POLICY_DIR when not given, so the command works inside the server's
pod. A SQLite file that does not exist is an error, not a new empty store.`,
		Example: `  gatehouse policy export --policy-dir policy/ --db sqlite:gatehouse.db -o policy/policy.csv
  gatehouse policy export --policy-dir policy/ --db sqlite:gatehouse.db --include-users -o backup.csv
  kubectl exec deploy/zenml -c gatehouse -- gatehouse policy export > export.csv && mv export.csv policy/policy.csv`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(envFlags, a.env); err != nil {
				return err
			}
			if err := o.check(); err != nil {
				return err
			}
			return a.export(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.AddFlagSet(envFlags)
	f.StringVarP(&o.out, "output", "o", "", "write the export to `FILE`, atomically, instead of stdout (FILE may be the policy.csv exported)")
	f.BoolVar(&o.includeUsers, "include-users", false, "also write the database's user assignments (g, user:NAME, ROLE)")
	return cmd
}

// check refuses an -o FILE that would destroy an input that is not a
// policy.csv, or that reads as an output format.
func (o *exportOptions) check() error {
	if o.out == "" {
		return nil
	}
	switch o.out {
	case "json", "yaml", "yml", "text", "table", "csv":
		return usageError{fmt.Errorf("-o %q: -o names the file to write (export writes Casbin CSV only), e.g. -o policy/policy.csv", o.out)}
	}
	st, err := os.Stat(o.out)
	if err != nil {
		return nil // a new file: it cannot be an input
	}
	if st.IsDir() {
		return usageError{fmt.Errorf("-o %s: is a directory; name the file, e.g. -o %s", o.out, filepath.Join(o.out, policy.PolicyFile))}
	}
	var inputs []string
	if o.dir != "" {
		inputs = append(inputs, filepath.Join(o.dir, policy.ModelFile), filepath.Join(o.dir, policy.TestsFile))
	}
	if path, ok := sqlitePath(o.dsn); ok {
		inputs = append(inputs, path)
	}
	for _, in := range inputs {
		if ist, err := os.Stat(in); err == nil && os.SameFile(st, ist) {
			return usageError{fmt.Errorf("-o %s: that is %s, an input of the export; export writes a policy.csv", o.out, in)}
		}
	}
	return nil
}

func (a *app) export(ctx context.Context, o *exportOptions) error {
	files := policy.DefaultFiles()
	if o.dir != "" {
		name, fsys, err := policyDir(o.dir)
		if err != nil {
			return err
		}
		if files, err = policy.LoadDir(fsys, name); err != nil {
			return a.printProblems(name, policy.Problems(err))
		}
	}
	database, users, err := a.databaseLines(ctx, o, files)
	if err != nil {
		return err
	}
	origin := "database lines: none (no --db)"
	if o.dsn != "" {
		origin = "database lines: " + store.Redact(o.dsn)
	}
	if users > 0 {
		origin += fmt.Sprintf(", without %d naming users (g, user:NAME, ROLE; --include-users writes them)", users)
	}
	header := []string{
		"model: " + files.ModelName,
		"file lines: " + files.PolicyName + " (revision " + files.Revision + ")",
		origin,
	}
	var buf bytes.Buffer
	if err := policy.Export(&buf, header, files, database); err != nil {
		return err
	}
	if o.out == "" {
		_, err := a.stdout.Write(buf.Bytes())
		return err
	}
	if err := writeFileAtomic(o.out, buf.Bytes()); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "wrote %s: %d file lines, %d database lines", o.out, len(files.Lines), len(database))
	if users > 0 {
		fmt.Fprintf(a.stdout, " (%d naming users left out)", users)
	}
	fmt.Fprintln(a.stdout)
	return nil
}

// databaseLines checks that files load with the database lines of --db
// (files alone without it) and returns the database lines to export and
// how many of them were left out for naming a user.
func (a *app) databaseLines(ctx context.Context, o *exportOptions, files *policy.Files) (lines []policy.Line, users int, err error) {
	if o.dsn == "" {
		if _, err := policy.New(ctx, nil, files, nil); err != nil {
			return nil, 0, a.loadProblems(files, err)
		}
		return nil, 0, nil
	}
	eng, closeDB, err := a.openEngine(ctx, o.dsn, files)
	if err != nil {
		return nil, 0, err
	}
	defer closeDB()
	for _, l := range eng.Lines() {
		switch {
		case l.FromFile():
		case !o.includeUsers && namesUser(l):
			users++
		default:
			lines = append(lines, l)
		}
	}
	return lines, users, nil
}

// openEngine loads files and the database lines of the store dsn. closeDB
// closes the store.
func (a *app) openEngine(ctx context.Context, dsn string, files *policy.Files) (*policy.Engine, func(), error) {
	if err := checkSQLiteExists(dsn); err != nil {
		return nil, nil, err
	}
	db, err := store.Open(ctx, dsn)
	if err != nil {
		return nil, nil, err
	}
	closeDB := func() {
		if sqlDB, err := db.DB(); err == nil {
			sqlDB.Close()
		}
	}
	eng, err := policy.New(ctx, db, files, nil)
	if err != nil {
		closeDB()
		return nil, nil, a.loadProblems(files, err)
	}
	return eng, closeDB, nil
}

// namesUser reports whether a line's subject is a user (user:NAME).
func namesUser(l policy.Line) bool {
	return len(l.Fields) > 0 && strings.HasPrefix(l.Fields[0], policy.UserPrefix)
}

// writeFileAtomic replaces path with data: a temporary file in the same
// directory, written whole and synced, then renamed over path, so that a
// reader (or a server watching the directory) sees the old file or the
// new one, never a part. An existing file's mode is kept (0644 for a new
// one); a symbolic link is followed, so the link stays and its target is
// replaced.
func writeFileAtomic(path string, data []byte) error {
	if target, err := filepath.EvalSymlinks(path); err == nil {
		path = target
	}
	mode := fs.FileMode(0o644)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("-o %s: %w", path, err)
	}
	defer os.Remove(f.Name()) // a no-op after the rename
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(mode)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("-o %s: %w", path, err)
	}
	return nil
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
	path, ok := sqlitePath(dsn)
	if !ok {
		return nil
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("--db %s: no such database file", dsn)
	}
	return nil
}

// sqlitePath returns the file of a "sqlite:PATH" store.
func sqlitePath(dsn string) (string, bool) {
	path, ok := strings.CutPrefix(dsn, "sqlite:")
	if !ok {
		return "", false
	}
	path, _, _ = strings.Cut(path, "?")
	return strings.TrimPrefix(path, "file:"), true
}
