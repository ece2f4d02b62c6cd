package main

import (
	"bufio"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/testkit"
)

// forwarded sends a request with token and reports whether it reached the
// upstream (the echo upstream answers with X-Echo-Method) and the status.
func forwarded(t *testing.T, method, url, token string) (bool, int) {
	t.Helper()
	body := ""
	if method == "POST" || method == "PUT" {
		body = "{}"
	}
	st, _, h := do(t, method, url, token, body)
	return h.Get("X-Echo-Method") != "", st
}

// TestCLIWorkspaceRoles drives workspace-scoped roles through the built
// binary: a user whose only role is guest in ws-a reads ws-a, not ws-b and
// not a global route; a role that opens no workspace route is assigned
// with a warning on stderr; a team's role in a workspace reaches a new
// member on the next request with the token they hold, and leaves with
// them. ZenML 0.40 stored workspace assignments but applied them
// everywhere; this is the test that Gatehouse keeps them to their
// workspace.
func TestCLIWorkspaceRoles(t *testing.T) {
	const adminPW = "admin-password-1"
	dir := policyDirWith(t,
		"p, read, /api/v1/workspaces/{workspace}/*, GET",
		"p, write, /api/v1/workspaces/{workspace}/*, POST")
	srv := testkit.StartGatehouse(t, adminPW, "--policy-dir", dir)
	a := testkit.NewCLI(t)
	a.Login(srv.URL, "admin", adminPW)
	a.OKStdin("ann-password-1\n", "user", "create", "ann", "--password-stdin")
	a.OKStdin("bob-password-1\n", "user", "create", "bob", "--password-stdin") // guest: reads everywhere, writes nowhere
	a.OK("role", "revoke", "guest", "--user", "ann")                           // ann: no global role at all
	contains(t, "role assign --workspace", a.OK("role", "assign", "guest", "--user", "ann", "--workspace", "ws-a"),
		"Assigned role guest to user ann in workspace ws-a.")

	ann := login(t, srv.URL, "ann", "ann-password-1")
	for _, c := range []struct {
		method, path string
		allow        bool
	}{
		{"GET", "/api/v1/workspaces/ws-a/stacks", true},
		{"GET", "/api/v1/workspaces/ws-b/stacks", false},
		{"POST", "/api/v1/workspaces/ws-a/stacks", false}, // guest does not write
		{"GET", "/api/v1/pipelines", false},               // a global route needs a global role
	} {
		if ok, st := forwarded(t, c.method, srv.URL+c.path, ann); ok != c.allow {
			t.Errorf("ann %s %s: forwarded %v (%d), want %v", c.method, c.path, ok, st, c.allow)
		}
	}
	out := a.OK("role", "assignment", "list", "--workspace", "ws-a")
	if !hasRow(out, "ann", "-", "guest", "ws-a", "database") {
		t.Errorf("role assignment list --workspace ws-a:\n%s", out)
	}
	if out := a.OK("access", "report", "--user", "ann"); !hasRow(out, "ann", "user", "true", "read", "ws-a", "user:ann > guest > read") {
		t.Errorf("access report --user ann:\n%s", out)
	}
	contains(t, "user describe", a.OK("user", "describe", "ann"), "Workspace roles:", "guest@ws-a")

	// A role whose permissions open no {workspace} route: made, with a
	// warning on stderr and exit 0.
	a.OK("role", "create", "profile", "-p", "me")
	r := a.Run("role", "assign", "profile", "--user", "ann", "--workspace", "ws-a")
	if r.Code != 0 || !strings.Contains(r.Stderr, "warning: role profile reaches no route bound to a workspace") {
		t.Errorf("assign a role of global routes only: %v", r)
	}
	a.Fails(1, []string{`user "ann" already has role "guest" in workspace "ws-a"`}, "role", "assign", "guest", "--user", "ann", "--workspace", "ws-a")
	a.Fails(1, []string{"workspace"}, "role", "assign", "guest", "--user", "ann", "--workspace", "ws a")
	a.Fails(1, []string{`user "ann" does not have role "guest" in workspace "ws-b"`}, "role", "revoke", "guest", "--user", "ann", "--workspace", "ws-b")

	// A team's workspace role: reaches bob on joining, leaves with him.
	bob := login(t, srv.URL, "bob", "bob-password-1")
	write := func(when, ws string, want bool) {
		t.Helper()
		if ok, st := forwarded(t, "POST", srv.URL+"/api/v1/workspaces/"+ws+"/stacks", bob); ok != want {
			t.Errorf("%s: bob's POST in %s forwarded %v (%d), want %v", when, ws, ok, st, want)
		}
	}
	a.OK("role", "create", "writer", "-p", "read", "-p", "write")
	a.OK("team", "create", "ml")
	contains(t, "role assign --team --workspace", a.OK("role", "assign", "writer", "--team", "ml", "--workspace", "ws-a"),
		"Assigned role writer to team ml in workspace ws-a.")
	write("before joining", "ws-a", false)
	a.OK("team", "update", "ml", "--add-user", "bob")
	write("after joining", "ws-a", true)
	write("after joining, another workspace", "ws-b", false)
	if ok, _ := forwarded(t, "POST", srv.URL+"/api/v1/pipelines", bob); ok {
		t.Error("bob writes a global route through a workspace role")
	}
	contains(t, "team describe", a.OK("team", "describe", "ml"), "Workspace roles:", "writer@ws-a")
	a.OK("team", "update", "ml", "--remove-user", "bob")
	write("after leaving", "ws-a", false)
	a.OK("team", "update", "ml", "--add-user", "bob")
	write("after joining again", "ws-a", true)
	contains(t, "role revoke --team --workspace", a.OK("role", "revoke", "writer", "--team", "ml", "--workspace", "ws-a"),
		"Revoked role writer from team ml in workspace ws-a.")
	write("after the revoke", "ws-a", false)

	// Deleting the user takes its workspace roles with it.
	a.OK("user", "delete", "ann")
	if out := a.OK("role", "assignment", "list", "--workspace", "ws-a"); strings.Contains(out, "ann") {
		t.Errorf("ann's workspace roles outlive her:\n%s", out)
	}
}

// zenmlTableRoute is a row of ZenML 0.40's route table.
type zenmlTableRoute struct{ method, path, perm string }

// readZenMLTable reads policy/testdata/zenml-0.40-routes.tsv, the table the
// preset reproduces.
func readZenMLTable(t *testing.T) []zenmlTableRoute {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot(t), "policy", "testdata", "zenml-0.40-routes.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []zenmlTableRoute
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rec := strings.Split(sc.Text(), "\t")
		if len(rec) != 3 || strings.HasPrefix(rec[0], "#") || rec[0] == "method" {
			continue
		}
		out = append(out, zenmlTableRoute{rec[0], rec[1], rec[2]})
	}
	if len(out) < 100 {
		t.Fatalf("read %d routes", len(out))
	}
	return out
}

// TestZenMLWorkspacesThroughBinary sends every row of ZenML 0.40's route
// table through `gatehouse serve --preset zenml`, in workspaces ws-a and
// ws-b, for a global admin, a writer in ws-a only, a member of a team that
// writes in ws-a, and an anonymous caller, and checks that what is
// forwarded is what the table's permission column says: the admin
// everything, the workspace writers read and write on the routes inside
// ws-a only (nothing global, not renaming or deleting the workspace),
// anonymous the public routes only.
func TestZenMLWorkspacesThroughBinary(t *testing.T) {
	const adminPW = "admin-password-1"
	srv := testkit.StartGatehouse(t, adminPW, "--preset", "zenml")
	a := testkit.NewCLI(t)
	a.Login(srv.URL, "admin", adminPW)
	a.OK("role", "create", "editor", "-p", "read", "-p", "write")
	for _, u := range []string{"wes", "tina"} {
		a.OKStdin(u+"-password-1\n", "user", "create", u, "--password-stdin")
		a.OK("role", "revoke", "guest", "--user", u)
	}
	a.OK("role", "assign", "editor", "--user", "wes", "--workspace", "ws-a")
	a.OK("team", "create", "ml", "--user", "tina")
	a.OK("role", "assign", "editor", "--team", "ml", "--workspace", "ws-a")

	type who struct {
		name, token    string
		global, scoped []string // permissions everywhere, and in ws-a
	}
	callers := []who{
		{"admin", login(t, srv.URL, "admin", adminPW), []string{"read", "write", "me"}, nil},
		{"wes", login(t, srv.URL, "wes", "wes-password-1"), nil, []string{"read", "write"}},
		{"tina", login(t, srv.URL, "tina", "tina-password-1"), nil, []string{"read", "write"}},
		{"", "", nil, nil},
	}
	closed := []string{"POST /api/v1/login", "PUT /api/v1/users/{user_name_or_id}/activate"}
	globalOnly := []string{"PUT /api/v1/workspaces/{workspace_name_or_id}", "DELETE /api/v1/workspaces/{workspace_name_or_id}"}
	sent, scopedForwards := 0, 0
	for _, r := range readZenMLTable(t) {
		if slices.Contains(closed, r.method+" "+r.path) {
			continue
		}
		bound := strings.HasPrefix(r.path, "/api/v1/workspaces/{workspace_name_or_id}") && !slices.Contains(globalOnly, r.method+" "+r.path)
		for _, ws := range []string{"ws-a", "ws-b"} {
			if ws == "ws-b" && !strings.Contains(r.path, "{workspace_name_or_id}") {
				continue
			}
			for _, c := range callers {
				path := strings.ReplaceAll(r.path, "{workspace_name_or_id}", ws)
				self := c.name // a route naming a user names the caller ("me" is about oneself)
				if self == "" {
					self = "someone"
				}
				path = strings.ReplaceAll(path, "{user_name_or_id}", self)
				parts := strings.Split(path, "/")
				for i, p := range parts {
					if strings.HasPrefix(p, "{") {
						parts[i] = "x1"
					}
				}
				path = strings.Join(parts, "/")
				want := r.perm == "none" || slices.Contains(c.global, r.perm) ||
					(bound && ws == "ws-a" && slices.Contains(c.scoped, r.perm))
				got, st := forwarded(t, r.method, srv.URL+path, c.token)
				if got != want {
					t.Errorf("%s %s (table: %s %s %s) as %q: forwarded %v (%d), want %v", r.method, path, r.method, r.path, r.perm, c.name, got, st, want)
				}
				if !got && st != http.StatusForbidden && st != http.StatusUnauthorized {
					t.Errorf("%s %s as %q: refused with %d, want 401 or 403", r.method, path, c.name, st)
				}
				if got && c.global == nil && c.name != "" {
					scopedForwards++
				}
				sent++
			}
		}
	}
	if scopedForwards < 40 {
		t.Errorf("only %d requests forwarded through a workspace role", scopedForwards)
	}
	t.Logf("%d requests sent, %d forwarded through a workspace role only", sent, scopedForwards)
}
