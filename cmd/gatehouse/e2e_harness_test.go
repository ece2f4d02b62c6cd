package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// e2eBuild is the gatehouse binary the end-to-end tests run, built once
// per test binary on first use and removed by TestMain.
var e2eBuild struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if e2eBuild.dir != "" {
		os.RemoveAll(e2eBuild.dir)
	}
	os.Exit(code)
}

// gatehouseBinary builds ./cmd/gatehouse once and returns its path.
func gatehouseBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: builds and runs the binary; skipped with -short")
	}
	e2eBuild.once.Do(func() {
		if e2eBuild.dir, e2eBuild.err = os.MkdirTemp("", "gatehouse-e2e-"); e2eBuild.err != nil {
			return
		}
		e2eBuild.bin = filepath.Join(e2eBuild.dir, "gatehouse")
		if runtime.GOOS == "windows" {
			e2eBuild.bin += ".exe"
		}
		out, err := exec.Command("go", "build", "-o", e2eBuild.bin, ".").CombinedOutput()
		if err != nil {
			e2eBuild.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if e2eBuild.err != nil {
		t.Fatal(e2eBuild.err)
	}
	return e2eBuild.bin
}

// lockedBuffer is a bytes.Buffer safe for one writer and many readers.
type lockedBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// e2eServer is a running `gatehouse serve` in front of an echo upstream.
type e2eServer struct {
	URL string        // http://127.0.0.1:PORT, the bound data plane
	Log *lockedBuffer // everything serve wrote to stderr
}

// startGatehouse runs `gatehouse serve` on 127.0.0.1 (ports picked by the
// kernel, read back from the "gatehouse serving" log line) with a temporary
// SQLite store, the admin password adminPW, and an echo upstream that
// answers every request with what it received.
func startGatehouse(t *testing.T, adminPW string) *e2eServer {
	t.Helper()
	bin := gatehouseBinary(t)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"method": r.Method, "path": r.URL.Path, "headers": r.Header})
	}))
	t.Cleanup(up.Close)
	dir := t.TempDir()
	cmd := exec.Command(bin, "serve", "--listen", "127.0.0.1:0", "--ops-listen", "127.0.0.1:0",
		"--upstream", up.URL, "--db", "sqlite:"+filepath.Join(dir, "g.db"))
	cmd.Env = []string{"HOME=" + dir, "GATEHOUSE_ADMIN_PASSWORD=" + adminPW}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	srv := &e2eServer{Log: &lockedBuffer{}}
	listen := make(chan string, 1)
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Bytes()
			srv.Log.Write(append(line, '\n'))
			var rec struct{ Msg, Listen string }
			if json.Unmarshal(line, &rec) == nil && rec.Msg == "gatehouse serving" {
				listen <- rec.Listen
			}
		}
	}()
	exited := make(chan error, 1)
	go func() { <-copied; exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			t.Errorf("serve did not stop on SIGTERM; log:\n%s", srv.Log)
		}
	})
	select {
	case addr := <-listen:
		srv.URL = "http://" + addr
	case err := <-exited:
		exited <- err
		t.Fatalf("serve exited before serving (%v); log:\n%s", err, srv.Log)
	case <-time.After(60 * time.Second):
		t.Fatalf("serve did not log \"gatehouse serving\" in 60s; log:\n%s", srv.Log)
	}
	return srv
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
