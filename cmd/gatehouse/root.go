package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// version is stamped at build time with -ldflags "-X main.version=…".
var version = "dev"

// usageError is a mistake in the command line: exit code 2 and the usage.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// exitError ends a command with its own exit code, for a command whose
// codes say more than success and failure (policy diff). An exitError
// without err prints nothing: the command has printed what it found.
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit code %d", e.code)
	}
	return e.err.Error()
}
func (e exitError) Unwrap() error { return e.err }

// problemsError is a list of problems found in files (policy files): run
// prints each on a line of its own, FILE:LINE: message, and then the
// one-line summary that Error returns.
type problemsError struct {
	what     string  // what has the problems, named in the summary
	problems []error // sorted by file and line
}

// newProblems returns the error of problems found in what, or nil when
// there are none.
func newProblems(what string, problems []error) error {
	if len(problems) == 0 {
		return nil
	}
	policy.SortProblems(problems)
	return &problemsError{what: what, problems: problems}
}

func (e *problemsError) Error() string {
	if len(e.problems) == 1 {
		return e.what + ": 1 problem"
	}
	return fmt.Sprintf("%s: %d problems", e.what, len(e.problems))
}

// env looks up environment variables; tests pass their own.
type env func(string) string

// app carries what every command needs.
type app struct {
	env    env
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	// prompt asks the person at the terminal; nil when stdin is not one.
	prompt prompter
}

// run executes the command line and returns the process exit code.
func run(ctx context.Context, args []string, getenv env, stdin io.Reader, stdout, stderr io.Writer) int {
	stdout, stderr = termWriter{stdout}, termWriter{stderr}
	a := &app{env: getenv, stdin: stdin, stdout: stdout, stderr: stderr, prompt: terminalPrompter(stdin, stderr)}
	return a.execute(ctx, args)
}

// execute runs the command line with a's streams and returns the exit
// code.
func (a *app) execute(ctx context.Context, args []string) int {
	root := a.rootCmd()
	root.SetArgs(args)
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	var xe exitError
	isExit := errors.As(err, &xe)
	if isExit && xe.err == nil {
		return xe.code
	}
	var pe *problemsError
	if errors.As(err, &pe) {
		for _, p := range pe.problems {
			fmt.Fprintln(a.stderr, p)
		}
	}
	fmt.Fprintln(a.stderr, "Error:", err)
	var ue usageError
	if errors.As(err, &ue) || isCobraUsage(err) {
		if cmd != nil {
			fmt.Fprintln(a.stderr)
			fmt.Fprint(a.stderr, cmd.UsageString())
		}
		return 2
	}
	if isExit {
		return xe.code
	}
	return 1
}

// isCobraUsage recognizes cobra's own command-line errors.
func isCobraUsage(err error) bool {
	msg := err.Error()
	return strings.HasPrefix(msg, "unknown command") || strings.HasPrefix(msg, "unknown flag") ||
		strings.HasPrefix(msg, "unknown shorthand flag") || strings.Contains(msg, "flag needs an argument") ||
		strings.HasPrefix(msg, "invalid argument") || strings.HasPrefix(msg, "required flag")
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "gatehouse",
		Short:         "An authorization sidecar: JWT authentication and Casbin RBAC in front of any HTTP API",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	// --version has no -v: -v means --verbose wherever it exists.
	root.Flags().Bool("version", false, "print the version (as gatehouse version does)")
	root.SetVersionTemplate("gatehouse {{.Version}}\n") // as gatehouse version prints it
	root.SetFlagErrorFunc(flagError)
	root.AddCommand(a.serveCmd(), a.demoCmd(), a.versionCmd())
	root.AddCommand(a.loginCmd(), a.logoutCmd(), a.whoamiCmd(), a.meCmd())
	root.AddCommand(a.userCmd(), a.serviceAccountCmd(), a.teamCmd(), a.roleCmd(), a.permissionCmd(), a.accessCmd())
	root.AddCommand(a.policyCmd())
	root.AddCommand(a.tokenCmd())
	return root
}

// versionInfo is what gatehouse version -o json prints.
type versionInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit,omitempty"` // the VCS revision built, when Go recorded it
	GoVersion string `json:"go_version"`
	Platform  string `json:"platform"` // GOOS/GOARCH
}

func (a *app) versionCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Long: `Print the version as "gatehouse VERSION"; -o json and -o yaml add the
commit it was built from (when known), the Go version and the platform.`,
		Example: "  gatehouse version\n  gatehouse version -o json | jq -r .version",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, "text", "json", "yaml"); err != nil {
				return err
			}
			if output == "text" {
				fmt.Fprintln(a.stdout, "gatehouse", version)
				return nil
			}
			v := versionInfo{Version: version, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
			if bi, ok := debug.ReadBuildInfo(); ok {
				for _, s := range bi.Settings {
					if s.Key == "vcs.revision" {
						v.Commit = s.Value
					}
				}
			}
			return printValue(a.stdout, output, v)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text, json or yaml")
	return cmd
}

// noArgs refuses positional arguments as a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError{fmt.Errorf("%q takes no arguments, got %q", cmd.CommandPath(), args)}
	}
	return nil
}

// exactArgs wants n positional arguments, named in the message.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != len(names) {
			return usageError{fmt.Errorf("%q needs %s", cmd.CommandPath(), strings.Join(names, " and "))}
		}
		return nil
	}
}

// bindEnv gives every flag of fs an environment twin GATEHOUSE_<FLAG>
// (upper case, "-" → "_"); a flag on the command line wins.
func bindEnv(fs *pflag.FlagSet, getenv env) error {
	var errs []error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed {
			return
		}
		name := envName(f.Name)
		if v := getenv(name); v != "" {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %v", name, v, err))
			}
		}
	})
	if len(errs) > 0 {
		return usageError{errors.Join(errs...)}
	}
	return nil
}

func envName(flag string) string {
	return "GATEHOUSE_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}
