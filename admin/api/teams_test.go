package api

import (
	"context"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/admin"
)

// TestTeamsAPI walks the teams' routes and role assignments with a team,
// then every refusal: each names the field or the thing at fault.
func TestTeamsAPI(t *testing.T) {
	f := newAPIFixture(t, nil, "admin-password-1")
	root := f.token(t, "admin")
	ctx := context.Background()
	for _, u := range []string{"bob", "ann"} {
		if _, err := f.svc.CreateUser(ctx, admin.CreateUser{Username: u, Password: u + "-password-1"}); err != nil {
			t.Fatal(err)
		}
	}
	guest := f.token(t, "bob")

	var tm admin.Team
	if st, msg := f.do(t, "POST", "/teams", root, map[string]any{"name": "ops", "users": []string{"bob"}}, &tm); st != 201 {
		t.Fatalf("create: %d %s", st, msg)
	}
	if tm.Name != "ops" || strings.Join(tm.Users, ",") != "bob" || tm.Roles == nil || tm.ID == "" {
		t.Fatalf("created %+v", tm)
	}
	if st, msg := f.do(t, "PATCH", "/teams/ops", root, map[string]any{"add_users": []string{"ann"}, "remove_users": []string{"bob"}}, &tm); st != 200 || strings.Join(tm.Users, ",") != "ann" {
		t.Fatalf("patch: %d %s %+v", st, msg, tm)
	}
	var as admin.Assignment
	if st, msg := f.do(t, "POST", "/role-assignments", root, map[string]any{"role": "admin", "team": "ops"}, &as); st != 201 || as.Team != "ops" || as.User != "" {
		t.Fatalf("assign: %d %s %+v", st, msg, as)
	}
	var list struct{ Items []map[string]any }
	if st, msg := f.do(t, "GET", "/role-assignments?team=ops", root, nil, &list); st != 200 || len(list.Items) != 1 || list.Items[0]["team"] != "ops" || list.Items[0]["user"] != nil {
		t.Fatalf("list by team: %d %s %+v", st, msg, list)
	}
	if st, msg := f.do(t, "GET", "/role-assignments?role=admin", root, nil, &list); st != 200 || len(list.Items) != 2 {
		t.Fatalf("list by role (the admin user and ops): %d %s %+v", st, msg, list)
	}
	var teams struct{ Items []admin.Team }
	if st, msg := f.do(t, "GET", "/teams", guest, nil, &teams); st != 200 || len(teams.Items) != 1 || strings.Join(teams.Items[0].Roles, ",") != "admin" {
		t.Fatalf("list with read: %d %s %+v", st, msg, teams)
	}
	if st, msg := f.do(t, "GET", "/teams/ops", guest, nil, &tm); st != 200 || tm.Name != "ops" {
		t.Fatalf("get with read: %d %s", st, msg)
	}

	for _, c := range []struct {
		method, path string
		body         any
		status       int
		msg          string
	}{
		{"POST", "/teams", map[string]any{"name": "dev"}, 403, "forbidden: this needs the write permission"},
		{"PATCH", "/teams/ops", map[string]any{"add_users": []string{"bob"}}, 403, "forbidden"},
		{"DELETE", "/teams/ops", nil, 403, "forbidden"},
		{"POST", "/role-assignments", map[string]any{"role": "guest", "team": "ops"}, 403, "forbidden"},
	} {
		if st, msg := f.do(t, c.method, c.path, guest, c.body, nil); st != c.status || !strings.Contains(msg, c.msg) {
			t.Errorf("guest %s %s = %d %q, want %d %q", c.method, c.path, st, msg, c.status, c.msg)
		}
	}
	for _, c := range []struct {
		method, path string
		body         any
		status       int
		msg          string
	}{
		{"POST", "/teams", map[string]any{"users": []string{"bob"}}, 400, "name: is required"},
		{"POST", "/teams", map[string]any{"name": "a b"}, 400, "name: must be"},
		{"POST", "/teams", map[string]any{"name": "dev", "members": []string{"bob"}}, 400, "members: unknown field"},
		{"POST", "/teams", map[string]any{"name": "dev", "users": "bob"}, 400, "users: must be a JSON array"},
		{"POST", "/teams", map[string]any{"name": "dev", "users": []string{"zed"}}, 400, `users: unknown user "zed"`},
		{"POST", "/teams", map[string]any{"name": "Ops"}, 409, `team "ops" already exists`},
		{"POST", "/teams", map[string]any{"name": "bob"}, 409, `"bob" is the name of user "bob"`},
		{"POST", "/teams", map[string]any{"name": "guest"}, 409, `"guest" is the name of a role`},
		{"POST", "/teams", map[string]any{"name": "write"}, 409, `"write" is the name of a permission`},
		{"POST", "/users", map[string]any{"username": "ops", "password": "ops-password-1"}, 409, `"ops" is the name of team "ops"`},
		{"POST", "/roles", map[string]any{"name": "ops", "permissions": []string{"read"}}, 409, `"ops" is the name of team "ops"`},
		{"GET", "/teams/nope", nil, 404, `team "nope" not found`},
		{"PATCH", "/teams/nope", map[string]any{"add_users": []string{"bob"}}, 404, `team "nope" not found`},
		{"PATCH", "/teams/ops", map[string]any{}, 400, "add_users: give add_users or remove_users"},
		{"PATCH", "/teams/ops", map[string]any{"add_user": []string{"bob"}}, 400, "add_user: unknown field"},
		{"PATCH", "/teams/ops", map[string]any{"add_users": []string{"zed"}}, 404, `user "zed" not found`},
		{"PATCH", "/teams/ops", map[string]any{"add_users": []string{"ann"}}, 409, `user "ann" is already in team "ops"`},
		{"PATCH", "/teams/ops", map[string]any{"remove_users": []string{"bob"}}, 404, `user "bob" is not in team "ops"`},
		{"DELETE", "/teams/nope", nil, 404, `team "nope" not found`},
		{"POST", "/role-assignments", map[string]any{"role": "admin"}, 400, "user: is required (or team)"},
		{"POST", "/role-assignments", map[string]any{"role": "admin", "user": "bob", "team": "ops"}, 400, "team: give user or team, not both"},
		{"POST", "/role-assignments", map[string]any{"team": "ops"}, 400, "role: is required"},
		{"POST", "/role-assignments", map[string]any{"role": "admin", "team": "ops"}, 409, `team "ops" already has role "admin"`},
		{"POST", "/role-assignments", map[string]any{"role": "nope", "team": "ops"}, 404, `role "nope" not found`},
		{"POST", "/role-assignments", map[string]any{"role": "admin", "team": "nope"}, 404, `team "nope" not found`},
		{"DELETE", "/role-assignments?role=admin", nil, 400, "user: query parameter is required (or team)"},
		{"DELETE", "/role-assignments?role=admin&user=bob&team=ops", nil, 400, "team: give user or team, not both"},
		{"DELETE", "/role-assignments?team=ops", nil, 400, "role: query parameter is required"},
		{"DELETE", "/role-assignments?role=guest&team=ops", nil, 404, `team "ops" does not have role "guest"`},
		{"DELETE", "/role-assignments?role=admin&team=nope", nil, 404, `team "nope" not found`},
		{"GET", "/role-assignments?team=nope", nil, 404, `team "nope" not found`},
		{"GET", "/role-assignments?team=ops&user=bob", nil, 400, "team: give user or team, not both"},
	} {
		if st, msg := f.do(t, c.method, c.path, root, c.body, nil); st != c.status || !strings.Contains(msg, c.msg) {
			t.Errorf("%s %s %v = %d %q, want %d %q", c.method, c.path, c.body, st, msg, c.status, c.msg)
		}
	}

	if st, msg := f.do(t, "DELETE", "/role-assignments?role=admin&team=ops", root, nil, nil); st != 204 {
		t.Fatalf("revoke: %d %s", st, msg)
	}
	if st, msg := f.do(t, "DELETE", "/teams/ops", root, nil, nil); st != 204 {
		t.Fatalf("delete: %d %s", st, msg)
	}
	if st, _ := f.do(t, "GET", "/teams/ops", root, nil, nil); st != 404 {
		t.Fatalf("get after delete: %d", st)
	}
}

// TestTeamsAPIKeepAnAdmin: through the API, a team change that would
// leave no active admin is 409 naming the last admin.
func TestTeamsAPIKeepAnAdmin(t *testing.T) {
	f := newAPIFixture(t, nil, "admin-password-1")
	root := f.token(t, "admin")
	if st, msg := f.do(t, "POST", "/teams", root, map[string]any{"name": "ops", "users": []string{"admin"}}, nil); st != 201 {
		t.Fatalf("create: %d %s", st, msg)
	}
	if st, msg := f.do(t, "POST", "/role-assignments", root, map[string]any{"role": "admin", "team": "ops"}, nil); st != 201 {
		t.Fatalf("assign: %d %s", st, msg)
	}
	if st, msg := f.do(t, "DELETE", "/role-assignments?role=admin&user=admin", root, nil, nil); st != 204 {
		t.Fatalf("revoke the direct role: %d %s", st, msg)
	}
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"PATCH", "/teams/ops", map[string]any{"remove_users": []string{"admin"}}},
		{"DELETE", "/role-assignments?role=admin&team=ops", nil},
		{"DELETE", "/teams/ops", nil},
	} {
		if st, msg := f.do(t, c.method, c.path, root, c.body, nil); st != 409 || !strings.Contains(msg, `user "admin" is the last active admin`) {
			t.Errorf("%s %s = %d %q, want 409 naming the last admin", c.method, c.path, st, msg)
		}
	}
}
