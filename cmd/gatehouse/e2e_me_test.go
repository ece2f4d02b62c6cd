package main

import (
	"net/http"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/gatehouse-dev/gatehouse/internal/testkit"
)

// TestCLIMe walks a guest's own account with the built binary against
// `gatehouse serve`: whoami, me describe, me update (and the rename it
// refuses), me password with a wrong, a weak and a good new password
// (old tokens die, the stored login is renewed), a password change under
// GATEHOUSE_TOKEN, and logout.
func TestCLIMe(t *testing.T) {
	const adminPW, bobPW, bobPW2, bobPW3 = "admin-password-1", "bob-password-1", "bob-password-two", "bob-password-three"
	srv := testkit.StartGatehouse(t, adminPW)
	admin := testkit.NewCLI(t)
	admin.Login(srv.URL, "admin", adminPW)
	admin.OKStdin(bobPW+"\n", "user", "create", "bob", "--password-stdin")
	bob := testkit.NewCLI(t)
	bob.Login(srv.URL, "bob", bobPW)

	out := bob.OK("whoami")
	for _, row := range [][]string{{"Server:", srv.URL}, {"User:", "bob"}, {"Roles:", "guest"}, {"Token:", "stored login in " + bob.CredentialsFile()}} {
		if !hasRow(out, row...) {
			t.Errorf("whoami has no row %q:\n%s", row, out)
		}
	}
	contains(t, "me describe", bob.OK("me", "describe"), "Username:", "bob", "State:", "active", "Roles:", "guest")
	var me struct{ Username, State string }
	if out := bob.OK("me", "describe", "-o", "yaml"); yaml.Unmarshal([]byte(out), &me) != nil || me.Username != "bob" || me.State != "active" {
		t.Errorf("me describe -o yaml:\n%s", out)
	}

	// The case: bob cannot use user update on himself (write), but
	// me update works.
	bob.Fails(1, []string{"this needs the write permission"}, "user", "update", "bob", "--full-name", "Bob Builder")
	out = bob.OK("me", "update", "--full-name", "Bob Builder", "--email", "bob@example.com")
	if !hasRow(out, "Full name:", "Bob Builder") || !hasRow(out, "Email:", "bob@example.com") {
		t.Errorf("me update:\n%s", out)
	}
	if !hasRow(admin.OK("user", "list"), "bob", "Bob Builder", "bob@example.com") {
		t.Error("the admin does not see bob's change")
	}
	bob.Fails(1, []string{"email"}, "me", "update", "--email", "not an email")
	bob.Fails(2, []string{"--username: renaming yourself needs the write permission", "gatehouse user update OLD --username NEW", "Usage:"}, "me", "update", "--username", "robert")
	bob.Fails(2, []string{"nothing to change: give --full-name or --email"}, "me", "update")
	bob.Fails(2, []string{"unknown command \"pasword\" for \"gatehouse me\"", "Did you mean this?\n\tpassword"}, "me", "pasword")

	// me password: refused changes change nothing ...
	oldTok := storedToken(t, bob)
	for _, tt := range []struct {
		stdin string
		code  int
		want  string
	}{
		{"wrong-password-1\n" + bobPW2 + "\n", 1, "current password: is wrong"},
		{bobPW + "\nshort\n", 1, "new password: must be at least 12 characters"},
		{bobPW + "\n", 2, "--password-stdin: stdin holds no new password (line 1: the current password, line 2: the new one)"},
		{"", 2, "stdin holds no current password"},
	} {
		r := bob.RunEnv(nil, tt.stdin, "me", "password", "--password-stdin")
		if r.Code != tt.code || !strings.Contains(r.Stderr, tt.want) {
			t.Errorf("me password, stdin %q: want exit %d and %q; %v", tt.stdin, tt.code, tt.want, r)
		}
	}
	bob.Fails(2, []string{"stdin is not a terminal to ask for the current password: pass it with --password-stdin"}, "me", "password")
	if st, body, _ := do(t, "GET", srv.URL+"/api/v1/pipelines", oldTok, ""); st != http.StatusOK {
		t.Fatalf("bob's token after refused changes: %d %s", st, body)
	}
	// ... a good one ends every earlier token and renews the stored login.
	out = bob.OKStdin(bobPW+"\n"+bobPW2+"\n", "me", "password", "--password-stdin")
	contains(t, "me password", out, "Changed the password of bob. Every earlier token of bob has stopped working.",
		"Logged in to "+srv.URL+" again; the new token is stored in "+bob.CredentialsFile())
	if st, _, _ := do(t, "GET", srv.URL+"/api/v1/pipelines", oldTok, ""); st != http.StatusUnauthorized {
		t.Errorf("bob's old token after the change: %d, want 401", st)
	}
	if newTok := storedToken(t, bob); newTok == oldTok {
		t.Error("the stored token was not renewed")
	}
	if !hasRow(bob.OK("whoami"), "User:", "bob") {
		t.Error("whoami fails after me password")
	}
	if r := testkit.NewCLI(t).RunEnv(nil, bobPW+"\n", "login", "--server", srv.URL, "--username", "bob", "--password-stdin"); r.Code != 1 || !strings.Contains(r.Stderr, "invalid username or password") {
		t.Errorf("a login with the old password: %v", r)
	}

	// Under GATEHOUSE_TOKEN nothing is stored: the command says the token
	// is spent, and the stored login dies with every other token.
	ci := testkit.NewCLI(t)
	r := ci.RunEnv([]string{"GATEHOUSE_SERVER=" + srv.URL, "GATEHOUSE_TOKEN=" + storedToken(t, bob)}, bobPW2+"\n"+bobPW3+"\n", "me", "password", "--password-stdin")
	if r.Code != 0 || !strings.Contains(r.Stdout, "GATEHOUSE_TOKEN has stopped working too") {
		t.Errorf("me password with GATEHOUSE_TOKEN: %v", r)
	}
	bob.Fails(1, []string{"invalid or expired token (log in again: gatehouse login --server " + srv.URL + " --username bob)"}, "whoami")

	// logout forgets the login, once.
	contains(t, "logout", bob.OK("logout"), "Forgot the login to "+srv.URL+" as bob (removed from "+bob.CredentialsFile()+").")
	contains(t, "a second logout", bob.OK("logout"), "No stored login: nothing to forget.")
	bob.Fails(2, []string{"no server: log in first"}, "whoami")

	for _, s := range []string{bobPW, bobPW2, bobPW3, oldTok} {
		if strings.Contains(srv.Proc.Logs(), s) {
			t.Errorf("the server log holds a secret (%.6s…)", s)
		}
	}
}
