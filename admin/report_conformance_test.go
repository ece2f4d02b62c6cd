package admin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/admin/store"
	"github.com/gatehouse-dev/gatehouse/admin/store/storetest"
	"github.com/gatehouse-dev/gatehouse/policy"
)

// rowsText renders rows as "user kind active permission via [rule]" lines.
func rowsText(rows []ReportRow) string {
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "%s %s %v %s %s", r.User, r.Kind, r.Active, r.Permission, strings.Join(r.Via, ">"))
		if r.Rule != "" {
			b.WriteString(" [" + r.Rule + "]")
		}
		b.WriteString("\n")
	}
	return b.String()
}

func TestAccessReportConformance(t *testing.T) {
	eachStore(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := conformanceService(t, dsn)
		mustCreate(t, s, CreateUser{Username: "bob", Password: "bob-password-1", Roles: &[]string{}})
		mustCreate(t, s, CreateUser{Username: "ivy", Roles: &[]string{policy.RoleGuest}}) // invited: inactive
		if _, err := s.CreateServiceAccount(ctx, CreateServiceAccount{Name: "ci", Roles: &[]string{}}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateRole(ctx, "writer", []string{policy.PermWrite}); err != nil {
			t.Fatal(err)
		}
		mustTeam(t, s, "ml", "bob", "ci")
		if _, err := s.AssignTeam(ctx, "ml", "writer", ""); err != nil {
			t.Fatal(err)
		}

		got := rowsText(report(t, s, ReportFilter{Team: "ml"}))
		want := "bob user true write user:bob>team:ml>writer>write\n" +
			"ci service_account true write user:ci>team:ml>writer>write\n"
		if got != want {
			t.Fatalf("team report:\n%swant\n%s", got, want)
		}
		got = rowsText(report(t, s, ReportFilter{User: "ivy"}))
		want = "ivy user false me user:ivy>guest>me\nivy user false read user:ivy>guest>read\n"
		if got != want {
			t.Fatalf("inactive user's report:\n%swant\n%s", got, want)
		}
		got = rowsText(report(t, s, ReportFilter{Role: "writer"}))
		if !strings.HasPrefix(got, "bob ") || strings.Contains(got, "admin") || strings.Count(got, "\n") != 2 {
			t.Fatalf("role report:\n%s", got)
		}
		got = rowsText(report(t, s, ReportFilter{Method: "PUT", Path: "/api/v1/users/ivy"}))
		want = "admin user true write user:admin>admin>write [p, write, /*, POST|PUT|PATCH|DELETE (policy.csv (embedded default):3)]\n" +
			"bob user true write user:bob>team:ml>writer>write [p, write, /*, POST|PUT|PATCH|DELETE (policy.csv (embedded default):3)]\n" +
			"ci service_account true write user:ci>team:ml>writer>write [p, write, /*, POST|PUT|PATCH|DELETE (policy.csv (embedded default):3)]\n" +
			"ivy user false me user:ivy>guest>me [p, me, /api/v1/users/{self}, GET|PUT|PATCH (policy.csv (embedded default):5)]\n"
		if got != want {
			t.Fatalf("route report:\n%swant\n%s", got, want)
		}

		for _, c := range []struct {
			f     ReportFilter
			field string
		}{
			{ReportFilter{Method: "GET"}, "path"},
			{ReportFilter{Path: "/x"}, "method"},
			{ReportFilter{Method: "FETCH", Path: "/x"}, "method"},
			{ReportFilter{Method: "GET", Path: "x"}, "path"},
			{ReportFilter{User: "bob", Team: "ml"}, "user"},
		} {
			wantField(t, s.AccessReport(ctx, c.f, func(ReportRow) error { return nil }), c.field)
		}
		for _, f := range []ReportFilter{{User: "nobody"}, {Role: "nope"}, {Team: "nope"}} {
			wantIs(t, s.AccessReport(ctx, f, func(ReportRow) error { return nil }), ErrNotFound)
		}
		stop := errors.New("stop")
		n := 0
		err := s.AccessReport(ctx, ReportFilter{}, func(ReportRow) error { n++; return stop })
		if !errors.Is(err, stop) || n != 1 {
			t.Fatalf("emit's error: err %v after %d rows", err, n)
		}
	})
}

// TestAccessReportPages: users beyond one page are all listed, once, in
// username order.
func TestAccessReportPages(t *testing.T) {
	s := conformanceService(t, storetest.SQLite(t).DSN)
	const n = 2*reportPage + 7
	users := make([]store.User, n)
	for i := range users {
		name := fmt.Sprintf("p%05d", i)
		key := store.IdentityKey(name)
		users[i] = store.User{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), Username: name, UsernameKey: &key, Active: true, Kind: store.KindUser}
	}
	if err := s.db.CreateInBatches(users, 200).Error; err != nil {
		t.Fatal(err)
	}
	err := s.eng.Update(context.Background(), func(c *policy.Change) error {
		for i := range users {
			c.Add("g", policy.UserSubject(users[i].Username), policy.RoleGuest)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	rows := report(t, s, ReportFilter{Method: "GET", Path: "/api/v1/pipelines"})
	if len(rows) != n+1 || rows[0].User != "admin" || rows[1].User != "p00000" || rows[n].User != fmt.Sprintf("p%05d", n-1) {
		t.Fatalf("%d rows, first %v, last %v", len(rows), rows[0], rows[len(rows)-1])
	}
	for i := 2; i < len(rows); i++ {
		if rows[i-1].User >= rows[i].User {
			t.Fatalf("rows %d and %d out of order: %s, %s", i-1, i, rows[i-1].User, rows[i].User)
		}
	}
}
