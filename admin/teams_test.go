package admin

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/admin/store/storetest"
	"github.com/gatehouse-dev/gatehouse/policy"
)

// wantMsg fails unless err is target and its message holds part.
func wantMsg(t *testing.T, err, target error, part string) {
	t.Helper()
	if !errors.Is(err, target) || !strings.Contains(err.Error(), part) {
		t.Fatalf("err = %v, want %v saying %q", err, target, part)
	}
}

// mustTeam creates a team or fails the test.
func mustTeam(t *testing.T, s *Service, name string, users ...string) Team {
	t.Helper()
	tm, err := s.CreateTeam(context.Background(), name, users)
	if err != nil {
		t.Fatalf("create team %s: %v", name, err)
	}
	return tm
}

// assignments renders ListAssignments as "who:role" lines.
func assignments(t *testing.T, s *Service, user, role, team string) string {
	t.Helper()
	as, err := s.ListAssignments(context.Background(), user, role, team, "")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range as {
		who := "user:" + a.User
		if a.Team != "" {
			who = "team:" + a.Team
		}
		out = append(out, who+"="+a.Role)
	}
	return strings.Join(out, " ")
}

func TestTeamsConformance(t *testing.T) {
	eachStore(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := conformanceService(t, dsn)
		mustCreate(t, s, CreateUser{Username: "bob", Password: "bob-password-1"})
		mustCreate(t, s, CreateUser{Username: "ann", Password: "ann-password-1"})
		if _, err := s.CreateServiceAccount(ctx, CreateServiceAccount{Name: "ci"}); err != nil {
			t.Fatal(err)
		}

		ops := mustTeam(t, s, "ops", "bob", "ann", "ci")
		if strings.Join(ops.Users, ",") != "ann,bob,ci" || len(ops.Roles) != 0 || ops.ID == "" || ops.CreatedAt.IsZero() {
			t.Fatalf("created %+v: want sorted members ann,bob,ci, no roles, an id", ops)
		}
		if got, err := s.GetTeam(ctx, "ops"); err != nil || got.ID != ops.ID {
			t.Fatalf("get ops = %+v, %v", got, err)
		}
		_, err := s.GetTeam(ctx, "nope")
		wantMsg(t, err, ErrNotFound, `team "nope" not found`)

		// Names: valid, and nobody else's.
		_, err = s.CreateTeam(ctx, "bad name", nil)
		wantField(t, err, "name")
		for name, says := range map[string]string{
			"OPS": `team "ops" already exists`, "Bob": `"Bob" is the name of user "bob"`, "guest": `"guest" is the name of a role`, "Admin": `"Admin" is the name of a role ("admin")`,
			"read": "permission", "WRITE": `"WRITE" is the name of a permission ("write")`, "public": "reserved", "ci": `user "ci"`,
		} {
			_, err = s.CreateTeam(ctx, name, nil)
			wantMsg(t, err, ErrConflict, says)
		}
		_, err = s.CreateTeam(ctx, "dev", []string{"bob", "nobody"})
		wantField(t, err, "users")
		_, err = s.CreateTeam(ctx, "dev", []string{"bob", "bob"})
		wantField(t, err, "users")
		if _, err := s.GetTeam(ctx, "dev"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("a refused creation left team dev: %v", err)
		}
		_, err = s.CreateUser(ctx, CreateUser{Username: "Ops", Password: "ops-password-1"})
		wantMsg(t, err, ErrConflict, `is the name of team "ops"`)
		_, err = s.CreateServiceAccount(ctx, CreateServiceAccount{Name: "ops"})
		wantMsg(t, err, ErrConflict, `is the name of team "ops"`)
		_, err = s.CreateRole(ctx, "ops", []string{"read"})
		wantMsg(t, err, ErrConflict, `is the name of team "ops"`)
		_, err = s.UpdateUser(ctx, "", "ann", UpdateUser{Username: ptr("ops")})
		wantMsg(t, err, ErrConflict, `is the name of team "ops"`)

		// Members.
		_, err = s.UpdateTeam(ctx, "ops", TeamUpdate{AddUsers: []string{"bob"}})
		wantMsg(t, err, ErrConflict, `user "bob" is already in team "ops"`)
		_, err = s.UpdateTeam(ctx, "ops", TeamUpdate{AddUsers: []string{"zed"}})
		wantMsg(t, err, ErrNotFound, `user "zed" not found`)
		_, err = s.UpdateTeam(ctx, "ops", TeamUpdate{RemoveUsers: []string{"admin"}})
		wantMsg(t, err, ErrNotFound, `user "admin" is not in team "ops"`)
		_, err = s.UpdateTeam(ctx, "ops", TeamUpdate{})
		wantField(t, err, "add_users")
		_, err = s.UpdateTeam(ctx, "nope", TeamUpdate{AddUsers: []string{"bob"}})
		wantMsg(t, err, ErrNotFound, `team "nope" not found`)
		got, err := s.UpdateTeam(ctx, "ops", TeamUpdate{AddUsers: []string{"admin"}, RemoveUsers: []string{"ci"}})
		if err != nil || strings.Join(got.Users, ",") != "admin,ann,bob" || got.UpdatedAt.Before(ops.UpdatedAt) {
			t.Fatalf("update = %+v, %v", got, err)
		}

		// Roles.
		a, err := s.AssignTeam(ctx, "ops", "admin", "")
		if err != nil || !reflect.DeepEqual(a, Assignment{Team: "ops", Role: "admin", Source: policy.OriginDatabase}) {
			t.Fatalf("assign = %+v, %v", a, err)
		}
		_, err = s.AssignTeam(ctx, "ops", "admin", "")
		wantMsg(t, err, ErrConflict, `team "ops" already has role "admin"`)
		_, err = s.AssignTeam(ctx, "ops", "nope", "")
		wantMsg(t, err, ErrNotFound, `role "nope" not found`)
		_, err = s.AssignTeam(ctx, "nope", "admin", "")
		wantMsg(t, err, ErrNotFound, `team "nope" not found`)
		err = s.RevokeTeam(ctx, "ops", "guest", "")
		wantMsg(t, err, ErrNotFound, `team "ops" does not have role "guest"`)
		if got := assignments(t, s, "", "", "ops"); got != "team:ops=admin" {
			t.Fatalf("ops's assignments = %q", got)
		}
		if got := assignments(t, s, "bob", "", ""); got != "user:bob=guest" {
			t.Fatalf("bob's direct assignments = %q (memberships and the team's roles are not his)", got)
		}
		if got := assignments(t, s, "", "admin", ""); got != "user:admin=admin team:ops=admin" {
			t.Fatalf("admin's holders = %q", got)
		}
		_, err = s.ListAssignments(ctx, "bob", "", "ops", "")
		wantField(t, err, "team")
		_, err = s.ListAssignments(ctx, "", "", "nope", "")
		wantIs(t, err, ErrNotFound)
		if got := roles(t, s, "bob"); got != "guest" {
			t.Fatalf("bob's roles = %q: a team is not a role", got)
		}
		if !s.eng.Reaches(policy.UserSubject("bob"), policy.PermWrite) {
			t.Fatal("a member of ops does not reach admin's write")
		}
		err = s.Revoke(ctx, "bob", policy.TeamSubject("ops"), "")
		wantIs(t, err, ErrNotFound)

		// A role a team holds is not deleted from under it.
		if _, err := s.CreateRole(ctx, "auditor", []string{"read"}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AssignTeam(ctx, "ops", "auditor", ""); err != nil {
			t.Fatal(err)
		}
		err = s.DeleteRole(ctx, "auditor")
		wantMsg(t, err, ErrConflict, `role "auditor" is still assigned to team "ops"`)
		if err := s.RevokeTeam(ctx, "ops", "auditor", ""); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteRole(ctx, "auditor"); err != nil {
			t.Fatal(err)
		}

		// A rename moves the membership; a deletion ends it.
		if _, err := s.UpdateUser(ctx, "", "ann", UpdateUser{Username: ptr("anna")}); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.GetTeam(ctx, "ops"); strings.Join(got.Users, ",") != "admin,anna,bob" {
			t.Fatalf("after the rename, members = %v", got.Users)
		}
		if err := s.DeleteUser(ctx, "", "bob"); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.GetTeam(ctx, "ops"); strings.Join(got.Users, ",") != "admin,anna" {
			t.Fatalf("after the deletion, members = %v", got.Users)
		}
		if ts, err := s.ListTeams(ctx); err != nil || len(ts) != 1 || ts[0].Name != "ops" {
			t.Fatalf("list = %+v, %v", ts, err)
		}

		// Deleting the team removes its members' lines and its roles.
		if err := s.DeleteTeam(ctx, "ops"); err != nil {
			t.Fatal(err)
		}
		for _, l := range s.eng.Groupings() {
			if strings.Contains(l.String(), "team:ops") {
				t.Fatalf("line %q outlived its team", l.String())
			}
		}
		if s.eng.Reaches(policy.UserSubject("anna"), policy.PermWrite) {
			t.Fatal("anna still reaches write after ops was deleted")
		}
		wantIs(t, s.DeleteTeam(ctx, "ops"), ErrNotFound)
		mustTeam(t, s, "ops") // the name is free again, with nothing attached
		if got, _ := s.GetTeam(ctx, "ops"); len(got.Users)+len(got.Roles) != 0 {
			t.Fatalf("a new ops inherited %+v", got)
		}
	})
}

func ptr[T any](v T) *T { return &v }

// TestTeamsKeepAnAdmin: when the only active admin holds admin through a
// team only, removing them from it, revoking admin from it or deleting it
// is refused and nothing changes; with a second admin each is allowed.
func TestTeamsKeepAnAdmin(t *testing.T) {
	eachStore(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := conformanceService(t, dsn)
		mustTeam(t, s, "ops", "admin")
		if _, err := s.AssignTeam(ctx, "ops", "admin", ""); err != nil {
			t.Fatal(err)
		}
		if err := s.Revoke(ctx, "admin", "admin", ""); err != nil {
			t.Fatalf("revoking the direct role while ops still gives it: %v", err)
		}
		_, err := s.UpdateTeam(ctx, "ops", TeamUpdate{RemoveUsers: []string{"admin"}})
		wantMsg(t, err, ErrConflict, `user "admin" is the last active admin (through team "ops")`)
		wantMsg(t, s.RevokeTeam(ctx, "ops", "admin", ""), ErrConflict, "is the last active admin")
		wantMsg(t, s.DeleteTeam(ctx, "ops"), ErrConflict, "is the last active admin")
		wantMsg(t, s.DeleteUser(ctx, "", "admin"), ErrConflict, "is the last active admin")
		if got, err := s.GetTeam(ctx, "ops"); err != nil || strings.Join(got.Users, ",") != "admin" || strings.Join(got.Roles, ",") != "admin" {
			t.Fatalf("a refused change changed ops: %+v, %v", got, err)
		}
		if !s.eng.Reaches(policy.UserSubject("admin"), policy.RoleAdmin) {
			t.Fatal("the refused changes took admin away")
		}

		// A service account reaching admin does not count.
		if _, err := s.CreateServiceAccount(ctx, CreateServiceAccount{Name: "robot", Roles: &[]string{"admin"}}); err != nil {
			t.Fatal(err)
		}
		wantMsg(t, s.DeleteTeam(ctx, "ops"), ErrConflict, "is the last active admin")

		mustCreate(t, s, CreateUser{Username: "root", Password: "root-password-1", Roles: &[]string{"admin"}})
		if _, err := s.UpdateTeam(ctx, "ops", TeamUpdate{RemoveUsers: []string{"admin"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.UpdateTeam(ctx, "ops", TeamUpdate{AddUsers: []string{"admin"}}); err != nil {
			t.Fatal(err)
		}
		if err := s.RevokeTeam(ctx, "ops", "admin", ""); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AssignTeam(ctx, "ops", "admin", ""); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteTeam(ctx, "ops"); err != nil {
			t.Fatal(err)
		}
	})
}

// TestTeamRolesReachAnAuthenticatedUser: the data plane's identity (and
// the grant cache it holds) decides with the team's roles from the next
// request on, without a new token, and without them once the user leaves.
func TestTeamRolesReachAnAuthenticatedUser(t *testing.T) {
	ctx := context.Background()
	s := conformanceService(t, "sqlite:"+t.TempDir()+"/g.db")
	mustCreate(t, s, CreateUser{Username: "bob", Password: "bob-password-1"})
	mustCreate(t, s, CreateUser{Username: "eve", Password: "eve-password-1"})
	identity := func(user string) *Identity {
		tok, err := s.IssueToken(ctx, user)
		if err != nil {
			t.Fatal(err)
		}
		id, err := s.auth.Authenticate(tok.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	bob, eve := identity("bob"), identity("eve")
	write := func(id *Identity) bool {
		t.Helper()
		d, err := id.Decide("POST", "/api/v1/runs")
		if err != nil {
			t.Fatal(err)
		}
		return d.Allowed
	}
	if write(bob) {
		t.Fatal("a guest may write")
	}
	mustTeam(t, s, "ops", "bob")
	if _, err := s.AssignTeam(ctx, "ops", "admin", ""); err != nil {
		t.Fatal(err)
	}
	if !write(bob) {
		t.Fatal("a member does not reach the team's role on the next request")
	}
	if got := bob.IdentityHeaders().Groups; len(got) != 1 || got[0] != "admin,guest" {
		t.Fatalf("X-Forwarded-Groups = %v, want the team's roles and bob's own", got)
	}
	if write(eve) {
		t.Fatal("a non-member reaches the team's role")
	}
	if _, err := s.UpdateTeam(ctx, "ops", TeamUpdate{RemoveUsers: []string{"bob"}}); err != nil {
		t.Fatal(err)
	}
	if write(bob) {
		t.Fatal("a user who left the team still reaches its role")
	}
}

// TestTeamsReplicate: a team made on one replica is seen, with its members
// and roles, on another sharing the PostgreSQL store, and so is its
// deletion.
func TestTeamsReplicate(t *testing.T) {
	dsn := postgresOnly(t)
	ctx := context.Background()
	a, b := conformanceService(t, dsn), conformanceService(t, dsn)
	const name = "ops" // each test has a schema of its own
	mustCreate(t, a, CreateUser{Username: name + "-u", Password: "rep-password-1"})
	mustTeam(t, a, name, name+"-u")
	if _, err := a.AssignTeam(ctx, name, "admin", ""); err != nil {
		t.Fatal(err)
	}
	if err := b.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := b.GetTeam(ctx, name)
	if err != nil || strings.Join(got.Users, ",") != name+"-u" || strings.Join(got.Roles, ",") != "admin" {
		t.Fatalf("replica b sees %+v, %v", got, err)
	}
	if !b.eng.Reaches(policy.UserSubject(name+"-u"), policy.PermWrite) {
		t.Fatal("replica b does not give the member the team's role")
	}
	_, err = b.CreateTeam(ctx, strings.ToUpper(name), nil)
	wantIs(t, err, ErrConflict)
	if err := a.DeleteTeam(ctx, name); err != nil {
		t.Fatal(err)
	}
	if err := b.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.GetTeam(ctx, name); !errors.Is(err, ErrNotFound) {
		t.Fatalf("replica b still sees the deleted team: %v", err)
	}
	if b.eng.Reaches(policy.UserSubject(name+"-u"), policy.PermWrite) {
		t.Fatal("replica b kept the deleted team's role")
	}
}

// TestTeamsInPolicyFiles: a policy file may give a team its roles and
// members. The team is not taken for a role; a team made through the API
// under that name shows them, and what the file says is read-only.
func TestTeamsInPolicyFiles(t *testing.T) {
	csv := string(policyDefault(t)) + "g, team:ops, admin\ng, user:carol, team:ops\n"
	lines, errs := policy.ParseCSV("policy/policy.csv", []byte(csv))
	if len(errs) > 0 {
		t.Fatal(errs[0])
	}
	s := serviceWithFiles(t, storetest.SQLite(t).DSN, &policy.Files{Model: policy.DefaultModel(), ModelName: "model.conf", Lines: lines})
	ctx := context.Background()
	rs, err := s.ListRoles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if strings.HasPrefix(r.Name, policy.TeamPrefix) {
			t.Fatalf("role list holds the team %q", r.Name)
		}
	}
	mustCreate(t, s, CreateUser{Username: "carol", Password: "carol-password-1"})
	if !s.eng.Reaches(policy.UserSubject("carol"), policy.PermWrite) {
		t.Fatal("a member by a file line does not reach the team's role")
	}
	tm := mustTeam(t, s, "ops")
	if strings.Join(tm.Users, ",") != "carol" || strings.Join(tm.Roles, ",") != "admin" {
		t.Fatalf("ops = %+v, want the file's member and role", tm)
	}
	wantMsg(t, s.RevokeTeam(ctx, "ops", "admin", ""), ErrConflict, "read-only")
	_, err = s.UpdateTeam(ctx, "ops", TeamUpdate{RemoveUsers: []string{"carol"}})
	wantMsg(t, err, ErrConflict, "read-only")
	wantMsg(t, s.DeleteTeam(ctx, "ops"), ErrConflict, `team "ops" is named in policy/policy.csv`)
}
