package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeTerminal is a prompter with a person who types answers, in order,
// and a record of the prompts shown.
type fakeTerminal struct {
	answers []string
	prompts []string
}

func (f *fakeTerminal) next(prompt string) (string, error) {
	f.prompts = append(f.prompts, prompt)
	if len(f.answers) == 0 {
		return "", errors.New("the person at the terminal has nothing more to type")
	}
	a := f.answers[0]
	f.answers = f.answers[1:]
	return a, nil
}

func (f *fakeTerminal) Line(prompt string) (string, error) { return f.next(prompt) }

func (f *fakeTerminal) Secret(prompt string) ([]byte, error) {
	s, err := f.next("(no echo) " + prompt)
	return []byte(s), err
}

// terminalRun runs the command line in-process as if stdin were the
// terminal tty (nil: not a terminal), with only the given environment.
func terminalRun(t *testing.T, vars map[string]string, tty prompter, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	a := &app{env: func(k string) string { return vars[k] }, stdin: strings.NewReader(""), stdout: &out, stderr: &errOut, prompt: tty}
	code := a.execute(context.Background(), args)
	return out.String(), errOut.String(), code
}

// fakeLogin is an admin API that answers POST /gatehouse/v1/login and
// records the credentials it got.
type fakeLogin struct {
	mu  sync.Mutex // guards got
	got []string   // "username:password" of each login
}

func (f *fakeLogin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var in struct{ Username, Password string }
	if r.URL.Path != "/gatehouse/v1/login" || json.NewDecoder(r.Body).Decode(&in) != nil {
		http.Error(w, `{"error":{"code":"not_found","message":"no"}}`, http.StatusNotFound)
		return
	}
	f.mu.Lock()
	f.got = append(f.got, in.Username+":"+in.Password)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{"access_token":"tok-` + in.Username + `","token_type":"bearer","expires_in":3600}`))
}

func (f *fakeLogin) logins() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.got...)
}

// TestLoginAsksForTheUsername: login without --username (and without a
// stored login to take it from) asks at the terminal, then asks for the
// password without echo; without a terminal it names the missing flag.
func TestLoginAsksForTheUsername(t *testing.T) {
	api := &fakeLogin{}
	srv := httptest.NewServer(api)
	defer srv.Close()
	vars := map[string]string{"HOME": t.TempDir()}

	tty := &fakeTerminal{answers: []string{"  bob ", "bobs-password"}}
	stdout, stderr, code := terminalRun(t, vars, tty, "login", "--server", srv.URL)
	if code != 0 || !strings.Contains(stdout, "Logged in to "+srv.URL+" as bob.") {
		t.Fatalf("exit %d: %s%s", code, stdout, stderr)
	}
	want := []string{"Username for " + srv.URL + ": ", "(no echo) Password for bob at " + srv.URL + ": "}
	if strings.Join(tty.prompts, "|") != strings.Join(want, "|") {
		t.Errorf("prompts %q, want %q", tty.prompts, want)
	}
	if got := api.logins(); len(got) != 1 || got[0] != "bob:bobs-password" {
		t.Errorf("the server got logins %q", got)
	}
	path, _ := credentialsPath(func(k string) string { return vars[k] })
	creds, err := loadCredentials(path)
	if err != nil || creds.Logins[srv.URL] == nil || creds.Logins[srv.URL].Username != "bob" {
		t.Errorf("stored %+v, %v", creds, err)
	}

	// The next login takes the username from the stored login.
	tty = &fakeTerminal{answers: []string{"bobs-password"}}
	if _, stderr, code := terminalRun(t, vars, tty, "login", "--server", srv.URL); code != 0 || len(tty.prompts) != 1 {
		t.Errorf("a second login: exit %d, prompts %q: %s", code, tty.prompts, stderr)
	}

	other := map[string]string{"HOME": t.TempDir()}
	_, stderr, code = terminalRun(t, other, nil, "login", "--server", srv.URL, "--password-stdin")
	if code != 2 || !strings.Contains(stderr, "--username is required (stdin is not a terminal to ask for it)") {
		t.Errorf("no terminal: exit %d: %s", code, stderr)
	}
	_, stderr, code = terminalRun(t, other, &fakeTerminal{answers: []string{" "}}, "login", "--server", srv.URL)
	if code != 1 || !strings.Contains(stderr, "no username given") {
		t.Errorf("an empty username: exit %d: %s", code, stderr)
	}
	_, stderr, code = terminalRun(t, other, &fakeTerminal{answers: []string{"bob", ""}}, "login", "--server", srv.URL)
	if code != 1 || !strings.Contains(stderr, "no password given") {
		t.Errorf("an empty password: exit %d: %s", code, stderr)
	}
	if got := api.logins(); len(got) != 2 {
		t.Errorf("the server got %d logins, want 2 (nothing sent without a username or password)", len(got))
	}
}

// TestTerminalLineLeavesTypeAhead: the username prompt reads its line and
// no more, so a password typed ahead is left for the password prompt.
func TestTerminalLineLeavesTypeAhead(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	go func() {
		w.Write([]byte("alice\r\ntyped-ahead\n"))
		w.Close()
	}()
	var shown bytes.Buffer
	p := ttyPrompter{in: r, out: &shown}
	line, err := p.Line("Username: ")
	if err != nil || line != "alice" || shown.String() != "Username: " {
		t.Fatalf("Line = %q, %v; shown %q", line, err, shown.String())
	}
	rest, _ := io.ReadAll(r)
	if string(rest) != "typed-ahead\n" {
		t.Errorf("left %q for the next prompt, want the typed-ahead line", rest)
	}
	r2, w2, _ := os.Pipe()
	defer r2.Close()
	w2.Close()
	if _, err := (ttyPrompter{in: r2, out: io.Discard}).Line("Username: "); err == nil {
		t.Error("end of input gave a username")
	}
}

// TestReadPasswordSources: --password-stdin reads one line; without it a
// terminal is needed, and the message says which flag to use instead.
func TestReadPasswordSources(t *testing.T) {
	a := &app{stdin: strings.NewReader("pw-1\r\nsecond line\n")}
	if pw, err := a.readPassword(true, ""); err != nil || pw != "pw-1" {
		t.Errorf("--password-stdin: %q, %v", pw, err)
	}
	a = &app{stdin: strings.NewReader("")}
	if _, err := a.readPassword(false, "Password: "); err == nil || !strings.Contains(err.Error(), "--password-stdin") {
		t.Errorf("no terminal: %v", err)
	}
	a = &app{prompt: &fakeTerminal{answers: []string{"typed"}}}
	if pw, err := a.readPassword(false, "Password: "); err != nil || pw != "typed" {
		t.Errorf("terminal: %q, %v", pw, err)
	}
}

// TestLoginReplacesALoopbackAlias: a login to http://localhost:PORT
// replaces the one stored for http://127.0.0.1:PORT (the same server), so
// the older token is not found first when the other name is typed.
func TestLoginReplacesALoopbackAlias(t *testing.T) {
	srv := httptest.NewServer(&fakeLogin{})
	defer srv.Close()
	localhost := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	vars := map[string]string{"HOME": t.TempDir()}
	path := storeLogins(t, vars, srv.URL, map[string]*storedLogin{
		srv.URL:              {Username: "old", Token: "old-token", ExpiresAt: time.Now().Add(-time.Minute)},
		"http://127.0.0.1:1": {Username: "other", Token: "other-token", ExpiresAt: time.Now().Add(time.Hour)},
	})
	if _, stderr, code := clientRun(t, vars, "pw\n", "login", "--server", localhost, "--username", "bob", "--password-stdin"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	creds, err := loadCredentials(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(creds.Logins) != 2 || creds.Logins[srv.URL] != nil || creds.Logins[localhost] == nil || creds.Logins[localhost].Token != "tok-bob" || creds.Logins["http://127.0.0.1:1"] == nil {
		t.Errorf("logins after the login: %+v", creds.Logins)
	}
	if server, l := creds.login(srv.URL); server != localhost || l == nil || l.Username != "bob" {
		t.Errorf("the login for %s is %s's %+v, want bob's for %s", srv.URL, server, l, localhost)
	}
}
