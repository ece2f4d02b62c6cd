package policy

import (
	"context"
	"strconv"
	"strings"
	"testing"
)

// TestEveryLineIsValidatedAlike: a line is checked the same way whether it
// comes from a file or through the engine's update path (the admin API):
// what a file would refuse, an update refuses too, and nothing commits.
func TestEveryLineIsValidatedAlike(t *testing.T) {
	db := sqliteDB(t)
	e := newTestEngine(t, db, nil)
	for _, c := range []struct {
		ptype  string
		fields []string
		want   string
	}{
		{"g", []string{"user:bob", "write", "x"}, "g line has 3 values"},
		{"g", []string{"user:bob"}, "g line has 1 values"},
		{"g", []string{"write", "user:bob"}, "users are not roles"},
		{"p", []string{"bad name", "/x", "GET"}, "invalid subject"},
		{"p", []string{"read", "/x"}, "p line has 2 values"},
		{"p", []string{"read", "no-slash", "GET"}, "must start with /"},
		{"p", []string{"read", "/x", "get"}, "method"},
		{"p2", []string{"read", "/x", "GET"}, `line type "p2" is not defined`},
		{"g3", []string{"a", "b"}, `line type "g3" is not defined`},
		{"g2", []string{"user:bob", "editor"}, "g2 line has 2 values, the model's g2 wants 3"},
		{"g2", []string{"user:bob", "editor", "ws-a", "x"}, "g2 line has 4 values"},
		{"g2", []string{"bob", "editor", "ws-a"}, `invalid subject "bob": the subject of a g2 line is a user, a team or an IdP's group`},
		{"g2", []string{"user:bob", "team:ml", "ws-a"}, `invalid role "team:ml"`},
		{"g2", []string{"user:bob", "editor", "ws a"}, `invalid workspace "ws a"`},
		{"p", []string{"read", "/w/{workspace}/x/{workspace}", "GET"}, "{workspace} appears twice"},
	} {
		line := Line{Ptype: c.ptype, Fields: c.fields}
		err := e.Update(context.Background(), func(ch *Change) error {
			ch.Add(c.ptype, c.fields...)
			return nil
		})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("update with %s: %v, want %q", line.String(), err, c.want)
		}
		// The same line in a file is refused too.
		csv := string(defaultPolicy) + line.CSV() + "\n"
		if lines, errs := ParseCSV("policy.csv", []byte(csv)); len(errs) == 0 {
			if _, err := New(context.Background(), nil, &Files{Model: DefaultModel(), ModelName: "model.conf", PolicyName: "policy.csv", Lines: lines}, nil); err == nil {
				t.Errorf("the file line %s is accepted", line.String())
			}
		}
	}
	var n int64
	db.Table(casbinTable).Count(&n)
	if n != 0 {
		t.Fatalf("%d refused lines committed", n)
	}
}

// TestMalformedDatabaseRowIsRefused: a casbin_rule row another tool wrote
// with too few values used to panic at start ("index out of range").
// Start-up refuses it with the row's id and what is wrong; a running
// engine asked to reload it keeps its last good policy.
func TestMalformedDatabaseRowIsRefused(t *testing.T) {
	db := sqliteDB(t)
	e := newTestEngine(t, db, nil)
	grant(t, e, "gus", "guest")
	if err := db.Exec("INSERT INTO " + casbinTable + " (ptype, v0, v1) VALUES ('p', 'read', '/short')").Error; err != nil {
		t.Fatal(err)
	}
	var id int64
	db.Table(casbinTable).Select("id").Where("v1 = ?", "/short").Scan(&id)

	_, err := New(context.Background(), db, nil, nil)
	want := "database (casbin_rule row id " + strconv.FormatInt(id, 10) + "): p, read, /short: p line has 2 values"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("start with a malformed row: %v\nwant %q", err, want)
	}

	lines, err := e.LoadDatabaseLines(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	err = e.Exclusive(context.Background(), func(c *Change) error { return c.ReplaceDatabaseLines(lines) })
	if err == nil || !strings.Contains(err.Error(), "row id") {
		t.Fatalf("reload with a malformed row: %v", err)
	}
	if d, err := e.Decide(UserSubject("gus"), "gus", "gus", "GET", "/x"); err != nil || !d.Allowed {
		t.Fatalf("after the refused reload, the last good policy: %+v %v", d, err)
	}
}

// TestUnrunnableModelIsRefused: a model Casbin panics on (ipMatch on a
// path) is refused at load with one line saying why, not a panic.
func TestUnrunnableModelIsRefused(t *testing.T) {
	model := "[request_definition]\nr = sub, obj, act\n[policy_definition]\np = sub, obj, act\n" +
		"[policy_effect]\ne = some(where (p.eft == allow))\n[matchers]\nm = ipMatch(r.sub, p.sub) && r.obj == p.obj && r.act == p.act\n"
	_, err := New(context.Background(), nil, testFiles(t, model, "p, 192.168.2.0/24, /data1, GET\n"), nil)
	if err == nil || strings.Count(err.Error(), "\n") > 0 || !strings.Contains(err.Error(), "cannot decide requests") {
		t.Fatalf("an ipMatch model: %v", err)
	}
}
