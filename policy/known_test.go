package policy

import (
	"context"
	"errors"
	"testing"
	"testing/fstest"
)

func TestEditDistance(t *testing.T) {
	cases := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"read", "read", 0},
		{"raed", "read", 1}, // neighbours swapped
		{"gueest", "guest", 1},
		{"guest", "gust", 1},
		{"reed", "read", 1},
		{"", "me", 2},
		{"admin", "", 5},
		{"ca", "abc", 3}, // optimal string alignment: no edit of a swapped pair
		{"releaser", "deployer", 5},
		{"kitten", "sitting", 3},
		{"outptu", "output", 1}, // a mistyped flag
	}
	for _, c := range cases {
		if got := EditDistance(c.a, c.b); got != c.want {
			t.Errorf("EditDistance(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
		if got := EditDistance(c.b, c.a); got != c.want {
			t.Errorf("EditDistance(%q, %q) = %d, want %d", c.b, c.a, got, c.want)
		}
	}
}

func TestNamesAndHints(t *testing.T) {
	f := testFiles(t, "", string(defaultPolicy)+"p, deploy, /d, POST\ng, releaser, deploy\ng, user:rita, releaser\np, user:bob, /b, GET\n")
	names := f.Names()
	for _, n := range []string{"admin", "guest", "read", "write", "me", "public", "deploy", "releaser"} {
		if !names.Has(n) {
			t.Errorf("%q is not known", n)
		}
	}
	for _, n := range []string{"user:rita", "rita", "user:bob", "/d", "POST", "reviewer"} {
		if names.Has(n) {
			t.Errorf("%q is known", n)
		}
	}
	cases := []struct{ name, want string }{
		{"gueest", "guest"},
		{"raed", "read"},
		{"Admin", "admin"},
		{"releasr", "releaser"},
		{"deplyo", "deploy"},
		{"wrte", "write"},
		{"mx", "me"},               // one edit, however short the name
		{"rd", ""},                 // two edits from read: too far for two letters
		{"gst", ""},                // two edits from guest
		{"releasers1", "releaser"}, // ten letters allow two edits
		{"deployyyy", ""},          // three edits in nine letters
		{"reviewer", ""},           // nothing near
	}
	for _, c := range cases {
		got, ok := names.Closest(c.name)
		if ok != (c.want != "") || ok && got != c.want {
			t.Errorf("Closest(%q) = %q, %v; want %q", c.name, got, ok, c.want)
		}
	}
	if h := names.Hint("gueest"); h != `; did you mean "guest"?` {
		t.Errorf("Hint = %q", h)
	}
	if h := names.Hint("reviewer"); h != "" {
		t.Errorf("Hint = %q, want none", h)
	}
}

func TestUnknownFixtureRoles(t *testing.T) {
	f := testFiles(t, "", string(defaultPolicy)+"p, releaser, /d, POST\n")
	s, errs := ParseSuite("tests.yaml", []byte("users:\n  rita: [releaser, gueest]\n  gus: [guest]\n  sam: [auditor, admin]\ncases:\n  - {user: rita, method: GET, path: /, allow: true}\n"))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	got := s.UnknownRoles(f)
	want := []string{
		`tests.yaml:2: user rita: unknown role or permission "gueest": the policy files do not define it; did you mean "guest"?`,
		`tests.yaml:4: user sam: unknown role or permission "auditor": the policy files do not define it`,
	}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i, w := range want {
		if got[i].Error() != w || !errors.Is(got[i], ErrUnknownName) {
			t.Errorf("problem %d = %q, want %q", i, got[i], w)
		}
	}
}

// TestUnknownParentsAreAFileCheckOnly: a file line may give a role made
// through the admin API, which lives in the database; validate reports
// it, a server loads it and decides with the database's lines.
func TestUnknownParentsAreAFileCheckOnly(t *testing.T) {
	csv := string(defaultPolicy) + "g, releaser, deployer\n"
	got := ValidateDir(fstest.MapFS{PolicyFile: {Data: []byte(csv)}}, "d")
	if len(got) != 1 || !errors.Is(got[0], ErrUnknownName) {
		t.Fatalf("validate: %v", got)
	}
	e := newTestEngine(t, sqliteDB(t), testFiles(t, "", csv))
	err := e.Update(context.Background(), func(c *Change) error {
		c.Add("g", "deployer", "write")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	grant(t, e, "rita", "releaser")
	if d, err := e.Decide(UserSubject("rita"), "rita", "rita", "POST", "/api/v1/x"); err != nil || !d.Allowed {
		t.Errorf("rita through releaser → deployer → write: %+v %v", d, err)
	}
}
