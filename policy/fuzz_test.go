package policy

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
)

// FuzzParseCSV checks that any input parses without panicking, that every
// problem names its line, that every parsed line reads back from its CSV
// form, and that whatever loads can decide.
func FuzzParseCSV(f *testing.F) {
	f.Add(defaultPolicy)
	f.Add([]byte("p, read, /x, get\ng, a\np, bad name, /x, GET\np, read, \"/x, GET\n"))
	f.Add([]byte(`p, alice, "keyMatch(r.obj, '/x')", "a,b"` + "\n# c\n\ng, user:a, b\n"))
	f.Add([]byte(adminLines + "p, me, /api/v1/users/{self}/*, PUT|PATCH\np, public, /health, GET|HEAD\np, x, /:a/{b}/c, *\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		lines, errs := ParseCSV("f.csv", data)
		for _, err := range errs {
			var le *LineError
			if !errors.As(err, &le) || le.File != "f.csv" || le.Num < 1 {
				t.Fatalf("problem without a line: %v", err)
			}
		}
		for _, l := range lines {
			back, errs := ParseCSV("f.csv", []byte(l.CSV()))
			if len(errs) > 0 || len(back) != 1 || back[0].Ptype != l.Ptype || !slices.Equal(back[0].Fields, l.Fields) {
				t.Fatalf("%q reads back as %+v (%v)", l.CSV(), back, errs)
			}
		}
		files := &Files{Model: defaultModel, ModelName: "model.conf", PolicyName: "f.csv", Lines: lines}
		e, err := New(context.Background(), nil, files, nil)
		if err != nil {
			for _, p := range Problems(err) {
				var le *LineError
				if !errors.As(p, &le) || le.Num < 1 {
					t.Fatalf("load problem without a line: %v", p)
				}
			}
			return
		}
		for _, l := range lines {
			if l.Ptype != "p" {
				continue
			}
			path := strings.NewReplacer("{self}", "me", "*", "x").Replace(l.Fields[1])
			for _, sub := range []string{"", UserSubject("me")} {
				if _, err := e.Explain(sub, "me", "me", "GET", path); err != nil {
					t.Fatalf("explain %s: %v", path, err)
				}
			}
		}
	})
}

// FuzzPattern checks the compiled index against the pattern matcher that
// Explain and Casbin's pathMatch use: for one rule, both must agree on
// every path.
func FuzzPattern(f *testing.F) {
	for _, s := range [][2]string{
		{"/*", "/"}, {"/api/*", "/api"}, {"/api/v1/users/{self}", "/api/v1/users/me"},
		{"/api/v1/:kind/{id}", "/api/v1/runs/r1"}, {"/api/", "/api/"}, {"/x/{a}/y", "/x//y"},
		{"/api/v1/users/{self}/*", "/api/v1/users/id/a/b"}, {"/", "/"}, {"/a/b", "/a/b/"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pat, path string) {
		p, err := compilePattern(pat)
		if err != nil {
			if !errors.Is(err, errPattern) {
				t.Fatalf("error does not wrap errPattern: %v", err)
			}
			return
		}
		x, err := compileIndex([]Line{{Ptype: "p", Fields: []string{"s", pat, "GET"}}})
		if err != nil {
			t.Fatalf("pattern compiles but index does not: %v", err)
		}
		g := newBitset(1)
		g.set(0)
		want := strings.HasPrefix(path, "/") && p.match(path, "me", "id")
		if got := x.lookup("GET", path, g, "me", "id") >= 0; got != want {
			t.Fatalf("pattern %q, path %q: index %v, matcher %v", pat, path, got, want)
		}
	})
}
