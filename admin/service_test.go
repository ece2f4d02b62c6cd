package admin

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/gatehouse-dev/gatehouse/admin/store"
	"github.com/gatehouse-dev/gatehouse/admin/store/storetest"
	"github.com/gatehouse-dev/gatehouse/policy"
)

const testAdminPW = "admin-password-1"

// conformanceService opens a Service on dsn, as serve does.
func conformanceService(t *testing.T, dsn string) *Service {
	t.Helper()
	return serviceWithFiles(t, dsn, nil)
}

// serviceWithFiles is conformanceService with the policy files given (nil:
// the embedded defaults).
func serviceWithFiles(t *testing.T, dsn string, files *policy.Files) *Service {
	t.Helper()
	ctx := context.Background()
	db, eng := openStoreEngine(t, dsn, files)
	s, err := New(ctx, db, eng, Config{
		TokenTTL: time.Hour, InviteTTL: 72 * time.Hour, DefaultRole: policy.RoleGuest,
		PublicURL: "https://gatehouse.example", AdminPassword: testAdminPW, NameReservation: 30 * 24 * time.Hour,
	}, discardLog())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// openStoreEngine opens the store dsn (closed when the test ends) and a
// policy engine on it with files (nil: the embedded defaults).
func openStoreEngine(t testing.TB, dsn string, files *policy.Files) (*gorm.DB, *policy.Engine) {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if sqlDB, err := db.DB(); err == nil {
			sqlDB.Close()
		}
	})
	eng, err := policy.New(ctx, db, files, nil)
	if err != nil {
		t.Fatal(err)
	}
	return db, eng
}

// eachStore runs fn on SQLite and, when configured, PostgreSQL.
func eachStore(t *testing.T, fn func(t *testing.T, dsn string)) {
	for _, st := range storetest.Stores(t) {
		t.Run(st.Name, func(t *testing.T) { fn(t, st.DSN) })
	}
}

func mustCreate(t *testing.T, s *Service, in CreateUser) User {
	t.Helper()
	u, err := s.CreateUser(context.Background(), in)
	if err != nil {
		t.Fatalf("create %s: %v", in.Username, err)
	}
	return u
}

func wantField(t *testing.T, err error, field string) {
	t.Helper()
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != field {
		t.Fatalf("err = %v, want a FieldError on %q", err, field)
	}
}

func wantIs(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("err = %v, want %v", err, target)
	}
}

func roles(t *testing.T, s *Service, user string) string {
	t.Helper()
	u, err := s.GetUser(context.Background(), user)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(u.Roles, ",")
}

func TestUsersConformance(t *testing.T) {
	eachStore(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := conformanceService(t, dsn)

		ada := mustCreate(t, s, CreateUser{Username: "ada", Password: "ada-password", Email: "ada@example.com", FullName: "Ada L"})
		if !ada.Active || strings.Join(ada.Roles, ",") != "guest" || ada.InvitationURL != "" {
			t.Fatalf("created %+v: want active, default role guest, no invitation", ada)
		}
		bob := mustCreate(t, s, CreateUser{Username: "bob", Roles: &[]string{"admin", "guest"}})
		if bob.Active || !strings.HasPrefix(bob.InvitationURL, "https://gatehouse.example/gatehouse/signup?token=") {
			t.Fatalf("created %+v: want inactive with an invitation URL", bob)
		}
		if got := roles(t, s, "bob"); got != "admin,guest" {
			t.Fatalf("bob roles = %q", got)
		}
		none := mustCreate(t, s, CreateUser{Username: "nobody", Password: "nobody-password", Roles: &[]string{}})
		if len(none.Roles) != 0 {
			t.Fatalf("explicit empty roles gave %v", none.Roles)
		}

		_, err := s.CreateUser(ctx, CreateUser{Username: "ada", Password: "another-pass"})
		wantIs(t, err, ErrConflict)
		_, err = s.CreateUser(ctx, CreateUser{Username: "cy", Password: "cy-password-1", Roles: &[]string{"nope"}})
		wantField(t, err, "roles")
		_, err = s.GetUser(ctx, "cy")
		wantIs(t, err, ErrNotFound) // nothing half-written
		_, err = s.CreateUser(ctx, CreateUser{Username: "bad name"})
		wantField(t, err, "username")
		_, err = s.CreateUser(ctx, CreateUser{Username: "6f1c3b0e-8d52-4c55-9d67-1b2f3a4c5d6e"})
		wantField(t, err, "username")
		_, err = s.CreateUser(ctx, CreateUser{Username: "dee", Email: "not an email"})
		wantField(t, err, "email")
		_, err = s.CreateUser(ctx, CreateUser{Username: "dee", Password: "short"})
		wantField(t, err, "password")

		byID, err := s.GetUser(ctx, ada.ID)
		if err != nil || byID.Username != "ada" {
			t.Fatalf("get by id: %+v %v", byID, err)
		}
		list, err := s.ListUsers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, u := range list {
			names = append(names, u.Username)
		}
		if got := strings.Join(names, ","); got != "admin,ada,bob,nobody" && got != "ada,admin,bob,nobody" {
			t.Fatalf("list = %s", got)
		}

		// A rename carries the user's assignments along.
		newName := "ada2"
		u, err := s.UpdateUser(ctx, "", "ada", UpdateUser{Username: &newName})
		if err != nil || u.Username != "ada2" || strings.Join(u.Roles, ",") != "guest" {
			t.Fatalf("rename: %+v %v", u, err)
		}
		if s.eng.Reaches(policy.UserSubject("ada"), "read") {
			t.Fatal("the old name still holds a role")
		}
		if !s.eng.Reaches(policy.UserSubject("ada2"), "read") {
			t.Fatal("the new name lost its role")
		}
		bad := "x@"
		_, err = s.UpdateUser(ctx, "", "ada2", UpdateUser{Email: &bad})
		wantField(t, err, "email")

		if err := s.DeleteUser(ctx, "", "ada2"); err != nil {
			t.Fatal(err)
		}
		_, err = s.GetUser(ctx, "ada2")
		wantIs(t, err, ErrNotFound)
		as, _ := s.ListAssignments(ctx, "", "", "", "")
		for _, a := range as {
			if a.User == "ada2" || a.User == "ada" {
				t.Fatalf("assignment left after delete: %+v", a)
			}
		}
		if len(as) != 3 { // admin's, and bob's two
			t.Fatalf("assignments after delete = %+v", as)
		}
		wantIs(t, s.DeleteUser(ctx, "", "ada2"), ErrNotFound)
	})
}

func TestRolesAndAssignmentsConformance(t *testing.T) {
	eachStore(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := conformanceService(t, dsn)
		mustCreate(t, s, CreateUser{Username: "rita", Password: "rita-password", Roles: &[]string{}})

		r, err := s.CreateRole(ctx, "releaser", []string{"read", "write", "write"})
		if err != nil || strings.Join(r.Permissions, ",") != "read,write" || r.Builtin || r.Source != "database" {
			t.Fatalf("create role: %+v %v", r, err)
		}
		_, err = s.CreateRole(ctx, "releaser", nil)
		wantIs(t, err, ErrConflict)
		_, err = s.CreateRole(ctx, "write", nil) // a permission's name
		wantIs(t, err, ErrConflict)
		_, err = s.CreateRole(ctx, "public", nil)
		wantIs(t, err, ErrConflict)
		_, err = s.CreateRole(ctx, "admin", nil) // defined by the policy file
		wantIs(t, err, ErrConflict)
		_, err = s.CreateRole(ctx, "x", []string{"deploy"})
		wantField(t, err, "permissions")
		_, err = s.CreateRole(ctx, "a:b", nil)
		wantField(t, err, "name")

		if _, err := s.Assign(ctx, "rita", "releaser", ""); err != nil {
			t.Fatal(err)
		}
		_, err = s.Assign(ctx, "rita", "releaser", "")
		wantIs(t, err, ErrConflict)
		_, err = s.Assign(ctx, "rita", "nope", "")
		wantIs(t, err, ErrNotFound)
		_, err = s.Assign(ctx, "nobody", "guest", "")
		wantIs(t, err, ErrNotFound)
		if !s.eng.Reaches(policy.UserSubject("rita"), "write") {
			t.Fatal("assignment not in force")
		}
		as, err := s.ListAssignments(ctx, "rita", "", "", "")
		if err != nil || len(as) != 1 || as[0].Role != "releaser" {
			t.Fatalf("list by user: %+v %v", as, err)
		}
		as, _ = s.ListAssignments(ctx, "", "admin", "", "")
		if len(as) != 1 || as[0].User != "admin" {
			t.Fatalf("list by role: %+v", as)
		}

		wantIs(t, s.DeleteRole(ctx, "releaser"), ErrConflict) // still assigned
		if err := s.DeleteRole(ctx, "releaser"); !strings.Contains(err.Error(), "rita") {
			t.Fatalf("conflict does not name the holder: %v", err)
		}
		r, err = s.ChangeRole(ctx, "releaser", RoleUpdate{Permissions: &[]string{"read", "me"}})
		if err != nil || strings.Join(r.Permissions, ",") != "me,read" {
			t.Fatalf("update role: %+v %v", r, err)
		}
		if s.eng.Reaches(policy.UserSubject("rita"), "write") {
			t.Fatal("removed permission still in force")
		}
		_, err = s.ChangeRole(ctx, "admin", RoleUpdate{Permissions: &[]string{"read"}})
		wantIs(t, err, ErrConflict)
		wantIs(t, s.DeleteRole(ctx, "admin"), ErrConflict)
		wantIs(t, s.DeleteRole(ctx, "guest"), ErrConflict)

		wantIs(t, s.Revoke(ctx, "rita", "guest", ""), ErrNotFound)
		if err := s.Revoke(ctx, "rita", "releaser", ""); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteRole(ctx, "releaser"); err != nil {
			t.Fatal(err)
		}
		_, err = s.GetRole(ctx, "releaser")
		wantIs(t, err, ErrNotFound)

		perms := s.ListPermissions()
		var names []string
		for _, p := range perms {
			names = append(names, p.Name)
		}
		if strings.Join(names, ",") != "read,write,me" {
			t.Fatalf("permissions = %v", names)
		}
		rs, err := s.ListRoles(ctx)
		if err != nil || len(rs) != 2 || rs[0].Name != "admin" || !rs[0].Builtin || !strings.Contains(rs[0].Source, "policy.csv") {
			t.Fatalf("roles = %+v %v", rs, err)
		}
	})
}

func TestLockOutGuardsConformance(t *testing.T) {
	eachStore(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := conformanceService(t, dsn)
		adminID := s.dir.idOf("admin")
		mustCreate(t, s, CreateUser{Username: "gus", Password: "gus-password"})

		f := false
		_, err := s.UpdateUser(ctx, "", "admin", UpdateUser{Active: &f})
		wantIs(t, err, ErrConflict)
		wantIs(t, s.DeleteUser(ctx, "", "admin"), ErrConflict)
		wantIs(t, s.Revoke(ctx, "admin", "admin", ""), ErrConflict)
		wantIs(t, s.DeleteUser(ctx, adminID, "admin"), ErrConflict) // nobody deletes themselves
		_, err = s.UpdateUser(ctx, adminID, "admin", UpdateUser{Active: &f})
		wantIs(t, err, ErrConflict)

		// An inactive second admin does not count.
		mustCreate(t, s, CreateUser{Username: "ida", Roles: &[]string{"admin"}})
		wantIs(t, s.Revoke(ctx, "admin", "admin", ""), ErrConflict)

		// An active one does.
		if _, err := s.Assign(ctx, "gus", "admin", ""); err != nil {
			t.Fatal(err)
		}
		if err := s.Revoke(ctx, "admin", "admin", ""); err != nil {
			t.Fatalf("revoke with another active admin: %v", err)
		}
		wantIs(t, s.DeleteUser(ctx, "", "gus"), ErrConflict) // gus is now the last one
		if !s.eng.Reaches(policy.UserSubject("gus"), "write") {
			t.Fatal("guard failure changed state")
		}
	})
}

func TestLoginAndRevocationConformance(t *testing.T) {
	eachStore(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := conformanceService(t, dsn)
		mustCreate(t, s, CreateUser{Username: "gus", Password: "gus-password"})
		mustCreate(t, s, CreateUser{Username: "ivy", Roles: &[]string{}}) // inactive

		login := func(user, pw string) (string, error) {
			tok, err := s.Login(ctx, user, pw, "192.0.2.1")
			return tok.AccessToken, err
		}
		tok, err := login("gus", "gus-password")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.auth.Authenticate(tok); err != nil {
			t.Fatalf("fresh token refused: %v", err)
		}
		_, e1 := login("gus", "wrong-password")
		_, e2 := login("nobody", "gus-password")
		_, e3 := login("ivy", "whatever-pw")
		for _, e := range []error{e1, e2, e3} {
			if e == nil || e.Error() != errBadLogin.Error() {
				t.Fatalf("login failure = %v, want the one answer %v", e, errBadLogin)
			}
		}

		// A role change applies to the existing token's next decision.
		id, _ := s.auth.Authenticate(tok)
		allowed := func() bool {
			d, _ := s.eng.Decide(id.Subject(), id.UserID(), id.Username(), "POST", "/api/v1/pipelines")
			return d.Allowed
		}
		if allowed() {
			t.Fatal("guest may write")
		}
		s.Assign(ctx, "gus", "admin", "")
		if !allowed() {
			t.Fatal("assignment not applied to the existing token")
		}
		s.Revoke(ctx, "gus", "admin", "")
		if allowed() {
			t.Fatal("revocation not applied to the existing token")
		}

		// A password change ends earlier tokens, this one included.
		pw, cur := "gus-password-2", "gus-password"
		wrong := "wrong-password"
		_, err = s.UpdateMe(ctx, id, UpdateMe{Password: &pw})
		wantField(t, err, "current_password")
		_, err = s.UpdateMe(ctx, id, UpdateMe{Password: &pw, CurrentPassword: &wrong})
		wantField(t, err, "current_password")
		if _, err := s.UpdateMe(ctx, id, UpdateMe{Password: &pw, CurrentPassword: &cur}); err != nil {
			t.Fatal(err)
		}
		_, err = s.auth.Authenticate(tok)
		wantIs(t, err, ErrUnauthenticated)
		if _, err := login("gus", "gus-password"); err == nil {
			t.Fatal("old password still works")
		}
		tok2, err := login("gus", pw)
		if err != nil {
			t.Fatal(err)
		}

		// Deactivation ends it; reactivation does not revive it.
		f, tr := false, true
		if _, err := s.UpdateUser(ctx, "", "gus", UpdateUser{Active: &f}); err != nil {
			t.Fatal(err)
		}
		_, err = s.auth.Authenticate(tok2)
		wantIs(t, err, ErrUnauthenticated)
		if _, err := s.UpdateUser(ctx, "", "gus", UpdateUser{Active: &tr}); err != nil {
			t.Fatal(err)
		}
		_, err = s.auth.Authenticate(tok2)
		wantIs(t, err, ErrUnauthenticated)

		// Deletion ends every token.
		tok3, _ := login("gus", pw)
		if err := s.DeleteUser(ctx, "", "gus"); err != nil {
			t.Fatal(err)
		}
		_, err = s.auth.Authenticate(tok3)
		wantIs(t, err, ErrUnauthenticated)

		// Expiry.
		tok4, _ := login("admin", testAdminPW)
		later := time.Now().Add(2 * time.Hour)
		s.setClock(func() time.Time { return later })
		_, err = s.auth.Authenticate(tok4)
		wantIs(t, err, ErrUnauthenticated)
	})
}

func TestLoginRateLimit(t *testing.T) {
	s := conformanceService(t, storetest.SQLite(t).DSN)
	ctx := context.Background()
	for i := 0; i < 10; i++ {
		if _, err := s.Login(ctx, "admin", "wrong-password", "198.51.100.7"); !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	_, err := s.Login(ctx, "admin", testAdminPW, "198.51.100.7")
	var rl *RateLimitError
	if !errors.As(err, &rl) || rl.RetryAfter <= 0 {
		t.Fatalf("11th attempt: %v, want a rate limit", err)
	}
	if _, err := s.Login(ctx, "admin", testAdminPW, "198.51.100.8"); err != nil {
		t.Fatalf("another client is not limited: %v", err)
	}
}

func invitationToken(t *testing.T, inviteURL string) string {
	t.Helper()
	u, err := url.Parse(inviteURL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("token")
}

func TestInvitationsConformance(t *testing.T) {
	eachStore(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := conformanceService(t, dsn)
		ivy := mustCreate(t, s, CreateUser{Username: "ivy"})
		tok := invitationToken(t, ivy.InvitationURL)

		var rows []store.Invitation
		s.db.Find(&rows)
		for _, r := range rows {
			if strings.Contains(r.TokenHash, tok) || r.TokenHash == tok {
				t.Fatal("the token is stored in the clear")
			}
		}
		if name, err := s.InvitedUser(ctx, tok, "c1"); err != nil || name != "ivy" {
			t.Fatalf("invited user: %q %v", name, err)
		}
		_, err := s.Signup(ctx, tok, "short", "c1")
		wantField(t, err, "password")
		u, err := s.Signup(ctx, tok, "ivy-password", "c1")
		if err != nil || !u.Active {
			t.Fatalf("signup: %+v %v", u, err)
		}
		if _, err := s.Login(ctx, "ivy", "ivy-password", "c1"); err != nil {
			t.Fatalf("login after signup: %v", err)
		}
		_, err = s.Signup(ctx, tok, "ivy-password-2", "c1")
		wantIs(t, err, ErrGone) // single use

		// A new invitation voids the old one.
		inv1, err := s.Invite(ctx, "ivy")
		if err != nil {
			t.Fatal(err)
		}
		inv2, err := s.Invite(ctx, "ivy")
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Signup(ctx, inv1.token, "ivy-password-3", "c1")
		wantField(t, err, "token")
		// Expiry.
		later := time.Now().Add(73 * time.Hour)
		s.setClock(func() time.Time { return later })
		_, err = s.Signup(ctx, inv2.token, "ivy-password-3", "c1")
		wantIs(t, err, ErrGone)
		// Forged tokens are refused and rate-limited per client.
		var limited atomic.Bool
		for i := 0; i < 25; i++ {
			_, err = s.Signup(ctx, "forged-token-"+string(rune('a'+i)), "whatever-pw", "c2")
			var rl *RateLimitError
			if errors.As(err, &rl) {
				limited.Store(true)
				break
			}
			wantField(t, err, "token")
		}
		if !limited.Load() {
			t.Fatal("wrong invitation tokens are not rate-limited")
		}
	})
}

func TestRestartKeepsEverything(t *testing.T) {
	eachStore(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := conformanceService(t, dsn)
		mustCreate(t, s, CreateUser{Username: "gus", Password: "gus-password"})
		if _, err := s.CreateRole(ctx, "ops", []string{"read", "write"}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Assign(ctx, "gus", "ops", ""); err != nil {
			t.Fatal(err)
		}
		tok, err := s.Login(ctx, "gus", "gus-password", "c")
		if err != nil {
			t.Fatal(err)
		}

		s2 := conformanceService(t, dsn)
		id, err := s2.auth.Authenticate(tok.AccessToken)
		if err != nil {
			t.Fatalf("token from before the restart: %v", err)
		}
		if got := roles(t, s2, "gus"); got != "guest,ops" {
			t.Fatalf("roles after restart = %q", got)
		}
		d, _ := s2.eng.Decide(id.Subject(), id.UserID(), id.Username(), "DELETE", "/api/v1/runs/1")
		if !d.Allowed {
			t.Fatal("custom role lost on restart")
		}
	})
}

// TestNamesConferNothing: a user named like a permission or a role, and a
// role named like a user, gain nothing from their names.
func TestNamesConferNothing(t *testing.T) {
	eachStore(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := conformanceService(t, dsn)
		for _, name := range []string{"write", "read", "guest", "public"} {
			mustCreate(t, s, CreateUser{Username: name, Password: name + "-password", Roles: &[]string{}})
			tok, err := s.Login(ctx, name, name+"-password", "c")
			if err != nil {
				t.Fatal(err)
			}
			id, err := s.auth.Authenticate(tok.AccessToken)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range []string{"GET", "POST", "DELETE"} {
				if d, _ := s.eng.Decide(id.Subject(), id.UserID(), id.Username(), m, "/api/v1/pipelines"); d.Allowed {
					t.Fatalf("user %q with no roles may %s", name, m)
				}
			}
		}
		// A role named like a user gives that user nothing.
		if _, err := s.CreateRole(ctx, "read2", []string{"read"}); err != nil {
			t.Fatal(err)
		}
		mustCreate(t, s, CreateUser{Username: "read2", Password: "read2-password", Roles: &[]string{}})
		if s.eng.Reaches(policy.UserSubject("read2"), "read") {
			t.Fatal("a user named like a role holds its permissions")
		}
	})
}

func TestRoleDeltaChanges(t *testing.T) {
	s := conformanceService(t, storetest.SQLite(t).DSN)
	ctx := context.Background()
	if _, err := s.CreateRole(ctx, "ops", []string{"read"}); err != nil {
		t.Fatal(err)
	}
	r, err := s.ChangeRole(ctx, "ops", RoleUpdate{Add: []string{"write", "me"}, Remove: []string{"read"}})
	if err != nil || strings.Join(r.Permissions, ",") != "me,write" {
		t.Fatalf("delta: %+v %v", r, err)
	}
	_, err = s.ChangeRole(ctx, "ops", RoleUpdate{Remove: []string{"read"}})
	wantField(t, err, "remove_permissions")
	_, err = s.ChangeRole(ctx, "ops", RoleUpdate{Add: []string{"deploy"}})
	wantField(t, err, "add_permissions")
	set := []string{"read"}
	_, err = s.ChangeRole(ctx, "ops", RoleUpdate{Permissions: &set, Add: []string{"me"}})
	wantField(t, err, "permissions")
	_, err = s.ChangeRole(ctx, "ops", RoleUpdate{})
	wantField(t, err, "permissions")
	if got, _ := s.GetRole(ctx, "ops"); strings.Join(got.Permissions, ",") != "me,write" {
		t.Fatalf("refused changes changed the role: %v", got.Permissions)
	}
}

// TestRenameCannotTakeGrantedName: renaming into a name that a policy line
// grants something to is refused, for a user who may rename themselves
// (one holding write) and for admins.
func TestRenameCannotTakeGrantedName(t *testing.T) {
	csv := string(policyDefault(t)) + "g, user:carol, admin\n"
	lines, errs := policy.ParseCSV("policy/policy.csv", []byte(csv))
	if len(errs) > 0 {
		t.Fatal(errs[0])
	}
	s := serviceWithFiles(t, storetest.SQLite(t).DSN, &policy.Files{Model: policy.DefaultModel(), ModelName: "model.conf", Lines: lines})
	ctx := context.Background()
	if _, err := s.CreateRole(ctx, "editor", []string{"read", "write", "me"}); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, CreateUser{Username: "mallory", Password: "mallory-password", Roles: &[]string{"editor"}})
	mustCreate(t, s, CreateUser{Username: "dan", Password: "dan-password", Roles: &[]string{}})
	tok, _ := s.Login(ctx, "mallory", "mallory-password", "c")
	id, err := s.auth.Authenticate(tok.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	carol := "carol"
	_, err = s.UpdateMe(ctx, id, UpdateMe{Username: &carol})
	wantIs(t, err, ErrConflict)
	if !strings.Contains(err.Error(), "policy/policy.csv:") {
		t.Fatalf("the refusal does not name the line: %v", err)
	}
	_, err = s.UpdateUser(ctx, "", "mallory", UpdateUser{Username: &carol})
	wantIs(t, err, ErrConflict)
	// A name held by a database line is refused too.
	if _, err := s.Assign(ctx, "dan", "admin", ""); err != nil {
		t.Fatal(err)
	}
	dan := "dan"
	_, err = s.UpdateMe(ctx, id, UpdateMe{Username: &dan})
	wantIs(t, err, ErrConflict) // taken by a user, and named by a line
	if s.eng.Reaches(policy.UserSubject("mallory"), "admin") {
		t.Fatal("mallory gained admin")
	}
	free := "mallory2"
	if _, err := s.UpdateMe(ctx, id, UpdateMe{Username: &free}); err != nil {
		t.Fatalf("a free name: %v", err)
	}
}

func policyDefault(t testing.TB) []byte {
	t.Helper()
	var b strings.Builder
	for _, l := range policy.DefaultFiles().Lines {
		b.WriteString(l.String() + "\n")
	}
	return []byte(b.String())
}

// TestDeactivationVoidsInvitations: a pending invitation (a password reset,
// say) cannot undo a deactivation.
func TestDeactivationVoidsInvitations(t *testing.T) {
	s := conformanceService(t, storetest.SQLite(t).DSN)
	ctx := context.Background()
	mustCreate(t, s, CreateUser{Username: "eve", Password: "eve-password"})
	inv, err := s.Invite(ctx, "eve")
	if err != nil {
		t.Fatal(err)
	}
	f := false
	if _, err := s.UpdateUser(ctx, "", "eve", UpdateUser{Active: &f}); err != nil {
		t.Fatal(err)
	}
	_, err = s.Signup(ctx, inv.token, "eve-password-2", "c")
	wantField(t, err, "token")
	if u, _ := s.GetUser(ctx, "eve"); u.Active {
		t.Fatal("eve is active again")
	}
	// Activating with a new password in one request works.
	mustCreate(t, s, CreateUser{Username: "ivy"})
	tr, pw := true, "ivy-password-1"
	if u, err := s.UpdateUser(ctx, "", "ivy", UpdateUser{Active: &tr, Password: &pw}); err != nil || !u.Active {
		t.Fatalf("activate with a password: %+v %v", u, err)
	}
}

// TestBootstrapNeverInvitesAnActiveUser: an admin reached through another
// role counts, and a restart never logs a link that would set an active
// user's password.
func TestBootstrapNeverInvitesAnActiveUser(t *testing.T) {
	csv := string(policyDefault(t)) + "g, superadmin, admin\n"
	lines, errs := policy.ParseCSV("policy/policy.csv", []byte(csv))
	if len(errs) > 0 {
		t.Fatal(errs[0])
	}
	files := &policy.Files{Model: policy.DefaultModel(), ModelName: "model.conf", Lines: lines}
	dsn := storetest.SQLite(t).DSN
	ctx := context.Background()
	open := func() (*Service, *bytes.Buffer) {
		db, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sqlDB, _ := db.DB(); sqlDB.Close() })
		eng, err := policy.New(ctx, db, files, nil)
		if err != nil {
			t.Fatal(err)
		}
		logs := &bytes.Buffer{}
		s, err := New(ctx, db, eng, Config{TokenTTL: time.Hour, InviteTTL: time.Hour, DefaultRole: policy.RoleGuest, AdminPassword: testAdminPW},
			slog.New(slog.NewJSONHandler(logs, nil)))
		if err != nil {
			t.Fatal(err)
		}
		return s, logs
	}
	s, _ := open()
	if _, err := s.Assign(ctx, "admin", "superadmin", ""); err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(ctx, "admin", "admin", ""); err != nil {
		t.Fatalf("revoking admin from a superadmin: %v", err)
	}
	_, logs := open() // a restart
	if strings.Contains(logs.String(), "signup_url") {
		t.Fatalf("a restart logged a sign-up link for an active admin:\n%s", logs.String())
	}
}

// TestDeactivatedInviteeConformance: deactivating a user who has not signed
// up voids the invitation (the link no longer signs anyone up), the user is
// shown as deactivated, cannot be invited until reactivated, and
// reactivation makes it invited again.
func TestDeactivatedInviteeConformance(t *testing.T) {
	eachStore(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := conformanceService(t, dsn)
		bob := mustCreate(t, s, CreateUser{Username: "bob"})
		if bob.State != StateInvited || bob.Active {
			t.Fatalf("a new invitee: %+v", bob)
		}
		tok := invitationToken(t, bob.InvitationURL)
		u, err := s.UpdateUser(ctx, "", "bob", UpdateUser{Active: new(false)})
		if err != nil || u.State != StateDeactivated || u.Active {
			t.Fatalf("deactivating an invitee: %+v %v", u, err)
		}
		if _, err := s.Signup(ctx, tok, "bob-password-1", "c1"); err == nil {
			t.Fatal("the invitation of a deactivated user signed him up")
		}
		if _, err := s.InvitedUser(ctx, tok, "c1"); err == nil {
			t.Fatal("the sign-up page would open for a deactivated user")
		}
		if _, err := s.Login(ctx, "bob", "bob-password-1", "c1"); err == nil {
			t.Fatal("a deactivated invitee logged in")
		}
		_, err = s.Invite(ctx, "bob")
		wantIs(t, err, ErrConflict)
		// Deactivating again changes nothing.
		if u, err := s.UpdateUser(ctx, "", "bob", UpdateUser{Active: new(false)}); err != nil || u.State != StateDeactivated {
			t.Fatalf("deactivating twice: %+v %v", u, err)
		}

		u, err = s.UpdateUser(ctx, "", "bob", UpdateUser{Active: new(true)})
		if err != nil || u.State != StateInvited || u.Active {
			t.Fatalf("reactivating an invitee: %+v %v", u, err)
		}
		inv, err := s.Invite(ctx, "bob")
		if err != nil {
			t.Fatal(err)
		}
		if u, err := s.Signup(ctx, inv.token, "bob-password-1", "c1"); err != nil || u.State != StateActive {
			t.Fatalf("signing up after reactivation: %+v %v", u, err)
		}

		// A user with a password: deactivated, then active again.
		u, err = s.UpdateUser(ctx, "", "bob", UpdateUser{Active: new(false)})
		if err != nil || u.State != StateDeactivated {
			t.Fatalf("deactivating: %+v %v", u, err)
		}
		if u, err = s.UpdateUser(ctx, "", "bob", UpdateUser{Active: new(true)}); err != nil || u.State != StateActive || !u.Active {
			t.Fatalf("reactivating: %+v %v", u, err)
		}
	})
}

// identityOf logs a user in and returns the identity its token carries.
func identityOf(t *testing.T, s *Service, name, pw string) *Identity {
	t.Helper()
	tok, err := s.Login(context.Background(), name, pw, "c-"+name)
	if err != nil {
		t.Fatalf("login %s: %v", name, err)
	}
	id, err := s.auth.Authenticate(tok.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestIdentityUniquenessConformance: the ways a guest could pick the
// identity the upstream sees are closed. Names and emails are unique
// whatever their case or Unicode form; renaming yourself needs write; a
// name given up stays reserved for its old user unless an admin reuses it
// on purpose; an email set by the user is unverified.
func TestIdentityUniquenessConformance(t *testing.T) {
	eachStore(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := conformanceService(t, dsn)
		mustCreate(t, s, CreateUser{Username: "ada", Password: "ada-password-1", Email: "ada@example.com", Roles: &[]string{policy.RoleAdmin}})
		mustCreate(t, s, CreateUser{Username: "gus", Password: "gus-password-1"})
		gus := identityOf(t, s, "gus", "gus-password-1")

		// Names and emails differing only in case or Unicode form.
		_, err := s.CreateUser(ctx, CreateUser{Username: "ADA", Password: "other-password-1"})
		wantIs(t, err, ErrConflict)
		_, err = s.CreateUser(ctx, CreateUser{Username: "ada2", Password: "other-password-1", Email: "ADA@Example.COM"})
		wantIs(t, err, ErrConflict)
		_, err = s.UpdateMe(ctx, gus, UpdateMe{Email: new("ada@example.com")})
		wantIs(t, err, ErrConflict)
		_, err = s.UpdateMe(ctx, gus, UpdateMe{Email: new("Ada@EXAMPLE.com")})
		wantIs(t, err, ErrConflict)
		_, err = s.UpdateMe(ctx, gus, UpdateMe{Email: new("ａｄａ@example.com")}) // full width
		wantField(t, err, "email")
		_, err = s.UpdateMe(ctx, gus, UpdateMe{Email: new("\u0430da@example.com")}) // a Cyrillic а
		wantField(t, err, "email")

		// Renaming yourself needs write.
		_, err = s.UpdateMe(ctx, gus, UpdateMe{Username: new("ada-new")})
		wantIs(t, err, ErrForbidden)

		// A self-service email is unverified; one an admin sets is not.
		u, err := s.UpdateMe(ctx, gus, UpdateMe{Email: new("gus@example.com")})
		if err != nil || u.EmailVerified {
			t.Fatalf("self-service email: %+v %v", u, err)
		}
		if u, err = s.UpdateUser(ctx, "", "gus", UpdateUser{Email: new("gus@example.org")}); err != nil || !u.EmailVerified {
			t.Fatalf("admin-set email: %+v %v", u, err)
		}
		// The email gus gave up stays his for a while, like a name.
		_, err = s.CreateUser(ctx, CreateUser{Username: "eve", Password: "eve-password-1", Email: "GUS@example.com"})
		wantIs(t, err, ErrConflict)
		if err != nil && !strings.Contains(err.Error(), `the email "gus@example.com" was given up`) {
			t.Errorf("the refusal does not say the email is reserved: %v", err)
		}

		// A released name stays ada's: after her rename, nobody else takes
		// it, not even through an admin, unless on purpose.
		if _, err := s.UpdateUser(ctx, "", "ada", UpdateUser{Username: new("ada.l")}); err != nil {
			t.Fatal(err)
		}
		_, err = s.UpdateUser(ctx, "", "gus", UpdateUser{Username: new("Ada")})
		wantIs(t, err, ErrConflict)
		if !strings.Contains(err.Error(), "reserved until") {
			t.Errorf("the refusal does not say the name is reserved: %v", err)
		}
		_, err = s.CreateUser(ctx, CreateUser{Username: "ada", Password: "other-password-1"})
		wantIs(t, err, ErrConflict)
		// ...ada herself may take it back.
		if _, err := s.UpdateUser(ctx, "", "ada.l", UpdateUser{Username: new("ada")}); err != nil {
			t.Fatalf("ada taking her name back: %v", err)
		}
		// A deleted user's name, likewise; an admin may reuse it on purpose.
		mustCreate(t, s, CreateUser{Username: "dora", Password: "dora-password-1"})
		if err := s.DeleteUser(ctx, "", "dora"); err != nil {
			t.Fatal(err)
		}
		_, err = s.CreateUser(ctx, CreateUser{Username: "dora", Password: "dora-password-2"})
		wantIs(t, err, ErrConflict)
		if _, err := s.CreateUser(ctx, CreateUser{Username: "dora", Password: "dora-password-2", ReuseName: true}); err != nil {
			t.Fatalf("reusing a released name on purpose: %v", err)
		}
		// The reservation ends.
		if _, err := s.UpdateUser(ctx, "", "gus", UpdateUser{Username: new("gus.b")}); err != nil {
			t.Fatal(err)
		}
		later := time.Now().Add(31 * 24 * time.Hour)
		s.setClock(func() time.Time { return later })
		if _, err := s.CreateUser(ctx, CreateUser{Username: "Gus", Password: "gus-password-2"}); err != nil {
			t.Fatalf("a name released 31 days ago: %v", err)
		}
	})
}
