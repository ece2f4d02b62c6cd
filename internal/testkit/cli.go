package testkit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// CLI runs the built binary as one user would: with a home directory of
// its own (so a credentials file of its own) and no other environment.
type CLI struct {
	Bin  string   // the gatehouse binary
	Home string   // HOME
	Env  []string // the whole environment of each run

	t testing.TB
}

// NewCLI returns a user of the binary that Binary builds.
func NewCLI(t testing.TB) *CLI {
	home := t.TempDir()
	return &CLI{t: t, Bin: Binary(t), Home: home,
		Env: []string{"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config")}}
}

// CredentialsFile is where this user's login is stored.
func (c *CLI) CredentialsFile() string {
	return filepath.Join(c.Home, ".config", "gatehouse", "credentials.json")
}

// Result is one run of the CLI.
type Result struct {
	Args           []string
	Stdout, Stderr string
	Code           int // the exit code
}

func (r Result) String() string {
	return fmt.Sprintf("gatehouse %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(r.Args, " "), r.Code, r.Stdout, r.Stderr)
}

// RunEnv runs gatehouse with args, the extra environment and stdin; it
// fails the test only when the binary could not run.
func (c *CLI) RunEnv(extra []string, stdin string, args ...string) Result {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.Bin, args...)
	cmd.Env = append(append([]string(nil), c.Env...), extra...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	res := Result{Args: args, Stdout: out.String(), Stderr: errOut.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		res.Code = ee.ExitCode()
	} else if err != nil {
		c.t.Fatalf("gatehouse %s: %v", strings.Join(args, " "), err)
	}
	return res
}

// Run runs gatehouse with args.
func (c *CLI) Run(args ...string) Result { c.t.Helper(); return c.RunEnv(nil, "", args...) }

// OK runs gatehouse, fails the test unless it exits 0, and returns stdout.
func (c *CLI) OK(args ...string) string {
	c.t.Helper()
	return c.OKStdin("", args...)
}

// OKStdin is OK with stdin.
func (c *CLI) OKStdin(stdin string, args ...string) string {
	c.t.Helper()
	r := c.RunEnv(nil, stdin, args...)
	if r.Code != 0 {
		c.t.Fatalf("%v", r)
	}
	return r.Stdout
}

// Fails runs gatehouse and checks the exit code and that stderr holds
// every wanted piece.
func (c *CLI) Fails(code int, want []string, args ...string) Result {
	c.t.Helper()
	r := c.Run(args...)
	if r.Code != code {
		c.t.Errorf("want exit %d; %v", code, r)
		return r
	}
	for _, w := range want {
		if !strings.Contains(r.Stderr, w) {
			c.t.Errorf("stderr lacks %q; %v", w, r)
		}
	}
	return r
}

// Login logs in with --password-stdin and returns what login printed.
func (c *CLI) Login(server, user, password string) string {
	c.t.Helper()
	return c.OKStdin(password+"\n", "login", "--server", server, "--username", user, "--password-stdin")
}

// InvitationURL finds the invitation link in the output of `user create`
// or `user invite`.
func InvitationURL(t testing.TB, out string) string {
	t.Helper()
	for _, f := range strings.Fields(out) {
		if strings.Contains(f, "/gatehouse/signup?token=") {
			return f
		}
	}
	t.Fatalf("no invitation URL in:\n%s", out)
	return ""
}
