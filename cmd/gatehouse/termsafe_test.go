package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/admin"
)

func TestTermSafe(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"Ann Lee", "Ann Lee"},
		{"Zoë Ångström 李", "Zoë Ångström 李"},
		{"red\x1b[31m", `red\u001b[31m`},
		{"csi\u009b31m", `csi\u009b31m`},
		{"gnp\u202eexe.", `gnp\u202eexe.`},
		{"tab\tnew\nline", `tab\u0009new\u000aline`},
	} {
		if got := termSafe(c.in); got != c.want {
			t.Errorf("termSafe(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if got := termSafe("a\nb\x07", '\n'); got != "a\nb\\u0007" {
		t.Errorf("keeping newlines: %q", got)
	}
}

// TestCLIEscapesWhatAServerSends: whatever a server answers (a user stored
// before names were checked, a hostile server), the CLI prints no raw
// control or bidirectional characters, in tables, JSON and errors.
func TestCLIEscapesWhatAServerSends(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == "POST" && r.URL.Path == "/gatehouse/v1/users":
			w.WriteHeader(http.StatusCreated)
			w.Write([]byte(`{"id":"1","username":"mal\u001b]0;t\u0007","state":"invited","roles":["r` + "\u202e" + `x"],` +
				`"invitation_url":"http://x/\u001b[2J","invitation_expires_at":"2030-01-01T00:00:00Z"}`))
		case r.URL.Path == "/gatehouse/v1/users":
			w.Write([]byte(`{"items":[{"id":"1","username":"mal","full_name":"Mal\u001b]0;pwned\u0007\u001b[2J` + "\u202e" + `live","roles":[],"state":"active"}]}`))
		case r.URL.Path == "/gatehouse/v1/users/mal":
			w.Write([]byte(`{"id":"1","username":"mal","full_name":"Mal\u001b[2J` + "\u202e\u009b" + `live","email":"m@example.com","roles":[],"state":"active"}`))
		default:
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"error":{"code":"forbidden","message":"no\u001b[2J` + "\u202e" + `pe"}}`))
		}
	}))
	defer srv.Close()
	env := map[string]string{"GATEHOUSE_SERVER": srv.URL, "GATEHOUSE_TOKEN": "t", "HOME": t.TempDir()}
	check := func(what, out string) {
		t.Helper()
		if i := strings.IndexFunc(out, func(r rune) bool { return admin.UnsafeRune(r) && r != '\n' }); i >= 0 {
			t.Errorf("%s prints a raw %U:\n%q", what, []rune(out[i:])[0], out)
		}
	}
	for _, args := range [][]string{{"user", "list"}, {"user", "describe", "mal"}, {"user", "describe", "mal", "-o", "json"},
		{"user", "delete", "x"}, {"user", "create", "mal"}} {
		stdout, stderr, _ := clientRun(t, env, "", args...)
		check(strings.Join(args, " ")+" (stdout)", stdout)
		check(strings.Join(args, " ")+" (stderr)", stderr)
		if !strings.Contains(stdout+stderr, `\u202e`) {
			t.Errorf("%s: the escape is not shown:\n%s%s", strings.Join(args, " "), stdout, stderr)
		}
	}
}
