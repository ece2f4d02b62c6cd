package policy

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// caller is a user (or the anonymous caller) of the golden tests.
type caller struct {
	name  string // "" for anonymous
	id    string
	roles []string
}

func (c caller) label() string {
	if c.name == "" {
		return "anonymous"
	}
	return c.name
}

func (c caller) decide(t *testing.T, e *Engine, method, path string) Decision {
	t.Helper()
	sub := ""
	if c.name != "" {
		sub = UserSubject(c.name)
	}
	d, err := e.Decide(sub, c.id, c.name, method, path)
	if err != nil {
		t.Fatalf("%s %s %s: %v", c.label(), method, path, err)
	}
	return d
}

// goldenCallers are admin, guest, a role holding only write, and an
// anonymous caller. Their ids differ from their names so that {self}
// is seen matching both.
var goldenCallers = []caller{
	{name: "ada", id: "u-ada", roles: []string{"admin"}},
	{name: "gus", id: "u-gus", roles: []string{"guest"}},
	{name: "wendy", id: "u-wendy", roles: []string{"writer"}},
	{},
}

// withCallers returns f with the golden callers' role lines and a
// write-only role.
func withCallers(f *Files) *Files {
	out := *f
	out.Lines = append([]Line(nil), f.Lines...)
	out.Lines = append(out.Lines, Line{Ptype: "g", Fields: []string{"writer", "write"}, File: "golden", Num: 1})
	for _, c := range goldenCallers {
		for _, r := range c.roles {
			out.Lines = append(out.Lines, Line{Ptype: "g", Fields: []string{UserSubject(c.name), r}, File: "golden", Num: 2})
		}
	}
	return &out
}

// readTSV returns the tab-separated records of a file, comments and blank
// lines skipped, each with its line number.
func readTSV(t *testing.T, name string, fields int) (recs [][]string, lines []int) {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		text := sc.Text()
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		rec := strings.Split(text, "\t")
		if len(rec) != fields {
			t.Fatalf("%s:%d: %d fields, want %d", name, n, len(rec), fields)
		}
		recs, lines = append(recs, rec), append(lines, n)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return recs, lines
}

func TestGoldenDefaultPolicy(t *testing.T) {
	e := newTestEngine(t, nil, withCallers(DefaultFiles()))
	name := filepath.Join("testdata", "golden", "default.tsv")
	recs, lines := readTSV(t, name, 2+len(goldenCallers))
	if len(recs) == 0 {
		t.Fatal("no golden decisions")
	}
	for i, rec := range recs {
		for j, c := range goldenCallers {
			self, id := c.name, c.id
			if c.name == "" {
				self, id = "nobody", "u-nobody"
			}
			path := strings.NewReplacer("{self}", self, "{id}", id).Replace(rec[1])
			d := c.decide(t, e, rec[0], path)
			got := d.Permission
			if !d.Allowed {
				got = "deny"
			}
			if want := rec[2+j]; got != want {
				t.Errorf("%s:%d: %s %s %s: got %s, want %s", name, lines[i], c.label(), rec[0], path, got, want)
			}
		}
	}
}
