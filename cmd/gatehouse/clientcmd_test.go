package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/admin"
)

// clientRun runs the command line in-process with only the given
// environment and returns what it printed and its exit code.
func clientRun(t *testing.T, vars map[string]string, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, func(k string) string { return vars[k] }, strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), code
}

// TestEveryCommandHasAnExample: the product promises --help with examples
// on every command.
func TestEveryCommandHasAnExample(t *testing.T) {
	a := &app{env: func(string) string { return "" }}
	var walk func(c *cobra.Command)
	n := 0
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.Hidden || sub.Name() == "help" || sub.Name() == "completion" {
				continue
			}
			n++
			if strings.TrimSpace(sub.Example) == "" {
				t.Errorf("%q has no Example", sub.CommandPath())
			}
			walk(sub)
		}
	}
	walk(a.rootCmd())
	if n < 20 {
		t.Errorf("walked %d commands; the client commands are missing", n)
	}
	stdout, _, code := clientRun(t, nil, "", "role", "assign", "--help")
	if code != 0 || !strings.Contains(stdout, "Examples:\n  gatehouse role assign releaser --user alice") {
		t.Errorf("role assign --help: exit %d\n%s", code, stdout)
	}
}

func TestConfigDir(t *testing.T) {
	tests := []struct {
		vars    map[string]string
		want    string
		wantErr bool
	}{
		{map[string]string{"HOME": "/home/u"}, "/home/u/.config", false},
		{map[string]string{"HOME": "/home/u", "XDG_CONFIG_HOME": "/xdg"}, "/xdg", false},
		{map[string]string{"HOME": "/home/u", "XDG_CONFIG_HOME": "rel"}, "", true},
		{map[string]string{}, "", true},
	}
	for _, tt := range tests {
		got, err := configDir(func(k string) string { return tt.vars[k] })
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("configDir(%v) = %q, %v; want %q (error %v)", tt.vars, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestCredentialsFileIsPrivate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cfg", "gatehouse", "credentials.json")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	// A world-readable file from before is replaced, not rewritten in place.
	if err := os.WriteFile(path, []byte(`{}`), 0o644); err != nil {
		t.Fatal(err)
	}
	c := &credentials{Current: "http://h", Logins: map[string]*storedLogin{"http://h": {Username: "u", Token: "t0k", ExpiresAt: time.Now()}}}
	if err := c.save(path); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s has mode %v, want %v", p, st.Mode().Perm(), want)
		}
	}
	got, err := loadCredentials(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Current != "http://h" || got.Logins["http://h"].Token != "t0k" {
		t.Errorf("loaded %+v", got)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("the directory holds %d files, want only credentials.json", len(entries))
	}
}

// authRecorder is a fake admin API that records the Authorization header
// of each request and answers an empty user list.
type authRecorder struct {
	mu   sync.Mutex // guards seen
	seen []string
}

func (r *authRecorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.seen = append(r.seen, req.Header.Get("Authorization"))
	r.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{"items":[]}`))
}

func (r *authRecorder) headers() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.seen...)
}

// TestServerAndTokenPrecedence: flags and environment override the stored
// login, and a stored token is only ever sent to the server it came from.
func TestServerAndTokenPrecedence(t *testing.T) {
	stored, other := &authRecorder{}, &authRecorder{}
	storedSrv, otherSrv := httptest.NewServer(stored), httptest.NewServer(other)
	defer storedSrv.Close()
	defer otherSrv.Close()
	home := t.TempDir()
	vars := map[string]string{"HOME": home}
	path, err := credentialsPath(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	c := &credentials{Current: storedSrv.URL, Logins: map[string]*storedLogin{
		storedSrv.URL: {Username: "admin", Token: admin.Secret("stored-token"), ExpiresAt: time.Now().Add(time.Hour)},
	}}
	if err := c.save(path); err != nil {
		t.Fatal(err)
	}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{"HOME": home}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}

	if _, stderr, code := clientRun(t, vars, "", "user", "list"); code != 0 {
		t.Fatalf("stored login: exit %d: %s", code, stderr)
	}
	_, stderr, code := clientRun(t, with(map[string]string{"GATEHOUSE_SERVER": otherSrv.URL}), "", "user", "list")
	if code != 1 || !strings.Contains(stderr, "not logged in to "+otherSrv.URL) {
		t.Errorf("GATEHOUSE_SERVER without a login for it: exit %d: %s", code, stderr)
	}
	_, stderr, code = clientRun(t, vars, "", "user", "list", "--server", otherSrv.URL)
	if code != 1 || !strings.Contains(stderr, "not logged in to "+otherSrv.URL) {
		t.Errorf("--server without a login for it: exit %d: %s", code, stderr)
	}
	_, stderr, code = clientRun(t, with(map[string]string{"GATEHOUSE_TOKEN": "env-token"}), "", "user", "list")
	if code != 2 || !strings.Contains(stderr, "no server is") {
		t.Errorf("GATEHOUSE_TOKEN without a server: exit %d: %s", code, stderr)
	}
	_, stderr, code = clientRun(t, with(map[string]string{"GATEHOUSE_TOKEN": "env-token", "GATEHOUSE_SERVER": otherSrv.URL}), "", "user", "list")
	if code != 0 {
		t.Errorf("GATEHOUSE_TOKEN and GATEHOUSE_SERVER: exit %d: %s", code, stderr)
	}
	_, stderr, code = clientRun(t, with(map[string]string{"GATEHOUSE_SERVER": otherSrv.URL}), "", "user", "list", "--server", storedSrv.URL+"/")
	if code != 0 {
		t.Errorf("--server (beating GATEHOUSE_SERVER) naming the stored server: exit %d: %s", code, stderr)
	}

	if got := stored.headers(); len(got) != 2 || got[0] != "Bearer stored-token" || got[1] != "Bearer stored-token" {
		t.Errorf("the stored server saw %q, want the stored token twice", got)
	}
	if got := other.headers(); len(got) != 1 || got[0] != "Bearer env-token" {
		t.Errorf("the other server saw %q, want only the GATEHOUSE_TOKEN request", got)
	}
}

func TestExpiredLoginIsNotSent(t *testing.T) {
	rec := &authRecorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	vars := map[string]string{"HOME": t.TempDir()}
	path, _ := credentialsPath(func(k string) string { return vars[k] })
	c := &credentials{Current: srv.URL, Logins: map[string]*storedLogin{srv.URL: {Username: "bob", Token: "old", ExpiresAt: time.Now().Add(-time.Minute)}}}
	if err := c.save(path); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := clientRun(t, vars, "", "role", "list")
	if code != 1 || !strings.Contains(stderr, "your login to "+srv.URL+" as bob expired") || !strings.Contains(stderr, "--username bob") {
		t.Errorf("exit %d: %s", code, stderr)
	}
	if len(rec.headers()) != 0 {
		t.Errorf("an expired token was sent")
	}
}

func TestLoginNeedsAPasswordSource(t *testing.T) {
	vars := map[string]string{"HOME": t.TempDir()}
	_, stderr, code := clientRun(t, vars, "", "login", "--server", "http://127.0.0.1:1", "--username", "admin")
	if code != 2 || !strings.Contains(stderr, "--password-stdin") || !strings.Contains(stderr, "Usage:") {
		t.Errorf("login with stdin not a terminal: exit %d: %s", code, stderr)
	}
	_, stderr, code = clientRun(t, vars, "\n", "login", "--server", "http://127.0.0.1:1", "--username", "admin", "--password-stdin")
	if code != 2 || !strings.Contains(stderr, "stdin holds no password") {
		t.Errorf("login with an empty stdin: exit %d: %s", code, stderr)
	}
}

func TestLoopbackAliases(t *testing.T) {
	for base, want := range map[string][]string{
		"http://localhost:8080":             {"http://127.0.0.1:8080", "http://[::1]:8080"},
		"http://127.0.0.1:8080":             {"http://localhost:8080", "http://[::1]:8080"},
		"https://[::1]/g":                   {"https://127.0.0.1/g", "https://localhost/g"},
		"http://10.0.0.1:8080":              nil,
		"http://127.0.0.2:8080":             nil,
		"http://localhost.example.com:8080": nil,
	} {
		if got := loopbackAliases(base); !slices.Equal(got, want) {
			t.Errorf("loopbackAliases(%q) = %q, want %q", base, got, want)
		}
	}
}

// TestLoopbackNamesShareALogin: a login stored for http://127.0.0.1:PORT
// is used for http://localhost:PORT, and its token goes to the server it
// was stored for; another port, scheme or host gets no token.
func TestLoopbackNamesShareALogin(t *testing.T) {
	rec := &authRecorder{}
	srv := httptest.NewServer(rec) // http://127.0.0.1:PORT
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	vars := map[string]string{"HOME": t.TempDir()}
	path, _ := credentialsPath(func(k string) string { return vars[k] })
	c := &credentials{Current: srv.URL, Logins: map[string]*storedLogin{
		srv.URL: {Username: "bob", Token: "loopback-token", ExpiresAt: time.Now().Add(time.Hour)},
	}}
	if err := c.save(path); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := clientRun(t, vars, "", "user", "list", "--server", "http://localhost:"+port); code != 0 {
		t.Fatalf("--server http://localhost:%s with a login for %s: exit %d: %s", port, srv.URL, code, stderr)
	}
	if got := rec.headers(); len(got) != 1 || got[0] != "Bearer loopback-token" {
		t.Errorf("the stored server saw %q, want the stored token once", got)
	}
	for _, other := range []string{"https://localhost:" + port, "http://localhost:1", "http://127.0.0.2:" + port} {
		_, stderr, code := clientRun(t, vars, "", "user", "list", "--server", other)
		if code != 1 || !strings.Contains(stderr, "not logged in to "+other) {
			t.Errorf("--server %s: exit %d: %s", other, code, stderr)
		}
	}
	if got := rec.headers(); len(got) != 1 {
		t.Errorf("the server saw %d requests, want 1", len(got))
	}
}
