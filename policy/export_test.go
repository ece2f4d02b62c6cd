package policy

import (
	"context"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

// databaseLines returns the lines of e that are not from a file.
func databaseLines(e *Engine) []Line {
	var out []Line
	for _, l := range e.Lines() {
		if !l.FromFile() {
			out = append(out, l)
		}
	}
	return out
}

// export runs Export and returns what it wrote.
func export(t *testing.T, header []string, files *Files, database []Line) string {
	t.Helper()
	var b strings.Builder
	if err := Export(&b, header, files, database); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// loadText loads text as the policy.csv of a directory d.
func loadText(t *testing.T, text string) *Files {
	t.Helper()
	f, err := LoadDir(fstest.MapFS{PolicyFile: {Data: []byte(text)}}, "d")
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestExportReadsBack(t *testing.T) {
	csv := string(defaultPolicy) + "p, public, /health, GET\n"
	files := testFiles(t, "", csv) // lines without the text they came from
	e := newTestEngine(t, sqliteDB(t), files)
	grant(t, e, "gus", "guest")
	grant(t, e, "ada", "admin")
	err := e.Update(context.Background(), func(c *Change) error {
		c.Add("g", "admin", "read") // in the file too: exported once, from the file
		c.Add("p", "deploy", "/api/v1/deployments/{id}", "POST")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	out := export(t, []string{"test export", "second\nheader"}, files, databaseLines(e))
	for _, want := range []string{"# " + ExportTitle + "\n# test export\n# second\n# header\n\np, read, /*, GET|HEAD\n", "\n# from database\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("export lacks %q:\n%s", want, out)
		}
	}
	if strings.Count(out, "g, admin, read\n") != 1 {
		t.Errorf("a line in both layers is exported twice:\n%s", out)
	}
	lines, errs := ParseCSV("export.csv", []byte(out))
	if len(errs) > 0 {
		t.Fatalf("export does not parse: %v", errs)
	}
	var got, want []string
	for _, l := range lines {
		got = append(got, l.String())
	}
	for _, l := range e.Lines() {
		want = append(want, l.String())
	}
	if !slices.Equal(got, want) {
		t.Errorf("read back:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if i, j := strings.Index(out, "p, public, /health"), strings.Index(out, "g, user:ada, admin"); i < 0 || j < i {
		t.Errorf("file lines do not come before database lines:\n%s", out)
	}
}

// TestExportKeepsTheFileAsWritten: the ZenML preset's policy.csv, with its
// comments, exported with no database lines, is the header and the file
// as it is; exported again from the export, it is the same.
func TestExportKeepsTheFileAsWritten(t *testing.T) {
	text, err := fs.ReadFile(zenmlPreset(t).Policy, PolicyFile)
	if err != nil {
		t.Fatal(err)
	}
	files := zenmlFiles(t)
	header := []string{"model: m", "file lines: preset/zenml/policy.csv"}
	out := export(t, header, files, nil)
	want := "# " + ExportTitle + "\n# model: m\n# file lines: preset/zenml/policy.csv\n\n" + strings.TrimRight(string(text), "\n") + "\n"
	if out != want {
		t.Fatalf("export is not the header and the file:\n%s", out)
	}
	again := export(t, header, loadText(t, out), nil)
	if again != out {
		t.Errorf("exporting the export changed it:\n%s", again)
	}
}

// TestExportRoundTripsDatabaseLines: database lines committed to the file
// by one export stay in place, under no "# from database" of their own,
// when it is exported again; new database lines follow; headers do not
// pile up; comments, blank lines and spacing of the file stay.
func TestExportRoundTripsDatabaseLines(t *testing.T) {
	const file = "# Roles\n\ng, admin, read\ng, admin, write\ng, admin, me   \n\n# Rules\np, read,  /*,  GET|HEAD\n\n\n"
	db := []Line{{Ptype: "g", Fields: []string{"deployer", "deploy"}}, {Ptype: "p", Fields: []string{"deploy", "/d/{id}", "POST"}}}
	first := export(t, []string{"one"}, loadText(t, file), db)
	want := "# " + ExportTitle + "\n# one\n\n# Roles\n\ng, admin, read\ng, admin, write\ng, admin, me\n\n# Rules\np, read,  /*,  GET|HEAD\n" +
		"\n# from database\ng, deployer, deploy\np, deploy, /d/{id}, POST\n"
	if first != want {
		t.Fatalf("first export:\n%s\nwant:\n%s", first, want)
	}
	more := []Line{{Ptype: "g", Fields: []string{"ops", "deploy"}}}
	second := export(t, []string{"two"}, loadText(t, first), more)
	want = "# " + ExportTitle + "\n# two\n\n# Roles\n\ng, admin, read\ng, admin, write\ng, admin, me\n\n# Rules\np, read,  /*,  GET|HEAD\n" +
		"\ng, deployer, deploy\np, deploy, /d/{id}, POST\n\n# from database\ng, ops, deploy\n"
	if second != want {
		t.Fatalf("second export:\n%s\nwant:\n%s", second, want)
	}
	third := export(t, []string{"two"}, loadText(t, second), nil)
	if want := strings.Replace(second, "# from database\n", "", 1); third != want {
		t.Errorf("third export:\n%s\nwant:\n%s", third, want)
	}
}

// TestExportWritesTheLinesInForce: lines added to the files after they
// were read (test fixtures, --role) are written after the file's own; a
// line of the text that is not among the lines is not.
func TestExportWritesTheLinesInForce(t *testing.T) {
	files := loadText(t, adminLines+"# end\n")
	files.Text += "p, read, /not-in-force, GET\n"
	files.Lines = append(slices.Clone(files.Lines), Line{Ptype: "g", Fields: []string{"user:rita", "admin"}, File: "--role", Num: 1})
	out := export(t, nil, files, nil)
	want := "# " + ExportTitle + "\n\n" + adminLines + "# end\ng, user:rita, admin\n"
	if out != want {
		t.Errorf("export:\n%q\nwant:\n%q", out, want)
	}
}

func TestLineCSVQuotes(t *testing.T) {
	l := Line{Ptype: "p", Fields: []string{"alice", `keyMatch(r.obj, "/x")`, "a,b"}}
	back, errs := ParseCSV("f", []byte(l.CSV()))
	if len(errs) > 0 || len(back) != 1 || !slices.Equal(back[0].Fields, l.Fields) {
		t.Fatalf("%s read back as %+v %v", l.CSV(), back, errs)
	}
}
