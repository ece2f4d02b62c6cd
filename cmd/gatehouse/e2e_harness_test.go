package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testkit"
)

// TestMain removes the binary that gatehouseBinary built, once every test
// of the package is done with it.
func TestMain(m *testing.M) {
	code := m.Run()
	if buildPath != "" {
		os.RemoveAll(filepath.Dir(buildPath))
	}
	os.Exit(code)
}

// e2eServer is a running `gatehouse serve` in front of an echo upstream.
type e2eServer struct {
	URL  string            // http://127.0.0.1:PORT, the bound data plane
	proc *process          // the serve process and its log
	up   *testkit.Upstream // what reached the protected server
}

// startGatehouse runs `gatehouse serve` on 127.0.0.1 (startServe) with a
// temporary SQLite store and the admin password adminPW, in front of an
// echo upstream, with extra flags args.
func startGatehouse(t *testing.T, adminPW string, args ...string) *e2eServer {
	t.Helper()
	up := testkit.NewUpstream(t)
	p := startServe(t, []string{"GATEHOUSE_ADMIN_PASSWORD=" + adminPW},
		append([]string{"--upstream", up.URL, "--db", "sqlite:" + filepath.Join(t.TempDir(), "g.db")}, args...)...)
	return &e2eServer{URL: p.url, proc: p, up: up}
}

// e2eCLI runs the built binary as one user would: with a home directory of
// its own (so its own credentials file) and no other environment.
type e2eCLI struct {
	t    *testing.T
	bin  string
	home string
	env  []string
}

func newCLI(t *testing.T) *e2eCLI {
	home := t.TempDir()
	return &e2eCLI{t: t, bin: gatehouseBinary(t), home: home,
		env: []string{"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config")}}
}

// credentialsFile is where this user's login is stored.
func (c *e2eCLI) credentialsFile() string {
	return filepath.Join(c.home, ".config", "gatehouse", "credentials.json")
}

// cliResult is one run of the CLI.
type cliResult struct {
	args           []string
	stdout, stderr string
	code           int
}

func (r cliResult) String() string {
	return fmt.Sprintf("gatehouse %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(r.args, " "), r.code, r.stdout, r.stderr)
}

// runEnv runs gatehouse with args, extra environment and stdin.
func (c *e2eCLI) runEnv(extra []string, stdin string, args ...string) cliResult {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, args...)
	cmd.Env = append(append([]string(nil), c.env...), extra...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	res := cliResult{args: args, stdout: out.String(), stderr: errOut.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		res.code = ee.ExitCode()
	} else if err != nil {
		c.t.Fatalf("gatehouse %s: %v", strings.Join(args, " "), err)
	}
	return res
}

func (c *e2eCLI) run(args ...string) cliResult { c.t.Helper(); return c.runEnv(nil, "", args...) }

// ok runs gatehouse, fails the test unless it exits 0, and returns stdout.
func (c *e2eCLI) ok(args ...string) string {
	c.t.Helper()
	return c.okStdin("", args...)
}

func (c *e2eCLI) okStdin(stdin string, args ...string) string {
	c.t.Helper()
	r := c.runEnv(nil, stdin, args...)
	if r.code != 0 {
		c.t.Fatalf("%v", r)
	}
	return r.stdout
}

// fails runs gatehouse and checks the exit code and that stderr holds
// every wanted piece.
func (c *e2eCLI) fails(code int, want []string, args ...string) cliResult {
	c.t.Helper()
	r := c.run(args...)
	if r.code != code {
		c.t.Errorf("want exit %d; %v", code, r)
		return r
	}
	for _, w := range want {
		if !strings.Contains(r.stderr, w) {
			c.t.Errorf("stderr lacks %q; %v", w, r)
		}
	}
	return r
}

// login logs in with --password-stdin.
func (c *e2eCLI) login(server, user, password string) string {
	c.t.Helper()
	return c.okStdin(password+"\n", "login", "--server", server, "--username", user, "--password-stdin")
}

// contains fails the test unless s holds every wanted piece.
func contains(t *testing.T, what, s string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(s, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, s)
		}
	}
}

// decodeJSON decodes the JSON printed by -o json.
func decodeJSON[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("not JSON (%v):\n%s", err, s)
	}
	return v
}

// invitationURL finds the invitation link in the output of user create or
// user invite.
func invitationURL(t *testing.T, out string) string {
	t.Helper()
	for _, f := range strings.Fields(out) {
		if strings.Contains(f, "/gatehouse/signup?token=") {
			return f
		}
	}
	t.Fatalf("no invitation URL in:\n%s", out)
	return ""
}

// readAll reads a response body and closes it.
func readAll(t *testing.T, r io.ReadCloser) string {
	t.Helper()
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
