package main

import (
	"bufio"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// demoRun is a running `gatehouse demo` and what it printed.
type demoRun struct {
	url, admin, guest, guestPW, adminPW string
	login                               []string // the CLI login line, without "gatehouse"
}

// startDemo runs `gatehouse demo` with args on free ports and reads its URL,
// the passwords, the two tokens and the CLI login line from what it
// prints.
func startDemo(t *testing.T, args ...string) demoRun {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	cmd := exec.Command(gatehouseBinary(t), append([]string{"demo", "--listen", "127.0.0.1:0", "--ops-listen", "127.0.0.1:0"}, args...)...)
	cmd.Env = []string{"HOME=" + t.TempDir()}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := make(chan string, 256)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var d demoRun
	deadline := time.After(30 * time.Second)
	urlRE := regexp.MustCompile(`running at (http://127\.0\.0\.1:\d+)`)
	for d.guest == "" || d.admin == "" || d.url == "" || d.guestPW == "" || d.adminPW == "" || d.login == nil {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("demo exited before printing its tokens")
			}
			if m := urlRE.FindStringSubmatch(l); m != nil {
				d.url = m[1]
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
	return d
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
	cli := newCLI(t)
	if want := []string{"login", "--server", d.url, "--username", "admin"}; !slices.Equal(d.login, want) {
		t.Errorf("the demo prints gatehouse %q, want %q", d.login, want)
	}
	out := cli.okStdin(d.adminPW+"\n", append(d.login, "--password-stdin")...)
	contains(t, "the demo's login line", out, "Logged in to "+d.url+" as admin")
	if out := cli.ok("whoami"); !hasRow(out, "Server:", d.url) || !hasRow(out, "User:", "admin") || !hasRow(out, "Roles:", "admin") {
		t.Errorf("whoami after the demo's login line:\n%s", out)
	}
	if !hasRow(cli.ok("user", "list"), "guest", "Guest User", "active", "guest") {
		t.Error("user list after the demo's login line has no guest")
	}
	contains(t, "an invitation", cli.ok("user", "create", "newcomer"), d.url+"/gatehouse/signup?token=")
	localhost := strings.Replace(d.url, "127.0.0.1", "localhost", 1)
	if !hasRow(cli.ok("user", "list", "--server", localhost), "newcomer", "invited") {
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
