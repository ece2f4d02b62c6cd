package main

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/cmd/gatehouse/internal/client"
	"github.com/gatehouse-dev/gatehouse/internal/testkit"
)

// TestCLITeams drives teams through the built binary against `gatehouse
// serve`: a team's role reaches a member on the member's next request with
// the token they already hold, and leaves with them (leaving the team, the
// role revoked from the team, the team deleted); the last active admin
// cannot lose admin through a team change; and a team may not take a
// user's name. ZenML 0.40 stored team role assignments but never applied
// them to members; this is the test that Gatehouse does.
func TestCLITeams(t *testing.T) {
	const adminPW, alicePW = "admin-password-1", "alice-password-1"
	srv := testkit.StartGatehouse(t, adminPW)
	a := testkit.NewCLI(t)
	a.Login(srv.URL, "admin", adminPW)
	a.OKStdin(alicePW+"\n", "user", "create", "alice", "--password-stdin") // guest: read only
	a.OK("role", "create", "writer", "-p", "read", "-p", "write")

	tok := login(t, srv.URL, "alice", alicePW) // alice's one token for the whole test
	write := func(when string, want int) {
		t.Helper()
		if got, body, _ := do(t, "POST", srv.URL+"/api/v1/pipelines", tok, `{}`); got != want {
			t.Errorf("%s: alice's POST = %d, want %d\n%s", when, got, want, body)
		}
	}
	write("as a guest", http.StatusForbidden)

	contains(t, "team create", a.OK("team", "create", "ml-platform"), "Created team ml-platform with members: -.")
	contains(t, "role assign --team", a.OK("role", "assign", "writer", "--team", "ml-platform"), "Assigned role writer to team ml-platform.")
	write("before joining the team", http.StatusForbidden)

	// Joining: the team's role on the next request, with the same token.
	a.OK("team", "update", "ml-platform", "--add-user", "alice")
	write("after joining the team", http.StatusOK)
	// The upstream is told the roles, the team's among them, never the team.
	if g := srv.Up.Last().Header.Get("X-Forwarded-Groups"); !slices.Contains(strings.Split(g, ","), "writer") || strings.Contains(g, "team") {
		t.Errorf("X-Forwarded-Groups of a member: %q, want the team's role writer and no team", g)
	}
	contains(t, "team describe", a.OK("team", "describe", "ml-platform"), "Members:", "alice", "Roles:", "writer")
	if out := a.OK("team", "list"); !hasRow(out, "ml-platform", "alice", "writer") {
		t.Errorf("team list:\n%s", out)
	}
	if out := a.OK("role", "assignment", "list", "--role", "writer"); !hasRow(out, "-", "ml-platform", "writer", "database") {
		t.Errorf("role assignment list --role writer:\n%s", out)
	}
	as := decodeJSON[struct{ Items []client.Assignment }](t, a.OK("role", "assignment", "list", "--team", "ml-platform", "-o", "json"))
	if len(as.Items) != 1 || as.Items[0].Team != "ml-platform" || as.Items[0].User != "" || as.Items[0].Role != "writer" {
		t.Errorf("role assignment list --team ml-platform -o json: %+v", as.Items)
	}

	// Leaving: gone on the next request.
	a.OK("team", "update", "ml-platform", "--remove-user", "alice")
	write("after leaving the team", http.StatusForbidden)

	// The role revoked from the team: gone from its members' next request.
	a.OK("team", "update", "ml-platform", "--add-user", "alice")
	write("after joining again", http.StatusOK)
	contains(t, "role revoke --team", a.OK("role", "revoke", "writer", "--team", "ml-platform"), "Revoked role writer from team ml-platform.")
	write("after the role was revoked from the team", http.StatusForbidden)

	// The team deleted: its roles go with it.
	a.OK("role", "assign", "writer", "--team", "ml-platform")
	write("after the role was assigned again", http.StatusOK)
	contains(t, "team delete", a.OK("team", "delete", "ml-platform"), "Deleted team ml-platform.")
	write("after the team was deleted", http.StatusForbidden)
	a.Fails(1, []string{"ml-platform", "not found"}, "team", "describe", "ml-platform")

	// Lock-out: once the last active admin holds admin only through a
	// team, no team change may take it away.
	a.OK("team", "create", "admins", "--user", "admin")
	a.OK("role", "assign", "admin", "--team", "admins")
	a.OK("role", "revoke", "admin", "--user", "admin")
	for _, args := range [][]string{
		{"team", "update", "admins", "--remove-user", "admin"},
		{"role", "revoke", "admin", "--team", "admins"},
		{"team", "delete", "admins"},
	} {
		if r := a.Fails(1, []string{"Error: ", "admin"}, args...); r.Stdout != "" {
			t.Errorf("%v printed on stdout: %q", args, r.Stdout)
		}
	}
	if code, body, _ := do(t, "PATCH", srv.URL+"/gatehouse/v1/teams/admins", storedToken(t, a), `{"remove_users":["admin"]}`); code != http.StatusConflict {
		t.Errorf("the last admin leaving the admins team: %d, want 409\n%s", code, body)
	}
	// The admin still is one: the refused changes changed nothing.
	if out := a.OK("team", "describe", "admins"); !hasRow(out, "Members:", "admin") || !hasRow(out, "Roles:", "admin") {
		t.Errorf("team describe admins after the refusals:\n%s", out)
	}
	if code, body, _ := do(t, "POST", srv.URL+"/api/v1/pipelines", storedToken(t, a), `{}`); code != http.StatusOK {
		t.Errorf("the admin's POST through the admins team: %d, want 200\n%s", code, body)
	}

	// Names: a team may not take a user's name (409), and the CLI says so
	// on stderr with exit 1.
	if r := a.Fails(1, []string{"Error: ", "alice"}, "team", "create", "alice"); r.Stdout != "" {
		t.Errorf("team create alice printed on stdout: %q", r.Stdout)
	}
	if code, body, _ := do(t, "POST", srv.URL+"/gatehouse/v1/teams", storedToken(t, a), `{"name":"alice","users":[]}`); code != http.StatusConflict {
		t.Errorf("a team named like a user: %d, want 409\n%s", code, body)
	}
	a.Fails(1, []string{`"ghost"`}, "team", "create", "ghosts", "--user", "ghost")
	a.Fails(2, []string{"nothing to change: give --add-user or --remove-user", "Usage:"}, "team", "update", "admins")
}
