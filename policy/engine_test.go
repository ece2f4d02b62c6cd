package policy

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/glebarez/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

func testFiles(t testing.TB, model, csv string) *Files {
	t.Helper()
	lines, errs := ParseCSV("policy.csv", []byte(csv))
	if len(errs) > 0 {
		t.Fatalf("parse: %v", errors.Join(errs...))
	}
	if model == "" {
		model = DefaultModel()
	}
	return &Files{Model: model, ModelName: "model.conf", Lines: lines, Revision: revision(model, []byte(csv))}
}

func newTestEngine(t testing.TB, db *gorm.DB, f *Files) *Engine {
	t.Helper()
	e, err := New(context.Background(), db, f, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return e
}

func sqliteDB(t testing.TB) *gorm.DB {
	t.Helper()
	db, err := gorm.Open(sqlite.Open("file:"+t.TempDir()+"/p.db?_pragma=busy_timeout(5000)"), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// grant adds user→role lines through the engine, as the admin API does.
func grant(t testing.TB, e *Engine, user string, roles ...string) {
	t.Helper()
	err := e.Update(context.Background(), func(c *Change) error {
		for _, r := range roles {
			c.Add("g", UserSubject(user), r)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("grant %s %v: %v", user, roles, err)
	}
}

func TestDefaultDecisions(t *testing.T) {
	e := newTestEngine(t, sqliteDB(t), testFiles(t, "", string(defaultPolicy)+"\np, public, /health, GET\n"))
	grant(t, e, "ada", "admin")
	grant(t, e, "gus", "guest")
	grant(t, e, "write", "guest") // a user named like a permission gains nothing
	grant(t, e, "admin", "guest") // a user named like a role gains nothing
	grant(t, e, "nob")            // no roles at all

	cases := []struct {
		user         string // "" is anonymous
		method, path string
		allow        bool
		perm         string
	}{
		{"ada", "GET", "/api/v1/pipelines", true, "read"},
		{"ada", "POST", "/api/v1/pipelines", true, "write"},
		{"ada", "DELETE", "/api/v1/users/gus", true, "write"},
		{"gus", "GET", "/api/v1/pipelines", true, "read"},
		{"gus", "HEAD", "/api/v1/pipelines", true, "read"},
		{"gus", "POST", "/api/v1/pipelines", false, ""},
		{"gus", "PUT", "/api/v1/pipelines/p1", false, ""},
		{"gus", "DELETE", "/api/v1/pipelines/p1", false, ""},
		{"gus", "PUT", "/api/v1/users/gus", true, "me"},
		{"gus", "PATCH", "/api/v1/users/gus-id", true, "me"}, // {self} matches the id too
		{"gus", "PUT", "/api/v1/users/ada", false, ""},
		{"gus", "PUT", "/api/v1/users/gus/extra", false, ""},
		{"gus", "PUT", "/api/v1/users/", false, ""},
		{"gus", "PUT", "/api/v1/current-user", true, "me"},
		{"gus", "OPTIONS", "/api/v1/pipelines", false, ""},
		{"gus", "TRACE", "/api/v1/pipelines", false, ""},
		{"write", "POST", "/api/v1/pipelines", false, ""},
		{"write", "GET", "/api/v1/pipelines", true, "read"},
		{"admin", "DELETE", "/api/v1/pipelines/p1", false, ""},
		{"nob", "GET", "/api/v1/pipelines", false, ""},
		{"nob", "GET", "/health", true, "public"},
		{"", "GET", "/health", true, "public"},
		{"", "HEAD", "/health", true, "public"},
		{"", "GET", "/health/x", false, ""},
		{"", "GET", "/api/v1/pipelines", false, ""},
		{"", "PUT", "/api/v1/users/", false, ""},
		{"nobody-known", "GET", "/api/v1/pipelines", false, ""},
	}
	for _, c := range cases {
		sub, id := "", ""
		if c.user != "" {
			sub, id = UserSubject(c.user), c.user+"-id"
		}
		d, err := e.Decide(sub, id, c.user, c.method, c.path)
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		if d.Allowed != c.allow || d.Permission != c.perm {
			t.Errorf("%s %s %s: got allowed=%v perm=%q, want %v %q", c.user, c.method, c.path, d.Allowed, d.Permission, c.allow, c.perm)
		}
	}
}

func TestRoleChangesApplyAtOnce(t *testing.T) {
	e := newTestEngine(t, sqliteDB(t), nil)
	grant(t, e, "gus", "guest")
	decide := func() bool {
		d, _ := e.Decide(UserSubject("gus"), "id", "gus", "POST", "/api/v1/pipelines")
		return d.Allowed
	}
	if decide() {
		t.Fatal("guest may write")
	}
	grant(t, e, "gus", "admin")
	if !decide() {
		t.Fatal("admin assignment not in force on the next decision")
	}
	if got := e.Groups(UserSubject("gus")); got != "admin,guest" {
		t.Errorf("groups = %q", got)
	}
	err := e.Update(context.Background(), func(c *Change) error { return c.Remove("g", UserSubject("gus"), "admin") })
	if err != nil {
		t.Fatal(err)
	}
	if decide() {
		t.Fatal("revoked admin still in force")
	}
}

func TestUpdateIsAtomicAndPersistent(t *testing.T) {
	db := sqliteDB(t)
	e := newTestEngine(t, db, nil)
	boom := errors.New("boom")
	err := e.Update(context.Background(), func(c *Change) error {
		c.Add("g", UserSubject("gus"), "admin")
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if e.Reaches(UserSubject("gus"), "write") {
		t.Fatal("failed change applied in memory")
	}
	var n int64
	db.Table(casbinTable).Where("v0 = ?", UserSubject("gus")).Count(&n)
	if n != 0 {
		t.Fatalf("failed change left %d rows", n)
	}

	grant(t, e, "gus", "admin")
	grant(t, e, "gus", "admin") // idempotent: no duplicate row
	db.Table(casbinTable).Where("v0 = ?", UserSubject("gus")).Count(&n)
	if n != 1 {
		t.Fatalf("rows for gus = %d, want 1", n)
	}
	e2 := newTestEngine(t, db, nil) // a restart
	if !e2.Reaches(UserSubject("gus"), "write") {
		t.Fatal("assignment lost on reload")
	}
}

func TestFileLinesAreReadOnly(t *testing.T) {
	e := newTestEngine(t, sqliteDB(t), nil)
	err := e.Update(context.Background(), func(c *Change) error { return c.Remove("g", "admin", "write") })
	var ro *ReadOnlyError
	if !errors.As(err, &ro) {
		t.Fatalf("err = %v, want ReadOnlyError", err)
	}
	if !strings.Contains(err.Error(), DefaultPolicyName+":7") {
		t.Errorf("error does not name the file and line: %v", err)
	}
	err = e.Update(context.Background(), func(c *Change) error { return c.Remove("g", UserSubject("x"), "guest") })
	if !errors.Is(err, ErrNoLine) {
		t.Fatalf("err = %v, want ErrNoLine", err)
	}
}

func TestAdminKeepsItsPermissions(t *testing.T) {
	f := testFiles(t, "", "p, read, /*, GET\ng, admin, read\n")
	_, err := New(context.Background(), nil, f, nil)
	if err == nil || !strings.Contains(err.Error(), "lacks write, me") {
		t.Fatalf("err = %v", err)
	}
}

func TestBadLinesAreReported(t *testing.T) {
	f := testFiles(t, "", string(defaultPolicy)+"p, read, api/x, GET\np, read, /x, get\ng, a\np, bad name, /x, GET\n")
	_, err := New(context.Background(), nil, f, nil)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"policy.csv:11:", "policy.csv:12:", "policy.csv:13:", "policy.csv:14:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestBadDatabaseRulesAreRefusedBeforeCommit(t *testing.T) {
	db := sqliteDB(t)
	e := newTestEngine(t, db, nil)
	err := e.Update(context.Background(), func(c *Change) error {
		c.Add("p", "read", "no-slash", "GET")
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "must start with /") {
		t.Fatalf("err = %v", err)
	}
	var n int64
	db.Table(casbinTable).Where("ptype = 'p'").Count(&n)
	if n != 0 {
		t.Fatalf("%d bad rules committed", n)
	}
}

// TestCustomModelDenyBeatsPublic: under a deny-effect model, public's
// allow does not override a rule that denies the user.
func TestCustomModelDenyBeatsPublic(t *testing.T) {
	model := `[request_definition]
r = sub, obj, act
[policy_definition]
p = sub, obj, act, eft
[role_definition]
g = _, _
[policy_effect]
e = some(where (p.eft == allow)) && !some(where (p.eft == deny))
[matchers]
m = g(r.sub, p.sub) && keyMatch(r.obj, p.obj) && r.act == p.act
`
	f := testFiles(t, model, "p, public, /docs/*, GET, allow\np, user:mallory, /docs/*, GET, deny\ng, admin, read\ng, admin, write\ng, admin, me\n")
	e := newTestEngine(t, nil, f)
	if d, _ := e.Decide("", "", "", "GET", "/docs/a"); !d.Allowed {
		t.Fatal("public denied")
	}
	if d, _ := e.Decide(UserSubject("bob"), "", "bob", "GET", "/docs/a"); !d.Allowed {
		t.Fatal("public's rule does not reach bob")
	}
	if d, _ := e.Decide(UserSubject("mallory"), "", "mallory", "GET", "/docs/a"); d.Allowed {
		t.Fatal("public's allow overrode an explicit deny")
	}
}

// TestGrantCacheFollowsChanges: a holder's GrantCache never decides with
// what a subject reached before a change.
func TestGrantCacheFollowsChanges(t *testing.T) {
	e := newTestEngine(t, sqliteDB(t), nil)
	grant(t, e, "gus", "guest")
	var c GrantCache
	decide := func() bool {
		d, err := e.DecideCached(&c, UserSubject("gus"), "gus-id", "gus", "POST", "/api/v1/runs")
		if err != nil {
			t.Fatal(err)
		}
		return d.Allowed
	}
	if decide() {
		t.Fatal("guest may write")
	}
	grant(t, e, "gus", "admin")
	if !decide() {
		t.Fatal("the cache kept the grants from before the assignment")
	}
	if got := e.RolesCached(&c, UserSubject("gus")); got != "admin,guest" {
		t.Fatalf("roles = %q", got)
	}
	if err := e.Update(context.Background(), func(c *Change) error { return c.Remove("g", UserSubject("gus"), "admin") }); err != nil {
		t.Fatal(err)
	}
	if decide() {
		t.Fatal("the cache kept the grants from before the revocation")
	}
	if got := e.RolesCached(&c, UserSubject("gus")); got != "guest" {
		t.Fatalf("roles after the revocation = %q", got)
	}
	if d, _ := e.DecideCached(&c, "", "", "", "GET", "/api/v1/runs"); d.Allowed {
		t.Fatal("an anonymous request through a cache was allowed")
	}
}

// TestHeadOnlyWhereGetIs: HEAD is allowed exactly where GET is; a rule
// naming HEAD never opens GET, and a rule naming only HEAD is refused.
func TestHeadOnlyWhereGetIs(t *testing.T) {
	f := testFiles(t, "", string(defaultPolicy)+"p, public, /docs/*, GET|HEAD\n")
	e := newTestEngine(t, nil, f)
	for _, m := range []string{"GET", "HEAD"} {
		if d, _ := e.Decide("", "", "", m, "/docs/a"); !d.Allowed {
			t.Fatalf("%s /docs/a refused", m)
		}
	}
	bad := testFiles(t, "", string(defaultPolicy)+"p, public, /files/*, HEAD\n")
	if _, err := New(context.Background(), nil, bad, nil); err == nil || !strings.Contains(err.Error(), "HEAD is decided as GET") {
		t.Fatalf("a HEAD-only rule: %v", err)
	}
	// Under a custom model Gatehouse's methodMatch keeps the same rule.
	if methodMatch("GET", "HEAD") {
		t.Fatal("methodMatch lets HEAD in a rule open GET")
	}
	if !methodMatch("GET", "GET|HEAD") || methodMatch("POST", "GET|HEAD") {
		t.Fatal("methodMatch on GET|HEAD")
	}
}

// TestPublicIsEverySubjectsRole: what public reaches, through its own g
// lines too, every subject reaches; Explain says when a decision came that
// way.
func TestPublicIsEverySubjectsRole(t *testing.T) {
	e := newTestEngine(t, nil, testFiles(t, "", string(defaultPolicy)+"g, public, docs\np, docs, /docs/*, GET\ng, guest, docs\n"))
	for _, c := range []struct {
		sub, rule string
	}{
		{"", "p, docs, /docs/*, GET (policy.csv:"},
		{UserSubject("zed"), "), via public"},
	} {
		d, err := e.Explain(c.sub, "", strings.TrimPrefix(c.sub, UserPrefix), "GET", "/docs/a")
		if err != nil || !d.Allowed || !strings.Contains(d.Rule, c.rule) {
			t.Errorf("%q: %+v %v, want a rule with %q", c.sub, d, err, c.rule)
		}
	}
	grant(t, e, "gus", "guest")
	if d, _ := e.Explain(UserSubject("gus"), "", "gus", "GET", "/docs/a"); !d.Allowed || strings.Contains(d.Rule, "via public") {
		t.Errorf("gus holds docs himself: %+v", d)
	}
}

// TestHeadUnderCustomModels: every model decides HEAD as GET; a model that
// compares methods itself cannot name HEAD in a rule.
func TestHeadUnderCustomModels(t *testing.T) {
	const keymatch = "[request_definition]\nr = sub, obj, act\n[policy_definition]\np = sub, obj, act\n" +
		"[policy_effect]\ne = some(where (p.eft == allow))\n[matchers]\nm = r.sub == p.sub && keyMatch(r.obj, p.obj) && regexMatch(r.act, p.act)\n"
	e := newTestEngine(t, nil, testFiles(t, keymatch, "p, user:bob, /data/*, GET\n"))
	if d, _ := e.Decide(UserSubject("bob"), "", "bob", "HEAD", "/data/x"); !d.Allowed {
		t.Error("HEAD where GET is allowed is refused")
	}
	for _, line := range []string{"p, user:bob, /files/*, HEAD", "p, user:bob, /files/*, (GET)|(HEAD)"} {
		_, err := New(context.Background(), nil, testFiles(t, keymatch, line+"\n"), nil)
		if err == nil || !strings.Contains(err.Error(), "names HEAD: every model decides a HEAD request as GET") {
			t.Errorf("%s: %v", line, err)
		}
	}
}

// TestOnChange: the OnChange function runs after every change in force
// (Update, Exclusive, ReplaceFiles), with the change visible, and not
// after a change that failed.
func TestOnChange(t *testing.T) {
	e := newTestEngine(t, sqliteDB(t), nil)
	calls := 0
	sawGrant := false
	e.OnChange(func() {
		calls++
		d, _ := e.Decide(UserSubject("gus"), "id", "gus", "GET", "/api/v1/pipelines")
		sawGrant = d.Allowed
	})
	grant(t, e, "gus", "guest")
	if calls != 1 || !sawGrant {
		t.Fatalf("after Update: %d calls, change visible %v; want 1, true", calls, sawGrant)
	}
	if err := e.Update(context.Background(), func(c *Change) error { return errors.New("refused") }); err == nil || calls != 1 {
		t.Fatalf("a failed Update: %v, %d calls; want an error and no call", err, calls)
	}
	if err := e.Exclusive(context.Background(), func(*Change) error { return nil }); err != nil || calls != 2 {
		t.Fatalf("after Exclusive: %v, %d calls; want 2", err, calls)
	}
	if err := e.ReplaceFiles(testFiles(t, "", "p, read, /*, GET\n")); err == nil || calls != 2 {
		t.Fatalf("a file layer refused: %v, %d calls; want an error and no call", err, calls)
	}
	if err := e.ReplaceFiles(DefaultFiles()); err != nil || calls != 3 {
		t.Fatalf("after ReplaceFiles: %v, %d calls; want 3", err, calls)
	}
	// nil stops the calls; the next change neither panics nor calls.
	e.OnChange(nil)
	grant(t, e, "gus", "admin")
	if calls != 3 {
		t.Fatalf("after OnChange(nil): %d calls; want 3", calls)
	}
}
