package main

import (
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/cmd/gatehouse/internal/client"
)

const teamJSON = `{"id":"8d0c5f0e-8f5b-4a43-9a4e-0d6b7a1c2e3f","name":"ml-platform","users":["alice","bob"],"roles":["releaser"],` +
	`"created_at":"2026-12-01T00:00:00Z","updated_at":"2026-12-01T00:00:01Z"}`

// TestTeamCommands: each team command sends what its flags say, prints a
// table or the server's JSON, and refuses command-line mistakes (exit 2)
// and the server's refusals (exit 1, the message on stderr).
func TestTeamCommands(t *testing.T) {
	f := &fakeAPI{answers: map[string]struct {
		status int
		body   string
	}{
		"POST /gatehouse/v1/teams":                                             {201, teamJSON},
		"GET /gatehouse/v1/teams":                                              {200, `{"items":[` + teamJSON + `,{"id":"x","name":"empty","users":[],"roles":[],"created_at":"2026-12-01T00:00:00Z","updated_at":"2026-12-01T00:00:00Z"}]}`},
		"GET /gatehouse/v1/teams/ml-platform":                                  {200, teamJSON},
		"PATCH /gatehouse/v1/teams/ml-platform":                                {200, teamJSON},
		"PATCH /gatehouse/v1/teams/admins":                                     {409, `{"error":{"code":"conflict","message":"admin is the last active admin and cannot lose the admin role"}}`},
		"PATCH /gatehouse/v1/teams/typo":                                       {400, `{"error":{"code":"invalid_field","message":"add_users: user \"ghost\" not found"}}`},
		"DELETE /gatehouse/v1/teams/ml-platform":                               {204, ``},
		"POST /gatehouse/v1/role-assignments":                                  {201, `{"team":"ml-platform","role":"releaser","source":"database"}`},
		"DELETE /gatehouse/v1/role-assignments?role=releaser&team=ml-platform": {204, ``},
		"GET /gatehouse/v1/role-assignments?team=ml-platform":                  {200, `{"items":[{"team":"ml-platform","role":"releaser","source":"database"}]}`},
		"GET /gatehouse/v1/role-assignments": {200, `{"items":[{"user":"alice","role":"guest","source":"database"},` +
			`{"team":"ml-platform","role":"releaser","source":"database"}]}`},
	}}
	env := serveFake(t, f)

	ok := []struct {
		args      []string
		route     string // the request the command sent, and its body
		sent      string
		wantLines []string
	}{
		{[]string{"team", "create", "ml-platform", "--user", "alice", "--user", "bob"},
			"POST /gatehouse/v1/teams", `{"name":"ml-platform","users":["alice","bob"]}`,
			[]string{"Created team ml-platform with members: alice, bob."}},
		{[]string{"team", "list"}, "GET /gatehouse/v1/teams", "",
			[]string{"TEAM          MEMBERS     ROLES      CREATED",
				"ml-platform   alice,bob   releaser   2026-12-01T00:00:00Z",
				"empty         -           -          2026-12-01T00:00:00Z"}},
		{[]string{"team", "describe", "ml-platform"}, "GET /gatehouse/v1/teams/ml-platform", "",
			[]string{"Name:      ml-platform", "Members:   alice, bob", "Roles:     releaser"}},
		{[]string{"team", "update", "ml-platform", "--add-user", "carol", "--remove-user", "bob"},
			"PATCH /gatehouse/v1/teams/ml-platform", `{"add_users":["carol"],"remove_users":["bob"]}`,
			[]string{"Name:      ml-platform"}},
		{[]string{"team", "delete", "ml-platform"}, "DELETE /gatehouse/v1/teams/ml-platform", "",
			[]string{"Deleted team ml-platform."}},
		{[]string{"role", "assign", "releaser", "--team", "ml-platform"},
			"POST /gatehouse/v1/role-assignments", `{"role":"releaser","team":"ml-platform"}`,
			[]string{"Assigned role releaser to team ml-platform."}},
		{[]string{"role", "revoke", "releaser", "--team", "ml-platform"},
			"DELETE /gatehouse/v1/role-assignments?role=releaser&team=ml-platform", "",
			[]string{"Revoked role releaser from team ml-platform."}},
		{[]string{"role", "assignment", "list"}, "GET /gatehouse/v1/role-assignments", "",
			[]string{"USER    TEAM          ROLE       WORKSPACE   SOURCE", "alice   -             guest      *           database", "-       ml-platform   releaser   *           database"}},
		{[]string{"role", "assignment", "list", "--team", "ml-platform"}, "GET /gatehouse/v1/role-assignments?team=ml-platform", "",
			[]string{"-      ml-platform   releaser   *           database"}},
	}
	for _, tt := range ok {
		stdout, stderr, code := clientRun(t, env, "", tt.args...)
		if code != 0 || stderr != "" {
			t.Errorf("%v: exit %d\nstdout %q\nstderr %q", tt.args, code, stdout, stderr)
			continue
		}
		for _, line := range tt.wantLines {
			if !strings.Contains(stdout, line+"\n") {
				t.Errorf("%v: no line %q in\n%s", tt.args, line, stdout)
			}
		}
		if got, sent := f.sent[tt.route]; !sent || got != tt.sent {
			t.Errorf("%v: %s sent %q (sent: %v), want %q", tt.args, tt.route, got, sent, tt.sent)
		}
	}

	// Without --user a team is created empty: "users" is [], not null.
	clientRun(t, env, "", "team", "create", "ml-platform")
	if got := f.sent["POST /gatehouse/v1/teams"]; got != `{"name":"ml-platform","users":[]}` {
		t.Errorf("team create without members sent %s", got)
	}
	// -o json is the server's answer, as sent.
	stdout, _, _ := clientRun(t, env, "", "team", "describe", "ml-platform", "-o", "json")
	if tm := decodeJSON[client.Team](t, stdout); tm.Name != "ml-platform" || strings.Join(tm.Users, ",") != "alice,bob" {
		t.Errorf("team describe -o json:\n%s", stdout)
	}
	stdout, _, _ = clientRun(t, env, "", "role", "assignment", "list", "-o", "json")
	if as := decodeJSON[struct{ Items []client.Assignment }](t, stdout); len(as.Items) != 2 || as.Items[1].Team != "ml-platform" || as.Items[1].User != "" {
		t.Errorf("role assignment list -o json:\n%s", stdout)
	}

	// The server's refusals: exit 1, its message (naming the flag) on stderr.
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"team", "update", "admins", "--remove-user", "admin"}, "Error: admin is the last active admin and cannot lose the admin role\n"},
		{[]string{"team", "update", "typo", "--add-user", "ghost"}, "Error: --add-user: user \"ghost\" not found\n"},
		{[]string{"team", "describe", "nosuch"}, "Error: no route GET /gatehouse/v1/teams/nosuch\n"},
	} {
		stdout, stderr, code := clientRun(t, env, "", tt.args...)
		if code != 1 || stdout != "" || stderr != tt.want {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 1 and %q", tt.args, code, stdout, stderr, tt.want)
		}
	}

	// Command-line mistakes: exit 2, naming the flags, and nothing sent.
	f.sent = map[string]string{}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"team", "update", "ml-platform"}, "nothing to change: give --add-user or --remove-user"},
		{[]string{"team", "update", "ml-platform", "--add-user", "bob", "--remove-user", "bob"}, `user "bob" is both added and removed`},
		{[]string{"team", "create"}, `"gatehouse team create" needs TEAM`},
		{[]string{"team", "delete", "a", "b"}, `"gatehouse team delete" needs TEAM`},
		{[]string{"role", "assign", "releaser"}, "give --user USERNAME, --service-account NAME or --team TEAM"},
		{[]string{"role", "assign", "releaser", "--user", "alice", "--team", "ml-platform"}, "give one of --user, --service-account and --team, not several"},
		{[]string{"role", "revoke", "releaser", "--service-account", "ci-bot", "--team", "ml-platform"}, "not several"},
		{[]string{"role", "assignment", "list", "--user", "a", "--service-account", "b"}, "give --user or --service-account, not both"},
		{[]string{"team"}, `"gatehouse team" needs a command`},
	} {
		stdout, stderr, code := clientRun(t, env, "", tt.args...)
		if code != 2 || stdout != "" || !strings.Contains(stderr, tt.want) || !strings.Contains(stderr, "Usage:") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 2 and %q", tt.args, code, stdout, stderr, tt.want)
		}
	}
	if len(f.sent) != 0 {
		t.Errorf("a command-line mistake reached the server: %v", f.sent)
	}
}
