package policy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
)

// scopedCSV is a small policy with workspace-scoped routes: editor writes
// in a workspace, and a global route that no workspace role opens.
const scopedCSV = `g, admin, read
g, admin, write
g, admin, me
p, write, /api/v1/workspaces/{workspace}/*, POST
p, read, /api/v1/workspaces/{workspace}/*, GET
p, write, /api/v1/pipelines, POST
g, editor, write
g, editor, read
`

func scopedEngine(t *testing.T, extra string) *Engine {
	t.Helper()
	lines, errs := ParseCSV("policy.csv", []byte(scopedCSV+extra))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	e := newTestEngine(t, sqliteDB(t), &Files{Model: DefaultModel(), ModelName: "model.conf", PolicyName: "policy.csv", Lines: lines})
	if e.snap.Load().x == nil {
		t.Fatal("the default model is not compiled")
	}
	return e
}

// TestScopedRoleDecisions: a role assigned in workspace ws-a opens that
// workspace's routes only: not ws-b's, not a global route; through a team
// as well as directly. Decide, DecideCached and Explain agree.
func TestScopedRoleDecisions(t *testing.T) {
	e := scopedEngine(t, "g2, user:bob, editor, ws-a\ng, user:tom, team:ml\ng2, team:ml, editor, ws-b\n")
	for _, c := range []struct {
		user, method, path string
		allow              bool
		rule               string
	}{
		{"bob", "POST", "/api/v1/workspaces/ws-a/pipelines", true,
			"p, write, /api/v1/workspaces/{workspace}/*, POST (policy.csv:4), via g2, user:bob, editor, ws-a (policy.csv:9)"},
		{"bob", "GET", "/api/v1/workspaces/ws-a/runs/r1", true,
			"p, read, /api/v1/workspaces/{workspace}/*, GET (policy.csv:5), via g2, user:bob, editor, ws-a (policy.csv:9)"},
		{"bob", "POST", "/api/v1/workspaces/ws-b/pipelines", false, ""},
		{"bob", "POST", "/api/v1/pipelines", false, ""},
		{"bob", "POST", "/api/v1/workspaces/ws-a", false, ""}, // the * needs a segment after the workspace
		{"tom", "POST", "/api/v1/workspaces/ws-b/pipelines", true,
			"p, write, /api/v1/workspaces/{workspace}/*, POST (policy.csv:4), via g2, team:ml, editor, ws-b (policy.csv:11)"},
		{"tom", "POST", "/api/v1/workspaces/ws-a/pipelines", false, ""},
		{"tom", "POST", "/api/v1/pipelines", false, ""},
		{"ann", "POST", "/api/v1/workspaces/ws-a/pipelines", false, ""},
	} {
		sub := UserSubject(c.user)
		d, err := e.Decide(sub, c.user, c.user, c.method, c.path)
		if err != nil || d.Allowed != c.allow {
			t.Errorf("%s %s %s: Decide %+v, %v; want allowed %v", c.user, c.method, c.path, d, err, c.allow)
		}
		var gc GrantCache
		if d, _ := e.DecideCached(&gc, sub, c.user, c.user, c.method, c.path); d.Allowed != c.allow {
			t.Errorf("%s %s %s: DecideCached %v", c.user, c.method, c.path, d.Allowed)
		}
		x, err := e.Explain(sub, c.user, c.user, c.method, c.path)
		if err != nil || x.Allowed != c.allow || x.Rule != c.rule {
			t.Errorf("%s %s %s: Explain %q (%v), want %q", c.user, c.method, c.path, x.Rule, err, c.rule)
		}
	}
	// A workspace role makes nobody an administrator, and is no global role.
	if e.Reaches(UserSubject("bob"), PermWrite) || e.Reaches(UserSubject("tom"), "editor") {
		t.Error("Reaches counts a workspace role")
	}
	if g := e.Groups(UserSubject("bob")); g != "" {
		t.Errorf("Groups(bob) = %q, want no global role", g)
	}
}

// TestScopedRolesThroughUpdates: database g2 lines added and removed
// through Update (the admin API's path) take effect on a GrantCache held
// across the changes, as the data plane holds one per identity; the
// lines are stored as gorm-adapter rows of ptype g2.
func TestScopedRolesThroughUpdates(t *testing.T) {
	e := scopedEngine(t, "")
	change := func(fn func(c *Change) error) {
		t.Helper()
		if err := e.Update(context.Background(), fn); err != nil {
			t.Fatal(err)
		}
	}
	bob, ml := UserSubject("bob"), TeamSubject("ml")
	var cache GrantCache
	write := func(ws string) bool {
		t.Helper()
		d, err := e.DecideCached(&cache, bob, "bob-id", "bob", "POST", "/api/v1/workspaces/"+ws+"/pipelines")
		if err != nil {
			t.Fatal(err)
		}
		return d.Allowed
	}
	if write("ws-a") {
		t.Fatal("bob writes without a role")
	}
	change(func(c *Change) error { c.Add("g2", bob, "editor", "ws-a"); return nil })
	if !write("ws-a") || write("ws-b") {
		t.Fatalf("after g2, bob, editor, ws-a: ws-a %v, ws-b %v", write("ws-a"), write("ws-b"))
	}
	var n int64
	e.db.gdb.Table(casbinTable).Where("ptype = ? AND v0 = ? AND v1 = ? AND v2 = ?", "g2", bob, "editor", "ws-a").Count(&n)
	if n != 1 {
		t.Fatalf("%d casbin_rule rows for the g2 line, want 1", n)
	}
	change(func(c *Change) error { return c.Remove("g2", bob, "editor", "ws-a") })
	if write("ws-a") {
		t.Fatal("bob still writes in ws-a after the g2 line is removed")
	}
	// Through a team: joining, the team's workspace role, leaving.
	change(func(c *Change) error { c.Add("g2", ml, "editor", "ws-b"); c.Add("g", bob, ml); return nil })
	if !write("ws-b") || write("ws-a") {
		t.Fatal("a member of ml does not write in ws-b alone")
	}
	change(func(c *Change) error { return c.Remove("g", bob, ml) })
	if write("ws-b") {
		t.Fatal("bob still writes in ws-b after leaving ml")
	}
	// Deleting a team drops its workspace roles; renaming a role keeps
	// the workspace's name even when it is the same.
	change(func(c *Change) error { c.Add("g2", bob, "editor", "editor"); c.RemoveSubject(ml); return nil })
	if e.scopes[ml] != nil {
		t.Fatalf("team ml still holds %v", e.scopes[ml])
	}
	change(func(c *Change) error {
		c.Add("g", "writer", PermWrite)
		c.RenameSubject("editor", "writer")
		return nil
	})
	if got := e.scopes[bob]; len(got) != 1 || got[0] != (scope{role: "writer", ws: "editor"}) {
		t.Fatalf("after renaming editor: bob's scopes %v", got)
	}
	if !write("editor") {
		t.Fatal("bob does not write in workspace editor as writer")
	}
}

// TestPreviousDefaultModel: a policy directory holding the default model
// as it was before g2 is still compiled, decides {workspace} routes as
// ordinary parameters, and refuses g2 lines, naming the missing definition.
func TestPreviousDefaultModel(t *testing.T) {
	lines, _ := ParseCSV("policy.csv", []byte(scopedCSV+"g, user:ann, editor\n"))
	e := newTestEngine(t, nil, &Files{Model: previousDefaultModel, ModelName: "model.conf", PolicyName: "policy.csv", Lines: lines})
	if e.snap.Load().x == nil {
		t.Fatal("the previous default model is not compiled")
	}
	if d, _ := e.Decide(UserSubject("ann"), "", "ann", "POST", "/api/v1/workspaces/ws-a/pipelines"); !d.Allowed {
		t.Fatal("ann, an editor everywhere, may not write in ws-a")
	}
	csv := scopedCSV + "g2, user:bob, editor, ws-a\n"
	lines, _ = ParseCSV("policy.csv", []byte(csv))
	_, err := New(context.Background(), nil, &Files{Model: previousDefaultModel, ModelName: "model.conf", PolicyName: "policy.csv", Lines: lines}, nil)
	want := `policy.csv:9: line type "g2" is not defined by the model: workspace-scoped roles (g2, SUBJECT, ROLE, WORKSPACE gives SUBJECT the role ROLE in the workspace WORKSPACE) need the role definition g2 = _, _, _`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("g2 under the previous default model: %v, want %q", err, want)
	}
	err = e.Update(context.Background(), func(c *Change) error { c.Add("g2", UserSubject("bob"), "editor", "ws-a"); return nil })
	if err == nil || !strings.Contains(err.Error(), "need the role definition g2 = _, _, _") {
		t.Fatalf("g2 through Update under the previous default model: %v", err)
	}
}

// TestValidateScopedLines: policy validate explains each bad g2 line with
// FILE:LINE, an unknown role included (as for g lines).
func TestValidateScopedLines(t *testing.T) {
	csv := scopedCSV + `g2, user:bob, editor, ws-a
g2, bob, editor, ws-a
g2, user:bob, edtior, ws-a
g2, user:bob, editor
g2, user:bob, team:ml, ws-a
g2, oidc:devs, editor, ws-b
`
	errs := ValidateDir(fstest.MapFS{"policy.csv": {Data: []byte(csv)}}, "pol")
	var got []string
	for _, err := range errs {
		got = append(got, err.Error())
	}
	want := []string{
		`pol/policy.csv:10: invalid subject "bob": the subject of a g2 line is a user, a team or an IdP's group (user:NAME, team:NAME, oidc:NAME)`,
		`pol/policy.csv:11: unknown role or permission "edtior": no p line names it, no g line gives it a role or permission, and it is not built in (admin, read, write, me, public); did you mean "editor"?`,
		`pol/policy.csv:12: g2 line has 2 values, the model's g2 wants 3`,
		`pol/policy.csv:13: invalid role "team:ml": g2, SUBJECT, ROLE, WORKSPACE gives SUBJECT the role ROLE in the workspace WORKSPACE; a role's name uses [A-Za-z0-9._@-]`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("validate:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestWorkspacePattern: {workspace} is one non-empty segment, as {name}
// is; workspace() returns it; it may appear once.
func TestWorkspacePattern(t *testing.T) {
	p, err := compilePattern("/api/v1/workspaces/{workspace}/*")
	if err != nil {
		t.Fatal(err)
	}
	for path, ws := range map[string]string{
		"/api/v1/workspaces/ws-a/pipelines": "ws-a",
		"/api/v1/workspaces/ws-a":           "ws-a",
		"/api/v1/workspaces/":               "",
		"/api/v1":                           "",
		"/other/v1/workspaces/ws-a/x":       "ws-a", // the segment at the parameter, whether or not the pattern matches
	} {
		if got := p.workspace(path); got != ws {
			t.Errorf("workspace(%q) = %q, want %q", path, got, ws)
		}
	}
	if p, _ := compilePattern("/runs/{id}"); p.workspace("/runs/ws-a") != "" {
		t.Error("a pattern without {workspace} names a workspace")
	}
	if _, err := compilePattern("/{workspace}/{workspace}"); !errors.Is(err, errPattern) {
		t.Errorf("a repeated {workspace}: %v", err)
	}
}

// BenchmarkDecideScoped decides for users who hold workspace roles
// through their teams: 10 000 users in 500 teams, each team holding a
// role in 2 of 200 workspaces, over the ZenML preset's shape of routes.
func BenchmarkDecideScoped(b *testing.B) {
	var csv strings.Builder
	csv.WriteString(scopedCSV)
	for i := 0; i < 40; i++ {
		fmt.Fprintf(&csv, "p, perm%d, /api/v1/workspaces/{workspace}/kind%d, GET|POST\np, perm%d, /api/v1/kind%d/{id}, GET\ng, editor, perm%d\n", i, i, i, i, i)
	}
	for t := 0; t < 500; t++ {
		fmt.Fprintf(&csv, "g2, team:t%d, editor, ws%d\ng2, team:t%d, %s, ws%d\n", t, t%200, t, RoleGuest, (t+1)%200)
	}
	for u := 0; u < 10000; u++ {
		fmt.Fprintf(&csv, "g, user:u%d, team:t%d\n", u, u%500)
	}
	csv.WriteString("g, guest, read\n")
	lines, errs := ParseCSV("policy.csv", []byte(csv.String()))
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	e, err := New(context.Background(), nil, &Files{Model: DefaultModel(), ModelName: "model.conf", PolicyName: "policy.csv", Lines: lines}, nil)
	if err != nil {
		b.Fatal(err)
	}
	// User u7 is in team t7, which holds editor in ws7.
	for _, c := range []struct {
		name, path string
		allow      bool
	}{
		{"allow", "/api/v1/workspaces/ws7/kind39", true},
		{"deny-other-workspace", "/api/v1/workspaces/ws9/kind39", false},
		{"deny-global", "/api/v1/pipelines", false},
	} {
		b.Run(c.name, func(b *testing.B) {
			var cache GrantCache
			if d, _ := e.DecideCached(&cache, "user:u7", "u7", "u7", "POST", c.path); d.Allowed != c.allow {
				b.Fatalf("allowed %v, want %v", d.Allowed, c.allow)
			}
			b.ReportAllocs()
			for b.Loop() {
				e.DecideCached(&cache, "user:u7", "u7", "u7", "POST", c.path)
			}
		})
	}
	// Many users through the engine's own per-subject cache, as Decide
	// without a GrantCache does.
	subs := make([]string, 10000)
	for i := range subs {
		subs[i] = fmt.Sprintf("user:u%d", i)
	}
	b.Run("many-users", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			e.Decide(subs[i%len(subs)], "", "", "POST", "/api/v1/workspaces/ws7/kind39")
			i++
		}
	})
}
