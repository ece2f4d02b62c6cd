package main

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testkit"
)

// demoRun is a running `gatehouse demo` and what it printed.
type demoRun struct {
	url, ops, admin, guest, guestPW, adminPW string
	login                                    []string // the CLI login line, without "gatehouse"
	cmd                                      *exec.Cmd
	tmp                                      string   // the demo's TMPDIR, where its store lives
	stdout                                   []string // the lines printed up to the tokens
}

// startDemo runs `gatehouse demo` with args on free ports and reads its URL,
// the passwords, the two tokens and the CLI login line from what it
// prints. Its TMPDIR is one of the test's, and it is stopped as Ctrl-C
// stops it (SIGINT), so no test leaves a /tmp/gatehouse-demo-* behind.
func startDemo(t *testing.T, args ...string) demoRun {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	d := demoRun{tmp: t.TempDir()}
	d.cmd = exec.Command(testkit.Binary(t), append([]string{"demo", "--listen", "127.0.0.1:0", "--ops-listen", "127.0.0.1:0"}, args...)...)
	d.cmd.Env = []string{"HOME=" + t.TempDir(), "TMPDIR=" + d.tmp}
	out, err := d.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopDemo(t, d.cmd, os.Interrupt) })
	lines := make(chan string, 256)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	deadline := time.After(30 * time.Second)
	urlRE := regexp.MustCompile(`running at (http://127\.0\.0\.1:\d+) \(metrics at (http://127\.0\.0\.1:\d+)/metrics\)`)
	for d.guest == "" || d.admin == "" || d.url == "" || d.guestPW == "" || d.adminPW == "" || d.login == nil {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("demo exited before printing its tokens")
			}
			d.stdout = append(d.stdout, l)
			if m := urlRE.FindStringSubmatch(l); m != nil {
				d.url, d.ops = m[1], m[2]
			}
			f := strings.Fields(l)
			switch {
			case len(f) >= 3 && f[0] == "guest" && f[2] == "guest":
				d.guestPW = f[1]
			case len(f) >= 3 && f[0] == "admin" && f[2] == "admin":
				d.adminPW = f[1]
			case len(f) > 2 && f[0] == "gatehouse" && f[1] == "login":
				d.login = f[1:]
			case len(f) == 2 && f[0] == "export" && strings.HasPrefix(f[1], "GUEST="):
				d.guest = strings.TrimPrefix(f[1], "GUEST=")
			case len(f) == 2 && f[0] == "export" && strings.HasPrefix(f[1], "ADMIN="):
				d.admin = strings.TrimPrefix(f[1], "ADMIN=")
			}
		case <-deadline:
			t.Fatal("demo printed no URL, passwords, tokens and login line within 30s")
		}
	}
	if d.stdout[0] != demoStarting {
		t.Errorf("the demo's first line is %q; want %q", d.stdout[0], demoStarting)
	}
	return d
}

// stopDemo sends sig to a running demo and waits for it to exit; a demo
// that does not exit within a minute is killed and the test fails. It
// returns the exit error.
func stopDemo(t *testing.T, cmd *exec.Cmd, sig os.Signal) error {
	t.Helper()
	if cmd.ProcessState != nil {
		return nil // stopped already
	}
	_ = cmd.Process.Signal(sig)
	guard := time.AfterFunc(time.Minute, func() { _ = cmd.Process.Kill() })
	defer guard.Stop()
	err := cmd.Wait()
	if !guard.Stop() {
		t.Errorf("the demo did not exit within a minute of %v; killed", sig)
	}
	return err
}

// demoStores lists the demo stores (gatehouse-demo-*) in dir.
func demoStores(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "gatehouse-demo-*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestDemoRemovesItsStore: Ctrl-C (SIGINT) and SIGTERM stop the demo with
// exit code 0, and its temporary store is gone.
func TestDemoRemovesItsStore(t *testing.T) {
	for _, sig := range []os.Signal{os.Interrupt, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			d := startDemo(t)
			stores := demoStores(t, d.tmp)
			if len(stores) != 1 {
				t.Fatalf("want one demo store in the demo's TMPDIR, found %v", stores)
			}
			if _, err := os.Stat(filepath.Join(stores[0], "gatehouse.db")); err != nil {
				t.Fatalf("the demo's store: %v", err)
			}
			if err := stopDemo(t, d.cmd, sig); err != nil {
				t.Errorf("the demo stopped by %v: %v; want exit code 0", sig, err)
			}
			if left := demoStores(t, d.tmp); len(left) > 0 {
				t.Errorf("after %v the demo left %v behind", sig, left)
			}
		})
	}
}

// TestDemoSaysItIsStarting: the demo's first line comes before any slow
// work: here the store cannot even be made (TMPDIR does not exist), and
// the line was printed all the same; the error goes to stderr, exit 1.
func TestDemoSaysItIsStarting(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	c := testkit.NewCLI(t)
	r := c.RunEnv([]string{"TMPDIR=" + filepath.Join(t.TempDir(), "missing")}, "", "demo", "--listen", "127.0.0.1:0", "--ops-listen", "127.0.0.1:0")
	if r.Code != 1 || r.Stdout != demoStarting+"\n" || !strings.HasPrefix(r.Stderr, "Error: demo: a temporary directory for the store: ") {
		t.Errorf("want exit 1, stdout only %q, and the error on stderr; %v", demoStarting, r)
	}
}

// try sends a request as a line of the demo does and checks the status;
// it returns the body.
func (d demoRun) try(t *testing.T, method, path, tok, contentType, body string, want int) string {
	t.Helper()
	req, _ := http.NewRequest(method, d.url+path, strings.NewReader(body))
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != want {
		t.Fatalf("%s %s: %d, want %d: %s", method, path, res.StatusCode, want, b)
	}
	return string(b)
}

// curlForm is the Content-Type curl sends with -d.
const curlForm = "application/x-www-form-urlencoded"

// TestDemo runs `gatehouse demo` as the README says and tries the lines it
// prints: anonymous 401, the guest reading, refused a write, updating its
// own user and not someone else's.
func TestDemo(t *testing.T) {
	d := startDemo(t)
	d.try(t, "GET", "/api/v1/pipelines", "", "", "", 401)
	d.try(t, "GET", "/api/v1/pipelines", d.guest, "", "", 200)
	d.try(t, "POST", "/api/v1/pipelines", d.guest, curlForm, `{"name":"mine"}`, 403)
	d.try(t, "PUT", "/api/v1/users/guest", d.guest, curlForm, `{"full_name":"Gus Guest"}`, 200)
	d.try(t, "PUT", "/api/v1/users/admin", d.guest, curlForm, `{"full_name":"x"}`, 403)
	d.try(t, "POST", "/api/v1/pipelines", d.admin, curlForm, `{"name":"nightly"}`, 201)
	d.try(t, "POST", "/gatehouse/v1/login", "", curlForm, "username=guest&password="+d.guestPW, 200)
	d.cliLogin(t)
}

// cliLogin runs the CLI login line the demo prints and checks that the
// login it stores is the one the other commands look up, under the URL
// the demo and its invitation links show, and under localhost too.
func (d demoRun) cliLogin(t *testing.T) {
	t.Helper()
	cli := testkit.NewCLI(t)
	if want := []string{"login", "--server", d.url, "--username", "admin"}; !slices.Equal(d.login, want) {
		t.Errorf("the demo prints gatehouse %q, want %q", d.login, want)
	}
	out := cli.OKStdin(d.adminPW+"\n", append(d.login, "--password-stdin")...)
	contains(t, "the demo's login line", out, "Logged in to "+d.url+" as admin")
	if out := cli.OK("whoami"); !hasRow(out, "Server:", d.url) || !hasRow(out, "User:", "admin") || !hasRow(out, "Roles:", "admin") {
		t.Errorf("whoami after the demo's login line:\n%s", out)
	}
	if !hasRow(cli.OK("user", "list"), "guest", "Guest User", "active", "guest") {
		t.Error("user list after the demo's login line has no guest")
	}
	contains(t, "an invitation", cli.OK("user", "create", "newcomer"), d.url+"/gatehouse/signup?token=")
	localhost := strings.Replace(d.url, "127.0.0.1", "localhost", 1)
	if !hasRow(cli.OK("user", "list", "--server", localhost), "newcomer", "invited") {
		t.Errorf("the login for %s is not found for %s", d.url, localhost)
	}
}

// TestDemoZenMLPreset runs `gatehouse demo --preset zenml` and tries the
// lines it prints: the login ZenML's clients use, the dashboard without a
// token, the guest reading and refused a write (with "detail"), the admin
// writing.
func TestDemoZenMLPreset(t *testing.T) {
	d := startDemo(t, "--preset", "zenml")
	contains(t, "the login answer", d.try(t, "POST", "/api/v1/login", "", curlForm, "username=guest&password="+d.guestPW, 200), `"access_token"`, `"token_type":"bearer"`)
	contains(t, "the dashboard", d.try(t, "GET", "/", "", "", "", 200), "<h1>Pipelines dashboard</h1>")
	d.try(t, "GET", "/api/v1/stacks", d.guest, "", "", 200)
	contains(t, "the refusal", d.try(t, "POST", "/api/v1/workspaces/default/stacks", d.guest, curlForm, `{"name":"mine"}`, 403),
		`"detail":"POST /api/v1/workspaces/default/stacks is not allowed for you"`)
	d.try(t, "POST", "/api/v1/workspaces/default/stacks", d.admin, curlForm, `{"name":"nightly"}`, 201)
	contains(t, "the anonymous answer", d.try(t, "GET", "/api/v1/stacks", "", "", "", 401), `"detail":"authentication required`)
	d.cliLogin(t)
}
