package admin

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/admin/store/storetest"
	"github.com/gatehouse-dev/gatehouse/policy"
)

// workspaceService is a service whose policy binds /ws/{workspace}/*
// routes to a workspace: read opens GET there, a custom "reports"
// permission opens only a global route.
func workspaceService(t *testing.T, dsn string) *Service {
	t.Helper()
	csv := string(policyDefault(t)) +
		"p, read, /ws/{workspace}/*, GET\n" +
		"p, write, /ws/{workspace}/*, POST\n" +
		"p, reports, /reports, GET\n" +
		"g, reporter, reports\n"
	lines, errs := policy.ParseCSV("policy/policy.csv", []byte(csv))
	if len(errs) > 0 {
		t.Fatal(errs[0])
	}
	return serviceWithFiles(t, dsn, &policy.Files{Model: policy.DefaultModel(), ModelName: "model.conf", Lines: lines})
}

// TestWorkspaceAssignments: a role assigned to a user or a team in a
// workspace is a g2 line: listed, shown, decided on the workspace's routes
// only, refused twice, revoked, renamed and deleted with its holder.
func TestWorkspaceAssignments(t *testing.T) {
	eachStore(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := workspaceService(t, dsn)
		ann := mustCreate(t, s, CreateUser{Username: "ann", Password: "ann-password-1", Roles: &[]string{}})
		mustCreate(t, s, CreateUser{Username: "bob", Password: "bob-password-1", Roles: &[]string{}})
		mustTeam(t, s, "ml", "bob")

		a, err := s.Assign(ctx, "ann", "guest", "ws-a")
		want := Assignment{User: "ann", Role: "guest", Workspace: "ws-a", Source: policy.OriginDatabase}
		if err != nil || !reflect.DeepEqual(a, want) {
			t.Fatalf("assign = %+v, %v; want %+v", a, err, want)
		}
		if _, ok := s.eng.Source("g2", "user:ann", "guest", "ws-a"); !ok {
			t.Fatal("no g2 line for ann")
		}
		_, err = s.Assign(ctx, "ann", "guest", "ws-a")
		wantMsg(t, err, ErrConflict, `user "ann" already has role "guest" in workspace "ws-a"`)
		_, err = s.Assign(ctx, "ann", "nope", "ws-a")
		wantMsg(t, err, ErrNotFound, `role "nope" not found`)
		_, err = s.Assign(ctx, "ann", "guest", "ws/a")
		wantField(t, err, "workspace")
		_, err = s.AssignTeam(ctx, "ml", "guest", "bad name")
		wantField(t, err, "workspace")

		// A role whose permissions open no {workspace} route: made, with a warning.
		a, err = s.Assign(ctx, "ann", "reporter", "ws-a")
		if err != nil || len(a.Warnings) != 1 || !strings.Contains(a.Warnings[0], "role reporter reaches no route bound to a workspace ({workspace} in a policy path), so this assignment allows nothing") {
			t.Fatalf("assign reporter = %+v, %v", a, err)
		}
		if a, err := s.AssignTeam(ctx, "ml", "admin", "ws-b"); err != nil || len(a.Warnings) != 0 || a.Team != "ml" || a.Workspace != "ws-b" {
			t.Fatalf("assign team = %+v, %v", a, err)
		}

		decide := func(user, method, path string) bool {
			t.Helper()
			u, err := s.GetUser(ctx, user)
			if err != nil {
				t.Fatal(err)
			}
			d, err := s.eng.Decide(policy.UserSubject(user), u.ID, user, method, path)
			if err != nil {
				t.Fatal(err)
			}
			return d.Allowed
		}
		for _, c := range []struct {
			user, method, path string
			allow              bool
		}{
			{"ann", "GET", "/ws/ws-a/runs", true},
			{"ann", "GET", "/ws/ws-b/runs", false},
			{"ann", "POST", "/ws/ws-a/runs", false},
			{"ann", "GET", "/api/v1/runs", false}, // a global route needs a global role
			{"ann", "GET", "/reports", false},     // reporter in ws-a opens no global route
			{"bob", "POST", "/ws/ws-b/runs", true},
			{"bob", "GET", "/ws/ws-a/runs", false},
		} {
			if got := decide(c.user, c.method, c.path); got != c.allow {
				t.Errorf("%s %s %s: allowed %v, want %v", c.user, c.method, c.path, got, c.allow)
			}
		}
		// A workspace admin is not a Gatehouse admin.
		if s.eng.Reaches("user:bob", policy.RoleAdmin) {
			t.Error("bob reaches admin through a workspace role")
		}

		// The access report: bob's admin in ws-b, by route and through the role.
		rows := report(t, s, ReportFilter{Method: "POST", Path: "/ws/ws-b/runs", Role: "admin"})
		if len(rows) != 2 || rows[0].User != "admin" || rows[1].User != "bob" || rows[1].Workspace != "ws-b" ||
			strings.Join(rows[1].Via, " > ") != "user:bob > team:ml > admin > write" {
			t.Errorf("route query POST /ws/ws-b/runs --role admin: %+v", rows)
		}
		if rows := report(t, s, ReportFilter{Method: "POST", Path: "/ws/ws-a/runs"}); len(rows) != 1 || rows[0].User != "admin" || rows[0].Workspace != "" {
			t.Errorf("route query POST /ws/ws-a/runs: %+v", rows)
		}

		as, err := s.ListAssignments(ctx, "", "", "", "ws-a")
		if err != nil || len(as) != 2 || as[0].Role != "guest" || as[1].Role != "reporter" {
			t.Fatalf("list ws-a = %+v, %v", as, err)
		}
		as, _ = s.ListAssignments(ctx, "", "", "ml", "")
		if len(as) != 1 || as[0].Workspace != "ws-b" {
			t.Fatalf("list team ml = %+v", as)
		}
		_, err = s.ListAssignments(ctx, "", "", "", "a b")
		wantField(t, err, "workspace")
		if u, _ := s.GetUser(ctx, ann.ID); !reflect.DeepEqual(u.WorkspaceRoles, []WorkspaceRole{{"guest", "ws-a"}, {"reporter", "ws-a"}}) || len(u.Roles) != 0 {
			t.Fatalf("ann's view = %+v", u)
		}
		if tm, _ := s.GetTeam(ctx, "ml"); !reflect.DeepEqual(tm.WorkspaceRoles, []WorkspaceRole{{"admin", "ws-b"}}) {
			t.Fatalf("ml's view = %+v", tm)
		}

		// A role held in a workspace is still assigned: not deleted.
		if _, err := s.CreateRole(ctx, "ws-editor", []string{"read"}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AssignTeam(ctx, "ml", "ws-editor", "ws-c"); err != nil {
			t.Fatal(err)
		}
		wantMsg(t, s.DeleteRole(ctx, "ws-editor"), ErrConflict, `still assigned to team "ml" in workspace "ws-c"`)
		if err := s.RevokeTeam(ctx, "ml", "ws-editor", "ws-c"); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteRole(ctx, "ws-editor"); err != nil {
			t.Fatal(err)
		}

		// Revoking: the global role is not the workspace one.
		wantMsg(t, s.Revoke(ctx, "ann", "guest", ""), ErrNotFound, `user "ann" does not have role "guest"`)
		wantMsg(t, s.Revoke(ctx, "ann", "guest", "ws-b"), ErrNotFound, `user "ann" does not have role "guest" in workspace "ws-b"`)
		if err := s.Revoke(ctx, "ann", "reporter", "ws-a"); err != nil {
			t.Fatal(err)
		}

		// Renaming the user renames the g2 line; the workspace keeps its name.
		name := "anne"
		if _, err := s.UpdateUser(ctx, "", "ann", UpdateUser{Username: &name}); err != nil {
			t.Fatal(err)
		}
		if _, ok := s.eng.Source("g2", "user:anne", "guest", "ws-a"); !ok || decide("anne", "GET", "/ws/ws-b/x") || !decide("anne", "GET", "/ws/ws-a/x") {
			t.Fatal("the rename did not carry the workspace role")
		}
		// Deleting the user and the team removes their g2 lines.
		if err := s.DeleteUser(ctx, "", "anne"); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteTeam(ctx, "ml"); err != nil {
			t.Fatal(err)
		}
		if ls := s.eng.ScopedGroupings(); len(ls) != 0 {
			t.Fatalf("g2 lines left: %v", ls)
		}
	})
}

// TestWorkspaceAssignmentFromFile: a g2 line of a policy file is listed
// with its origin and is read-only.
func TestWorkspaceAssignmentFromFile(t *testing.T) {
	csv := string(policyDefault(t)) + "p, read, /ws/{workspace}/*, GET\ng2, user:carol, guest, ws-a\n"
	lines, errs := policy.ParseCSV("policy/policy.csv", []byte(csv))
	if len(errs) > 0 {
		t.Fatal(errs[0])
	}
	s := serviceWithFiles(t, storetest.SQLite(t).DSN, &policy.Files{Model: policy.DefaultModel(), ModelName: "model.conf", Lines: lines})
	ctx := context.Background()
	mustCreate(t, s, CreateUser{Username: "carol", Password: "carol-password", Roles: &[]string{}})
	as, err := s.ListAssignments(ctx, "carol", "", "", "")
	if err != nil || len(as) != 1 || as[0].Workspace != "ws-a" || !strings.HasPrefix(as[0].Source, "policy/policy.csv:") {
		t.Fatalf("list = %+v, %v", as, err)
	}
	_, err = s.Assign(ctx, "carol", "guest", "ws-a")
	wantMsg(t, err, ErrConflict, "policy/policy.csv:")
	wantIs(t, s.Revoke(ctx, "carol", "guest", "ws-a"), ErrConflict)
}
