package policy

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/diff")

// dirFS reads the files of a policy directory into a map file system that
// a test can change.
func dirFS(t *testing.T, dir string) fstest.MapFS {
	t.Helper()
	fsys := fstest.MapFS{}
	for _, name := range []string{ModelFile, PolicyFile, TestsFile} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		fsys[name] = &fstest.MapFile{Data: data}
	}
	return fsys
}

// edit returns a copy of fsys with file's text changed by fn.
func edit(t *testing.T, fsys fstest.MapFS, file string, fn func(string) string) fstest.MapFS {
	t.Helper()
	out := fstest.MapFS{}
	for k, v := range fsys {
		out[k] = v
	}
	before := string(fsys[file].Data)
	after := fn(before)
	if after == before {
		t.Fatalf("the edit of %s changes nothing", file)
	}
	out[file] = &fstest.MapFile{Data: []byte(after)}
	return out
}

// replaceLine replaces the line old of a text (whole line) with new ("":
// removes it).
func replaceLine(t *testing.T, old, new string) func(string) string {
	return func(text string) string {
		t.Helper()
		lines := strings.Split(text, "\n")
		for i, l := range lines {
			if l == old {
				if new == "" {
					return strings.Join(append(lines[:i:i], lines[i+1:]...), "\n")
				}
				lines[i] = new
				return strings.Join(lines, "\n")
			}
		}
		t.Fatalf("no line %q", old)
		return text
	}
}

func loadSide(t *testing.T, fsys fstest.MapFS, dir string) *Side {
	t.Helper()
	s, err := LoadSide(fsys, dir)
	if err != nil {
		t.Fatalf("%s: %v", dir, err)
	}
	return s
}

func diffOf(t *testing.T, older, newer fstest.MapFS, o DiffOptions) *DiffResult {
	t.Helper()
	res, err := Diff(loadSide(t, older, "old"), loadSide(t, newer, "new"), o)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// zenmlStacksChange is the ZenML preset with write taken off the stack
// routes and guest given the update of runs.
func zenmlStacksChange(t *testing.T) (older, newer fstest.MapFS) {
	older = dirFS(t, filepath.Join("preset", "zenml"))
	newer = edit(t, older, PolicyFile, func(s string) string {
		for _, l := range []string{
			"p, write, /api/v1/stacks/{stack_id}, PUT",
			"p, write, /api/v1/stacks/{stack_id}, DELETE",
			"p, write, /api/v1/workspaces/{workspace}/stacks, POST",
		} {
			s = replaceLine(t, l, "")(s)
		}
		return replaceLine(t, "p, write, /api/v1/runs/{run_id}, PUT", "p, write, /api/v1/runs/{run_id}, PUT\np, guest, /api/v1/runs/{run_id}, PUT")(s)
	})
	return older, newer
}

// TestDiffGolden: a known change to the ZenML preset, printed as text,
// Markdown and JSON, is what testdata/diff holds (go test -run
// TestDiffGolden -update rewrites it).
func TestDiffGolden(t *testing.T) {
	older, newer := zenmlStacksChange(t)
	res := diffOf(t, older, newer, DiffOptions{})
	if len(res.Changes) == 0 {
		t.Fatal("no change found")
	}
	for _, f := range []struct {
		name  string
		write func(*bytes.Buffer) error
	}{
		{"zenml-stacks.txt", func(b *bytes.Buffer) error { return res.WriteText(b) }},
		{"zenml-stacks.md", func(b *bytes.Buffer) error { return res.WriteMarkdown(b) }},
		{"zenml-stacks.json", func(b *bytes.Buffer) error { return res.WriteJSON(b) }},
	} {
		var got bytes.Buffer
		if err := f.write(&got); err != nil {
			t.Fatal(err)
		}
		golden := filepath.Join("testdata", "diff", f.name)
		if *update {
			if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		if got.String() != string(want) {
			t.Errorf("%s differs (go test -run TestDiffGolden -update rewrites it):\n%s", golden, got.String())
		}
	}
}

// TestDiffZenMLChanges: the changes of the golden diff, checked one by one
// against what the preset's lines say, so that a wrong golden file cannot
// pass unnoticed.
func TestDiffZenMLChanges(t *testing.T) {
	older, newer := zenmlStacksChange(t)
	res := diffOf(t, older, newer, DiffOptions{})
	got := map[string]bool{}
	for _, c := range res.Changes {
		got[c.Subject.Label()+" "+c.Method+" "+c.Path+" "+verdictWord(c.After.Allow)] = true
	}
	var want []string
	for _, who := range []string{"role admin", "user ada", "user wendy"} {
		want = append(want,
			who+" PUT /api/v1/stacks/{stack_id} deny",
			who+" DELETE /api/v1/stacks/{stack_id} deny",
			who+" POST /api/v1/workspaces/{workspace}/stacks deny")
	}
	for _, who := range []string{"role guest", "user gus"} {
		want = append(want, who+" PUT /api/v1/runs/{run_id} allow")
	}
	for _, w := range want {
		if !got[w] {
			t.Errorf("missing change %q", w)
		}
	}
	if len(res.Changes) != len(want) {
		t.Errorf("%d changes, want %d: %v", len(res.Changes), len(want), got)
	}
	for _, c := range res.Changes {
		allowed := c.Before
		if c.After.Allow {
			allowed = c.After
		}
		last := allowed.Lines[len(allowed.Lines)-1]
		if !strings.HasPrefix(last.Text, "p, ") || !strings.HasSuffix(last.File, PolicyFile) || last.Line == 0 {
			t.Errorf("%s %s %s: the deciding line is %v", c.Subject, c.Method, c.Path, last)
		}
	}
	if res.AllowToDeny() != 9 || res.DenyToAllow() != 2 {
		t.Errorf("%d allow → deny, %d deny → allow; want 9 and 2", res.AllowToDeny(), res.DenyToAllow())
	}
}

// TestDiffRefactorsChangeNothing: changes that keep every decision are
// reported as no change.
func TestDiffRefactorsChangeNothing(t *testing.T) {
	zenml := dirFS(t, filepath.Join("preset", "zenml"))
	releaser := dirFS(t, filepath.Join("..", "docs", "examples", "releaser"))
	reverse := func(s string) string {
		var rules, comments []string
		for _, l := range strings.Split(s, "\n") {
			if strings.HasPrefix(l, "p,") || strings.HasPrefix(l, "g,") {
				rules = append([]string{l}, rules...)
			} else {
				comments = append(comments, l)
			}
		}
		return strings.Join(append(comments, rules...), "\n") + "\n"
	}
	cases := []struct {
		name       string
		old, new   fstest.MapFS
		minChecked int // subjects × paths at least
	}{
		{"lines in reverse order", zenml, edit(t, zenml, PolicyFile, reverse), 7 * 120},
		{"a redundant line", zenml, edit(t, zenml, PolicyFile, func(s string) string { return s + "g, admin, guest\np, read, /api/v1/stacks/{id}, GET\n" }), 7 * 120},
		{"a parameter renamed", zenml, edit(t, zenml, PolicyFile, func(s string) string {
			return strings.ReplaceAll(s, "{stack_id}", "{id}")
		}), 7 * 120},
		{"comments and spacing", zenml, edit(t, zenml, PolicyFile, func(s string) string {
			return strings.ReplaceAll(strings.ReplaceAll(s, "# /api/v1/", "# routes of /api/v1/"), "p, read, ", "p, read,   ")
		}), 7 * 120},
		{"a permission renamed alike everywhere", releaser, edit(t, releaser, PolicyFile, func(s string) string {
			return strings.ReplaceAll(s, " deploy", " release")
		}), 8 * 5},
		{"a test user added", releaser, edit(t, releaser, TestsFile, func(s string) string {
			return strings.Replace(s, "users:\n", "users:\n  rex: [releaser]\n", 1)
		}), 9 * 5},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := diffOf(t, c.old, c.new, DiffOptions{})
			for _, ch := range res.Changes {
				t.Errorf("%s %s %s: %v → %v", ch.Subject.Label(), ch.Method, ch.Path, ch.Before.Allow, ch.After.Allow)
			}
			if n := len(res.Subjects) * res.Paths; n < c.minChecked {
				t.Errorf("checked %d subjects × %d paths, want %d at least", len(res.Subjects), res.Paths, c.minChecked)
			}
		})
	}
}

// TestDiffFindsChanges: each kind of change is found, with the lines
// responsible on the side that allows.
func TestDiffFindsChanges(t *testing.T) {
	const base = `p, read, /api/*, GET
p, write, /api/*, POST|PUT|DELETE
p, me, /api/users/{self}, PUT
p, edit, /api/workspaces/{workspace}/runs, POST
p, public, /health, GET
g, admin, read
g, admin, write
g, admin, me
g, guest, read
g, guest, me
g, editor, edit
g, team:ml, guest
g2, team:ml, editor, ws-a
`
	const tests = `teams:
  ml: [guest]
users:
  gus: [guest]
  tom: [team:ml]
cases:
  - {user: gus, method: GET, path: /api/x, allow: true}
`
	older := fstest.MapFS{PolicyFile: {Data: []byte(base)}, TestsFile: {Data: []byte(tests)}}
	cases := []struct {
		name string
		edit func(string) string
		want []string // Label METHOD PATH after
	}{
		{"a role loses a permission", replaceLine(t, "g, guest, me", ""), []string{
			"role guest PUT /api/users/{self} deny", "team ml PUT /api/users/{self} deny",
			"user gus PUT /api/users/{self} deny", "user tom PUT /api/users/{self} deny"}},
		{"{self} opened to every user", replaceLine(t, "p, me, /api/users/{self}, PUT", "p, me, /api/users/{id}, PUT"), []string{
			"role guest PUT /api/users/{id} allow", "team ml PUT /api/users/{id} allow",
			"user gus PUT /api/users/{id} allow", "user tom PUT /api/users/{id} allow"}},
		{"a public route", func(s string) string { return s + "p, public, /api/status, GET\n" }, []string{
			"anonymous GET /api/status allow", "role editor GET /api/status allow"}},
		{"a workspace role taken away", replaceLine(t, "g2, team:ml, editor, ws-a", ""), []string{
			"team ml POST /api/workspaces/ws-a/runs deny", "user tom POST /api/workspaces/ws-a/runs deny"}},
		{"a method added", replaceLine(t, "p, public, /health, GET", "p, public, /health, GET|DELETE"), []string{
			"anonymous DELETE /health allow", "role admin DELETE /health allow", "role editor DELETE /health allow",
			"role guest DELETE /health allow", "team ml DELETE /health allow", "user gus DELETE /health allow", "user tom DELETE /health allow"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := diffOf(t, older, edit(t, older, PolicyFile, c.edit), DiffOptions{})
			var got []string
			for _, ch := range res.Changes {
				got = append(got, ch.Subject.Label()+" "+ch.Method+" "+ch.Path+" "+verdictWord(ch.After.Allow))
				v := ch.Before
				if ch.After.Allow {
					v = ch.After
				}
				if len(v.Lines) == 0 || !strings.HasPrefix(v.Lines[len(v.Lines)-1].Text, "p, ") {
					t.Errorf("%s: the allowing side names %v", got[len(got)-1], v.Lines)
				}
			}
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}
}

// TestDiffResponsibleLines: the lines of a decision through a team and a
// workspace role are the chain's g and g2 lines, then the p line, each
// with its file, number and text as written.
func TestDiffResponsibleLines(t *testing.T) {
	older := fstest.MapFS{PolicyFile: {Data: []byte("p, edit,  /api/workspaces/{workspace}/runs, POST\ng, editor, edit\ng2, team:ml, editor, ws-a\n" + adminLines)},
		TestsFile: {Data: []byte("teams:\n  ml: []\nusers:\n  tom: [team:ml]   # a member\ncases:\n  - {user: tom, method: POST, path: /api/workspaces/ws-a/runs, allow: true}\n")}}
	newer := edit(t, older, PolicyFile, replaceLine(t, "g2, team:ml, editor, ws-a", ""))
	res := diffOf(t, older, newer, DiffOptions{})
	var tom *DiffChange
	for i, c := range res.Changes {
		if c.Subject.Name == "user:tom" && c.Path == "/api/workspaces/ws-a/runs" {
			tom = &res.Changes[i]
		}
	}
	if tom == nil {
		t.Fatalf("no change for tom: %+v", res.Changes)
	}
	want := []SourceLine{
		{"old/tests.yaml", 4, "tom: [team:ml]"},
		{"old/policy.csv", 3, "g2, team:ml, editor, ws-a"},
		{"old/policy.csv", 2, "g, editor, edit"},
		{"old/policy.csv", 1, "p, edit,  /api/workspaces/{workspace}/runs, POST"},
	}
	if len(tom.Before.Lines) != len(want) {
		t.Fatalf("lines %v, want %v", tom.Before.Lines, want)
	}
	for i := range want {
		if tom.Before.Lines[i] != want[i] {
			t.Errorf("line %d = %v, want %v", i, tom.Before.Lines[i], want[i])
		}
	}
	if tom.After.Allow || len(tom.After.Lines) != 0 {
		t.Errorf("after: %+v", tom.After)
	}
}

// TestDiffRoutesTable: the routes of a table are decided too, and a bad
// table is reported line by line.
func TestDiffRoutesTable(t *testing.T) {
	routes, errs := ParseRoutes("routes.tsv", strings.NewReader("# comment\nmethod\tpath\tpermission\nGET\t/other/{id}\tread\nHEAD|GET\t/static/app.js\n"))
	if len(errs) > 0 || len(routes) != 2 {
		t.Fatalf("%v %v", routes, errs)
	}
	older := fstest.MapFS{PolicyFile: {Data: []byte("p, read, /*, GET\ng, guest, read\n" + adminLines)}}
	newer := edit(t, older, PolicyFile, replaceLine(t, "p, read, /*, GET", "p, read, /api/*, GET"))
	without := diffOf(t, older, newer, DiffOptions{})
	with := diffOf(t, older, newer, DiffOptions{Routes: routes})
	paths := func(r *DiffResult) string {
		var out []string
		for _, c := range r.Changes {
			if c.Subject.Name == RoleGuest {
				out = append(out, c.Method+" "+c.Path+" "+c.Sample)
			}
		}
		return strings.Join(out, ", ")
	}
	// /* is decided on /x, on the empty rest and on two segments: the
	// new /api/* allows none of them.
	if got := paths(without); got != "GET /* /x, GET /* /, GET /* /x/x" {
		t.Errorf("without the table: %s", got)
	}
	if got := paths(with); got != "GET /* /x, GET /* /, GET /* /x/x, GET /other/{id} /other/1, GET /static/app.js /static/app.js" {
		t.Errorf("with the table: %s", got)
	}
	_, errs = ParseRoutes("bad.tsv", strings.NewReader("GET\t/ok\nFETCH\t/x\nGET\tnoslash\nGET\n"))
	var msgs []string
	for _, e := range errs {
		msgs = append(msgs, e.Error())
	}
	if len(msgs) != 3 || !strings.HasPrefix(msgs[0], "bad.tsv:2: invalid method \"FETCH\"") ||
		!strings.HasPrefix(msgs[1], "bad.tsv:3: invalid path pattern") || msgs[2] != "bad.tsv:4: want METHOD<TAB>PATH" {
		t.Errorf("problems: %q", msgs)
	}
}

// TestLoadSideProblems: a side with problems in its files or its
// tests.yaml is refused with every problem.
func TestLoadSideProblems(t *testing.T) {
	for name, fsys := range map[string]fstest.MapFS{
		"bad line":  {PolicyFile: {Data: []byte("p, read, /x, get\n")}},
		"bad tests": {PolicyFile: {Data: []byte("p, read, /x, GET\n")}, TestsFile: {Data: []byte("cases: []\nusers: 3\n")}},
		"no policy": {},
	} {
		if _, err := LoadSide(fsys, "dir"); err == nil {
			t.Errorf("%s: loaded", name)
		} else if !strings.Contains(err.Error(), "dir/") {
			t.Errorf("%s: the error does not name the file: %v", name, err)
		}
	}
}

// TestDiffReportAllowWithoutLines: an allow whose lines cannot be named is
// reported as an allow, not as "no line allows it"; changes are grouped
// by subject in text and Markdown alike.
func TestDiffReportAllowWithoutLines(t *testing.T) {
	gus, guest := Subject{Kind: KindUser, Name: "user:gus"}, Subject{Kind: KindRole, Name: "guest"}
	res := &DiffResult{Old: "old", New: "new", Changes: []DiffChange{
		{Subject: guest, Method: "GET", Path: "/a", Sample: "/a", After: Verdict{Allow: true}},
		{Subject: gus, Method: "GET", Path: "/a", Sample: "/a", After: Verdict{Allow: true}},
		{Subject: gus, Method: "PUT", Path: "/a", Sample: "/a", Before: Verdict{Allow: true}},
	}}
	var text, md bytes.Buffer
	if err := res.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if err := res.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"role guest: 1 change\n  GET /a: deny → allow\n    before: no line allows it\n    after:  allowed (no line named)\n",
		"user gus: 2 changes\n",
		"  PUT /a: allow → deny\n    before: allowed (no line named)\n    after:  no line allows it\n",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
	for _, want := range []string{
		"#### role guest: 1 change\n", "| `GET /a` | deny | allow | — | allowed (no line named) |",
		"#### user gus: 2 changes\n", "| `PUT /a` | allow | deny | allowed (no line named) | — |",
	} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}
}

// TestDiffStarSamples: a final * is decided on one segment, on the empty
// rest and on two segments, all reported under the pattern, so that
// narrowing * to one segment shows; the text tells the samples apart.
func TestDiffStarSamples(t *testing.T) {
	older := fstest.MapFS{PolicyFile: {Data: []byte("p, read, /api/*, GET\ng, guest, read\n" + adminLines)}}
	newer := edit(t, older, PolicyFile, replaceLine(t, "p, read, /api/*, GET", "p, read, /api/{id}, GET"))
	res := diffOf(t, older, newer, DiffOptions{})
	var got []string
	for _, c := range res.Changes {
		if c.Subject.Name == RoleGuest {
			got = append(got, c.Method+" "+c.Path+" "+c.Sample+" "+verdictWord(c.After.Allow))
		}
	}
	want := []string{"GET /api/* /api/ deny", "GET /api/* /api/x/x deny"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("changes of guest %q, want %q", got, want)
	}
	var text bytes.Buffer
	if err := res.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"  GET /api/* (as /api/): allow → deny\n", "  GET /api/* (as /api/x/x): allow → deny\n"} {
		if !strings.Contains(text.String(), w) {
			t.Errorf("text lacks %q:\n%s", w, text.String())
		}
	}
}

// TestDiffNotSampled: the patterns that do not compile as Gatehouse
// patterns are listed, once each, in the result, the JSON summary and
// the Markdown, not dropped silently.
func TestDiffNotSampled(t *testing.T) {
	older := fstest.MapFS{ModelFile: {Data: []byte(customModel)},
		PolicyFile: {Data: []byte("p, reader, /api/*/runs, GET\np, reader, /api/v1/*, GET\ng, alice, reader\n" + adminLines)}}
	newer := edit(t, older, PolicyFile, func(s string) string { return s + "p, reader, ^/api/.*$, GET\n" })
	res := diffOf(t, older, newer, DiffOptions{})
	want := []string{"/api/*/runs", "^/api/.*$"}
	if strings.Join(res.NotSampled, "|") != strings.Join(want, "|") {
		t.Errorf("not sampled %q, want %q", res.NotSampled, want)
	}
	if note := res.NotSampledNote(); !strings.HasPrefix(note, "2 patterns not sampled: /api/*/runs, ^/api/.*$ (") {
		t.Errorf("note %q", note)
	}
	var md, js bytes.Buffer
	if err := res.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if err := res.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "2 patterns not sampled") || !strings.Contains(md.String(), "`/api/*/runs`, `^/api/.*$`") {
		t.Errorf("markdown:\n%s", md.String())
	}
	if !strings.Contains(js.String(), `"not_sampled": [`+"\n"+`      "/api/*/runs",`+"\n"+`      "^/api/.*$"`) {
		t.Errorf("json:\n%s", js.String())
	}
}

// TestDiffUnreachedPermissions: a permission or role that no listed
// subject reaches (held only through the database's g lines, or a custom
// model's role no user in the files holds) is decided as a subject of its
// own, so that a change of its p lines is reported.
func TestDiffUnreachedPermissions(t *testing.T) {
	custom := fstest.MapFS{ModelFile: {Data: []byte(customModel)},
		PolicyFile: {Data: []byte("p, editor, /api/*, GET\np, reader, /api/*, GET\ng, alice, reader\n" + adminLines)}}
	def := fstest.MapFS{PolicyFile: {Data: []byte("p, read, /*, GET\np, audit, /api/audit, GET\ng, guest, read\n" + adminLines)}}
	cases := []struct {
		name     string
		old, new fstest.MapFS
		want     []string // Label METHOD PATH after
	}{
		{"a custom model's role nobody holds", custom,
			edit(t, custom, PolicyFile, replaceLine(t, "p, editor, /api/*, GET", "p, editor, /api/*, DELETE")),
			// keyMatch's * matches /api/, /api/x and /api/x/x alike.
			[]string{"permission editor GET /api/* deny", "permission editor GET /api/* deny", "permission editor GET /api/* deny",
				"permission editor DELETE /api/* allow", "permission editor DELETE /api/* allow", "permission editor DELETE /api/* allow"}},
		{"a permission only the database gives", def,
			edit(t, def, PolicyFile, replaceLine(t, "p, audit, /api/audit, GET", "p, audit, /api/*, GET")),
			[]string{"permission audit GET /api/* allow", "permission audit GET /api/* allow", "permission audit GET /api/* allow"}},
		// Renamed in the files alone, it is no refactor: the database's g
		// lines still give the old name, which then opens nothing.
		{"a permission only the database gives, renamed", def,
			edit(t, def, PolicyFile, replaceLine(t, "p, audit, /api/audit, GET", "p, auditor, /api/audit, GET")),
			[]string{"permission audit GET /api/audit deny", "permission auditor GET /api/audit allow"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := diffOf(t, c.old, c.new, DiffOptions{})
			var got []string
			for _, ch := range res.Changes {
				got = append(got, ch.Subject.Label()+" "+ch.Method+" "+ch.Path+" "+verdictWord(ch.After.Allow))
			}
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}
}
