package policy

import (
	"context"
	"strings"
	"testing"
)

// TestTeamsReachTheirMembers: a member reaches the team's role's
// permissions through one GrantCache held across the changes, as the data
// plane holds one per identity; a non-member never does, and a member who
// leaves loses them on the next decision. X-Forwarded-Groups names the
// team's roles, never the team.
func TestTeamsReachTheirMembers(t *testing.T) {
	e := newTestEngine(t, sqliteDB(t), nil)
	change := func(fn func(c *Change) error) {
		t.Helper()
		if err := e.Update(context.Background(), fn); err != nil {
			t.Fatal(err)
		}
	}
	ops, ann, bob := TeamSubject("ops"), UserSubject("ann"), UserSubject("bob")
	change(func(c *Change) error {
		c.Add("g", ops, RoleAdmin)
		c.Add("g", ann, ops)
		c.Add("g", bob, RoleGuest)
		return nil
	})
	var annCache, bobCache GrantCache
	write := func(c *GrantCache, sub, name string) bool {
		t.Helper()
		d, err := e.DecideCached(c, sub, name+"-id", name, "POST", "/api/v1/runs")
		if err != nil {
			t.Fatal(err)
		}
		return d.Allowed
	}
	if !write(&annCache, ann, "ann") {
		t.Fatal("a member of ops does not reach admin's write")
	}
	if write(&bobCache, bob, "bob") {
		t.Fatal("a non-member reaches the team's role")
	}
	if got := e.RolesCached(&annCache, ann); got != "admin" {
		t.Fatalf("ann's groups = %q, want the team's roles only", got)
	}
	change(func(c *Change) error { c.Add("g", bob, ops); return nil })
	if !write(&bobCache, bob, "bob") {
		t.Fatal("a user who joined ops does not reach write on the next decision")
	}
	if got := e.RolesCached(&bobCache, bob); got != "admin,guest" {
		t.Fatalf("bob's groups = %q", got)
	}
	change(func(c *Change) error { return c.Remove("g", ann, ops) })
	if write(&annCache, ann, "ann") {
		t.Fatal("a user who left ops still reaches write")
	}
	change(func(c *Change) error { return c.Remove("g", ops, RoleAdmin) })
	if write(&bobCache, bob, "bob") || e.RolesCached(&bobCache, bob) != "guest" {
		t.Fatal("the team's revoked role still reaches its member")
	}
}

// TestTeamLinesAreRefusedFromTheAPI: a change through the database layer
// is validated as a file line is: a team neither nests nor holds rules.
func TestTeamLinesAreRefusedFromTheAPI(t *testing.T) {
	e := newTestEngine(t, sqliteDB(t), nil)
	for _, l := range [][]string{
		{"g", TeamSubject("a"), TeamSubject("b")},
		{"g", RoleGuest, TeamSubject("a")},
		{"p", TeamSubject("a"), "/x", "GET"},
	} {
		err := e.Update(context.Background(), func(c *Change) error { c.Add(l[0], l[1:]...); return nil })
		if err == nil || !strings.Contains(err.Error(), "team") {
			t.Errorf("%v: err = %v, want a refusal naming the team", l, err)
		}
	}
}
