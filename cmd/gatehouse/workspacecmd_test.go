package main

import (
	"strings"
	"testing"
)

// TestWorkspaceRoleCommands: --workspace reaches the API on assign,
// revoke and list; the answer's warnings go to stderr with exit 0; the
// list shows WORKSPACE ("*" for a global role) and describe shows the
// workspace roles as ROLE@WORKSPACE.
func TestWorkspaceRoleCommands(t *testing.T) {
	warning := "role reporter reaches no route bound to a workspace ({workspace} in a policy path), so this assignment allows nothing"
	f := &fakeAPI{answers: map[string]struct {
		status int
		body   string
	}{
		"POST /gatehouse/v1/role-assignments": {201, `{"user":"ann","role":"reporter","workspace":"ws-a","source":"database","warnings":["` +
			strings.ReplaceAll(warning, `"`, `\"`) + `"]}`},
		"DELETE /gatehouse/v1/role-assignments?role=guest&team=ml&workspace=ws-a": {204, ``},
		"GET /gatehouse/v1/role-assignments?workspace=ws-a": {200, `{"items":[{"user":"ann","role":"guest","workspace":"ws-a","source":"database"},` +
			`{"team":"ml","role":"admin","source":"policy/policy.csv:3"}]}`},
		"GET /gatehouse/v1/users/ann": {200, `{"id":"1","username":"ann","roles":[],"workspace_roles":[{"role":"guest","workspace":"ws-a"},{"role":"admin","workspace":"ws-b"}],` +
			`"state":"active","active":true,"created_at":"2026-12-01T00:00:00Z"}`},
	}}
	env := serveFake(t, f)

	stdout, stderr, code := clientRun(t, env, "", "role", "assign", "reporter", "--user", "ann", "--workspace", "ws-a")
	if code != 0 || stdout != "Assigned role reporter to user ann in workspace ws-a.\n" || stderr != "warning: "+warning+"\n" {
		t.Errorf("assign: exit %d\nstdout %q\nstderr %q", code, stdout, stderr)
	}
	if got := f.sent["POST /gatehouse/v1/role-assignments"]; got != `{"role":"reporter","user":"ann","workspace":"ws-a"}` {
		t.Errorf("assign sent %s", got)
	}
	stdout, stderr, code = clientRun(t, env, "", "role", "revoke", "guest", "--team", "ml", "--workspace", "ws-a")
	if code != 0 || stdout != "Revoked role guest from team ml in workspace ws-a.\n" {
		t.Errorf("revoke: exit %d\nstdout %q\nstderr %q", code, stdout, stderr)
	}
	stdout, _, code = clientRun(t, env, "", "role", "assignment", "list", "--workspace", "ws-a")
	for _, line := range []string{"USER   TEAM   ROLE    WORKSPACE   SOURCE", "ann    -      guest   ws-a        database", "-      ml     admin   *           policy/policy.csv:3"} {
		if code != 0 || !strings.Contains(stdout, line+"\n") {
			t.Errorf("list: exit %d, no line %q in\n%s", code, line, stdout)
		}
	}
	stdout, _, code = clientRun(t, env, "", "user", "describe", "ann")
	if code != 0 || !strings.Contains(stdout, "Workspace roles:   guest@ws-a, admin@ws-b\n") {
		t.Errorf("describe: exit %d\n%s", code, stdout)
	}
}
