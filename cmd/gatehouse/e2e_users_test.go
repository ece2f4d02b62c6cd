package main

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/gatehouse-dev/gatehouse/cmd/gatehouse/internal/client"
	"github.com/gatehouse-dev/gatehouse/internal/testkit"
)

// TestCLIUserManagement walks ZenML's user-management page with the built
// binary, as a new operator would type it, against `gatehouse serve`: log
// in, create users with and without a role and a password, list the
// permissions, create a role, assign, revoke and list assignments,
// describe, update and delete users, and take an invitation link through
// sign-up to a login of the invited user.
func TestCLIUserManagement(t *testing.T) {
	const adminPW, alicePW, bobPW = "admin-password-1", "alice-password-1", "bob-password-1"
	srv := testkit.StartGatehouse(t, adminPW)
	admin := testkit.NewCLI(t)

	// Log in; the token lands in a private file under the config dir.
	out := admin.Login(srv.URL, "admin", adminPW)
	contains(t, "login", out, "Logged in to "+srv.URL+" as admin", admin.CredentialsFile())
	for p, want := range map[string]os.FileMode{admin.CredentialsFile(): 0o600, filepath.Dir(admin.CredentialsFile()): 0o700} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", p, st.Mode().Perm(), want)
		}
	}
	creds, err := os.ReadFile(admin.CredentialsFile())
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(creds, []byte(adminPW)) {
		t.Error("the credentials file holds the password")
	}

	// user create: with a role and a password (active at once) ...
	out = admin.OKStdin(alicePW+"\n", "user", "create", "alice", "--role", "admin",
		"--email", "alice@example.com", "--full-name", "Alice Liddell", "--password-stdin")
	contains(t, "user create alice", out, "Created user alice (active) with roles: admin.")
	if strings.Contains(out, "/gatehouse/signup") {
		t.Errorf("a user with a password got an invitation:\n%s", out)
	}
	// ... and without either: the default role and an invitation link.
	out = admin.OK("user", "create", "bob")
	contains(t, "user create bob", out, "Created user bob (inactive until they sign up) with roles: guest.", srv.URL+"/gatehouse/signup?token=")
	// The start-up log names the server by the URL of its links.
	contains(t, "the start-up log", srv.Proc.Logs(), `"url":"`+srv.URL+`"`)
	bobLink := testkit.InvitationURL(t, out)
	// An unknown role is refused and leaves no user behind.
	admin.Fails(1, []string{`roles: unknown role "nosuch"`}, "user", "create", "carol", "--role", "nosuch")
	admin.Fails(1, []string{`user "carol" not found`}, "user", "describe", "carol")

	out = admin.OK("user", "list")
	contains(t, "user list", out, "USERNAME", "STATE", "ROLES")
	for _, row := range [][]string{{"admin", "active", "admin"}, {"alice", "Alice Liddell", "alice@example.com", "active", "admin"}, {"bob", "invited", "guest"}} {
		if !hasRow(out, row...) {
			t.Errorf("user list has no row %q:\n%s", row, out)
		}
	}

	// permission list shows what each permission opens.
	out = admin.OK("permission", "list")
	for _, row := range [][]string{{"read", "/*", "GET|HEAD"}, {"write", "/*", "POST|PUT|PATCH|DELETE"}, {"me", "/api/v1/users/{self}", "GET|PUT|PATCH"}} {
		if !hasRow(out, row...) {
			t.Errorf("permission list has no row %q:\n%s", row, out)
		}
	}

	// role create, role list.
	out = admin.OK("role", "create", "releaser", "-p", "read", "-p", "write", "-p", "me")
	contains(t, "role create", out, "Created role releaser with permissions: me, read, write.")
	out = admin.OK("role", "list")
	if !hasRow(out, "releaser", "me,read,write", "no", "database") || !hasRow(out, "guest", "me,read", "yes") {
		t.Errorf("role list:\n%s", out)
	}
	roles := decodeJSON[struct{ Items []client.Role }](t, admin.OK("role", "list", "-o", "json"))
	if len(roles.Items) != 3 {
		t.Errorf("role list -o json: %+v, want admin, guest and releaser", roles.Items)
	}
	var yamlRoles struct{ Items []client.Role }
	if out := admin.OK("role", "list", "-o", "yaml"); yaml.Unmarshal([]byte(out), &yamlRoles) != nil || !reflect.DeepEqual(yamlRoles, roles) {
		t.Errorf("role list -o yaml says other than -o json:\n%s", out)
	}

	// role assign, role assignment list, role revoke.
	contains(t, "role assign", admin.OK("role", "assign", "releaser", "--user", "bob"), "Assigned role releaser to user bob.")
	out = admin.OK("role", "assignment", "list", "--user", "bob")
	if !hasRow(out, "bob", "guest") || !hasRow(out, "bob", "releaser") || strings.Contains(out, "alice") {
		t.Errorf("role assignment list --user bob:\n%s", out)
	}
	as := decodeJSON[struct{ Items []client.Assignment }](t, admin.OK("role", "assignment", "list", "--role", "releaser", "-o", "json"))
	if len(as.Items) != 1 || as.Items[0].User != "bob" {
		t.Errorf("role assignment list --role releaser: %+v", as.Items)
	}
	admin.Fails(1, []string{`role "releaser" is still assigned to bob`}, "role", "delete", "releaser")
	contains(t, "role revoke", admin.OK("role", "revoke", "releaser", "--user", "bob"), "Revoked role releaser from user bob.")
	if out = admin.OK("role", "assignment", "list", "--role", "releaser"); hasRow(out, "bob") {
		t.Errorf("bob still holds releaser after the revoke:\n%s", out)
	}
	contains(t, "role update", admin.OK("role", "update", "releaser", "--remove-permission", "write"), "Updated role releaser with permissions: me, read.")

	// user describe and update.
	out = admin.OK("user", "describe", "bob")
	contains(t, "user describe bob", out, "Username:", "bob", "State:", "invited (has not signed up yet", "Roles:", "guest")
	out = admin.OK("user", "update", "bob", "--full-name", "Bob Builder", "--email", "bob@example.com")
	contains(t, "user update bob", out, "Bob Builder", "bob@example.com")

	// The invitation: sign-up page → password → login as bob.
	page := signupWithForm(t, bobLink, bobPW)
	contains(t, "the sign-up result", page, "Your account is ready", "gatehouse login --server "+srv.URL+" --username bob")
	bob := testkit.NewCLI(t)
	contains(t, "bob's login", bob.Login(srv.URL, "bob", bobPW), "Logged in to "+srv.URL+" as bob")
	if !hasRow(bob.OK("user", "list"), "bob", "Bob Builder", "bob@example.com", "active", "guest") {
		t.Error("bob (guest, read) cannot see himself active in user list")
	}
	bob.Fails(1, []string{"this needs the write permission"}, "user", "delete", "alice")
	if st, body, _ := do(t, "GET", srv.URL+"/api/v1/pipelines", storedToken(t, bob), ""); st != http.StatusOK {
		t.Errorf("bob's GET through the proxy: %d %s", st, body)
	} else if got := srv.Up.Last().Header.Get("X-Forwarded-User"); got != "bob" {
		t.Errorf("the upstream saw X-Forwarded-User %q, want bob", got)
	}
	// A used link is gone.
	if st, _ := getStatus(t, bobLink); st != http.StatusGone {
		t.Errorf("GET of a used invitation: %d, want 410", st)
	}

	// A second invitation, used through the JSON API instead of the page.
	out = admin.OK("user", "create", "dave", "--role", "releaser")
	daveLink := testkit.InvitationURL(t, out)
	c, err := client.New(srv.URL, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Signup(t.Context(), mustQuery(t, daveLink, "token"), "dave-password-1")
	if err != nil || !res.Value.Active {
		t.Fatalf("POST /gatehouse/v1/signup: %+v, %v", res.Value, err)
	}
	testkit.NewCLI(t).Login(srv.URL, "dave", "dave-password-1")

	// A key rotation keeps earlier tokens valid and signs new ones.
	contains(t, "token rotate-key", admin.OK("token", "rotate-key"), "New tokens are signed with key")
	admin.OK("user", "list")
	bob.OK("user", "list")

	// Deactivating bob ends his token at once; deleting him removes him.
	contains(t, "user update --active=false", admin.OK("user", "update", "bob", "--active=false"), "State:", "deactivated")
	bob.Fails(1, []string{"invalid or expired token", "log in again: gatehouse login --server " + srv.URL + " --username bob"}, "user", "list")
	contains(t, "user delete", admin.OK("user", "delete", "bob"), "Deleted user bob.")
	admin.Fails(1, []string{`user "bob" not found`}, "user", "describe", "bob")

	// Wrong input: API refusals exit 1 with the API's message ...
	admin.Fails(1, []string{`Error: role "nosuch" not found`}, "role", "assign", "nosuch", "--user", "alice")
	admin.Fails(1, []string{`user "ghost" not found`}, "role", "assign", "releaser", "--user", "ghost")
	admin.Fails(1, []string{`remove_permissions: role "releaser" does not have permission "write"`}, "role", "update", "releaser", "--remove-permission", "write")
	// Roles change by delta on the server: add and remove in one request.
	contains(t, "role update", admin.OK("role", "update", "releaser", "--add-permission", "write", "--add-permission", "me", "--remove-permission", "read"), "me, write")
	admin.Fails(1, []string{"you cannot delete yourself"}, "user", "delete", "admin")
	// ... command-line mistakes exit 2 with what is wrong and the usage.
	for _, tt := range []struct {
		args []string
		msg  string
	}{
		{[]string{"user", "create"}, `"gatehouse user create" needs USERNAME`},
		{[]string{"user", "describe"}, `"gatehouse user describe" needs USERNAME`},
		{[]string{"user", "delete", "a", "b"}, `"gatehouse user delete" needs USERNAME`},
		{[]string{"user", "update", "alice"}, "nothing to change"},
		{[]string{"role", "create"}, `"gatehouse role create" needs ROLE`},
		{[]string{"role", "assign", "releaser"}, "give --user USERNAME, --service-account NAME or --team TEAM"},
		{[]string{"role", "update", "releaser"}, "nothing to change"},
		{[]string{"role", "assignment", "list", "extra"}, "takes no arguments"},
		{[]string{"user", "list", "-o", "xml"}, `--output "xml": want table, json or yaml`},
		{[]string{"user", "lst"}, `unknown command "lst" for "gatehouse user"`},
		{[]string{"role"}, `"gatehouse role" needs a command`},
		{[]string{"user", "create", "x", "--rol", "admin"}, "unknown flag: --rol"},
	} {
		admin.Fails(2, []string{tt.msg, "Usage:\n  gatehouse " + tt.args[0]}, tt.args...)
	}

	// Nothing the server logged holds a password or a token.
	secrets := []string{adminPW, alicePW, bobPW, mustQuery(t, bobLink, "token"), mustQuery(t, daveLink, "token"), storedToken(t, admin)}
	for _, s := range secrets {
		if strings.Contains(srv.Proc.Logs(), s) {
			t.Errorf("the server log holds a secret (%.6s…)", s)
		}
	}
}

// TestCLIEnvironmentOverridesLogin: GATEHOUSE_SERVER and GATEHOUSE_TOKEN
// work without any stored login, and a refused GATEHOUSE_TOKEN says so.
func TestCLIEnvironmentOverridesLogin(t *testing.T) {
	srv := testkit.StartGatehouse(t, "admin-password-1")
	admin := testkit.NewCLI(t)
	admin.Login(srv.URL, "admin", "admin-password-1")
	tok := storedToken(t, admin)

	ci := testkit.NewCLI(t) // no login of its own
	ci.Fails(2, []string{"no server: log in first"}, "user", "list")
	r := ci.RunEnv([]string{"GATEHOUSE_SERVER=" + srv.URL, "GATEHOUSE_TOKEN=" + tok}, "", "user", "list", "-o", "json")
	if r.Code != 0 {
		t.Fatalf("%v", r)
	}
	if users := decodeJSON[struct{ Items []client.User }](t, r.Stdout); len(users.Items) != 1 || users.Items[0].Username != "admin" {
		t.Errorf("user list -o json: %+v", users.Items)
	}
	r = ci.RunEnv([]string{"GATEHOUSE_TOKEN=" + tok}, "", "user", "list", "--server", srv.URL)
	if r.Code != 0 {
		t.Errorf("--server with GATEHOUSE_TOKEN: %v", r)
	}
	r = ci.RunEnv([]string{"GATEHOUSE_SERVER=" + srv.URL, "GATEHOUSE_TOKEN=not-a-token"}, "", "role", "list")
	if r.Code != 1 || !strings.Contains(r.Stderr, "invalid or expired token (GATEHOUSE_TOKEN was refused") {
		t.Errorf("a bad GATEHOUSE_TOKEN: %v", r)
	}
	// The environment beats the stored login too.
	r = admin.RunEnv([]string{"GATEHOUSE_TOKEN=not-a-token", "GATEHOUSE_SERVER=" + srv.URL}, "", "role", "list")
	if r.Code != 1 {
		t.Errorf("GATEHOUSE_TOKEN did not override the stored login: %v", r)
	}
	r = admin.RunEnv([]string{"GATEHOUSE_SERVER=http://127.0.0.1:1"}, "", "role", "list")
	if r.Code != 1 || !strings.Contains(r.Stderr, "not logged in to http://127.0.0.1:1") {
		t.Errorf("GATEHOUSE_SERVER did not override the stored server: %v", r)
	}
	// A wrong password fails the login and keeps the stored one.
	r = admin.RunEnv(nil, "wrong-password\n", "login", "--server", srv.URL, "--username", "admin", "--password-stdin")
	if r.Code != 1 || !strings.Contains(r.Stderr, "invalid username or password") {
		t.Errorf("login with a wrong password: %v", r)
	}
	admin.OK("role", "list")
}

// hasRow reports whether a line of a table starts with cells[0] and holds
// the other cells after it, in order.
func hasRow(table string, cells ...string) bool {
	for _, line := range strings.Split(table, "\n") {
		rest := strings.Join(strings.Fields(line), " ")
		if rest != cells[0] && !strings.HasPrefix(rest, cells[0]+" ") {
			continue
		}
		ok := true
		for _, c := range cells {
			i := strings.Index(rest, c)
			if i < 0 {
				ok = false
				break
			}
			rest = rest[i+len(c):]
		}
		if ok {
			return true
		}
	}
	return false
}

// storedToken reads the token a CLI user stored at login.
func storedToken(t *testing.T, c *testkit.CLI) string {
	t.Helper()
	b, err := os.ReadFile(c.CredentialsFile())
	if err != nil {
		t.Fatal(err)
	}
	creds := decodeJSON[credentials](t, string(b))
	l := creds.Logins[creds.Current]
	if l == nil || l.Token == "" {
		t.Fatalf("no stored token in %s", b)
	}
	return string(l.Token)
}

func getStatus(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, readAll(t, resp.Body)
}
