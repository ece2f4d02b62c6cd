package api

import (
	"context"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/admin"
)

// TestWorkspaceAssignmentsAPI: POST /role-assignments takes "workspace"
// and answers with it (and, under the default policy, which binds no route
// to a workspace, with a warning); GET and DELETE take workspace=; every
// refusal names its field.
func TestWorkspaceAssignmentsAPI(t *testing.T) {
	f := newAPIFixture(t, nil, "admin-password-1")
	root := f.token(t, "admin")
	ctx := context.Background()
	if _, err := f.svc.CreateUser(ctx, admin.CreateUser{Username: "ann", Password: "ann-password-1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.CreateTeam(ctx, "ml", nil); err != nil {
		t.Fatal(err)
	}
	var as admin.Assignment
	st, msg := f.do(t, "POST", "/role-assignments", root, map[string]any{"role": "guest", "user": "ann", "workspace": "ws-a"}, &as)
	if st != 201 || as.User != "ann" || as.Workspace != "ws-a" || len(as.Warnings) != 1 ||
		as.Warnings[0] != "role guest reaches no route bound to a workspace ({workspace} in a policy path), so this assignment allows nothing" {
		t.Fatalf("assign: %d %s %+v", st, msg, as)
	}
	if st, msg := f.do(t, "POST", "/role-assignments", root, map[string]any{"role": "admin", "team": "ml", "workspace": "ws-b"}, &as); st != 201 || as.Team != "ml" || as.Workspace != "ws-b" {
		t.Fatalf("assign team: %d %s %+v", st, msg, as)
	}
	var list struct{ Items []map[string]any }
	if st, msg := f.do(t, "GET", "/role-assignments?workspace=ws-a", root, nil, &list); st != 200 || len(list.Items) != 1 || list.Items[0]["workspace"] != "ws-a" || list.Items[0]["warnings"] != nil {
		t.Fatalf("list ws-a: %d %s %+v", st, msg, list)
	}
	if st, msg := f.do(t, "GET", "/role-assignments?user=ann", root, nil, &list); st != 200 || len(list.Items) != 2 {
		t.Fatalf("list ann (guest, guest in ws-a): %d %s %+v", st, msg, list)
	}
	var u admin.User
	if st, msg := f.do(t, "GET", "/users/ann", root, nil, &u); st != 200 || len(u.WorkspaceRoles) != 1 || u.WorkspaceRoles[0] != (admin.WorkspaceRole{Role: "guest", Workspace: "ws-a"}) {
		t.Fatalf("get ann: %d %s %+v", st, msg, u)
	}
	for _, c := range []struct {
		method, path string
		body         any
		status       int
		msg          string
	}{
		{"POST", "/role-assignments", map[string]any{"role": "guest", "user": "ann", "workspace": "ws-a"}, 409, `user "ann" already has role "guest" in workspace "ws-a"`},
		{"POST", "/role-assignments", map[string]any{"role": "nope", "user": "ann", "workspace": "ws-a"}, 404, `role "nope" not found`},
		{"POST", "/role-assignments", map[string]any{"role": "guest", "user": "ann", "workspace": "ws a"}, 400, "workspace: must be"},
		{"POST", "/role-assignments", map[string]any{"role": "guest", "user": "ann", "workspace": 3}, 400, "workspace:"},
		{"POST", "/role-assignments", map[string]any{"role": "guest", "user": "ann", "workspaces": "ws-a"}, 400, "workspaces: unknown field"},
		{"GET", "/role-assignments?workspace=a%2Fb", nil, 400, "workspace: must be"},
		{"DELETE", "/role-assignments?user=ann&role=guest&workspace=ws-b", nil, 404, `user "ann" does not have role "guest" in workspace "ws-b"`},
		{"DELETE", "/role-assignments?user=ann&role=guest&workspace=a+b", nil, 400, "workspace: must be"},
		{"DELETE", "/role-assignments?team=ml&role=admin&workspace=ws-b", nil, 204, ""},
		{"DELETE", "/role-assignments?user=ann&role=guest&workspace=ws-a", nil, 204, ""},
	} {
		if st, msg := f.do(t, c.method, c.path, root, c.body, nil); st != c.status || !strings.Contains(msg, c.msg) {
			t.Errorf("%s %s = %d %q, want %d %q", c.method, c.path, st, msg, c.status, c.msg)
		}
	}
	// The global guest role stays.
	list.Items = nil
	if st, msg := f.do(t, "GET", "/role-assignments?user=ann", root, nil, &list); st != 200 || len(list.Items) != 1 || list.Items[0]["workspace"] != nil {
		t.Fatalf("list ann after revoke: %d %s %+v", st, msg, list)
	}
}
