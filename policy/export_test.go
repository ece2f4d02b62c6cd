package policy

import (
	"context"
	"slices"
	"strings"
	"testing"
)

func TestExportReadsBack(t *testing.T) {
	csv := string(defaultPolicy) + "p, public, /health, GET\n"
	e := newTestEngine(t, sqliteDB(t), testFiles(t, "", csv))
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
	var b strings.Builder
	if err := Export(&b, []string{"test export", "second\nheader"}, e.Lines()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"# test export\n# second\n# header\n", "\n# from policy.csv\np, read, /*, GET|HEAD\n", "\n# from database\n"} {
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

func TestLineCSVQuotes(t *testing.T) {
	l := Line{Ptype: "p", Fields: []string{"alice", `keyMatch(r.obj, "/x")`, "a,b"}}
	back, errs := ParseCSV("f", []byte(l.CSV()))
	if len(errs) > 0 || len(back) != 1 || !slices.Equal(back[0].Fields, l.Fields) {
		t.Fatalf("%s read back as %+v %v", l.CSV(), back, errs)
	}
}
