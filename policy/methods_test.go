package policy

import (
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

// TestMethodListsNameHTTPMethodsOnly: a rule's method list names HTTP
// methods or *; a typo (FETCH, GTE, get) is refused with what is
// accepted, not read as a method no request carries.
func TestMethodListsNameHTTPMethodsOnly(t *testing.T) {
	cases := []struct {
		list string
		want []string // the methods opened; nil when refused
		err  string   // the start of the refusal
	}{
		{list: "GET|HEAD", want: []string{"GET"}},
		{list: "GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS|TRACE|CONNECT", want: []string{"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}},
		{list: "*", want: []string{"GET", "POST", "PUT", "PATCH", "DELETE"}},
		{list: "* | OPTIONS", want: []string{"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}},
		{list: "PROPFIND|MKCOL|VERSION-CONTROL", want: []string{"PROPFIND", "MKCOL", "VERSION-CONTROL"}}, // WebDAV, registered
		{list: "PRI", err: `invalid method "PRI"`},                                                       // HTTP/2's preface, never a request
		{list: "FETCH", err: `invalid method "FETCH" in "FETCH": want GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, TRACE, CONNECT or another method of the IANA HTTP method registry (WebDAV's PROPFIND, MKCOL, …), or * (GET, POST, PUT, PATCH, DELETE), several separated by |`},
		{list: "GET|GTE", err: `invalid method "GTE" in "GET|GTE": want GET, HEAD,`},
		{list: "PURGE", err: `invalid method "PURGE"`},
		{list: "get", err: `invalid method "get" in "get": methods are upper case (GET)`},
		{list: "Post|GET", err: `invalid method "Post" in "Post|GET": methods are upper case (POST)`},
		{list: "GET||POST", err: `invalid method "" in "GET||POST"`},
		{list: "HEAD", err: `method list "HEAD" opens nothing`},
	}
	for _, c := range cases {
		got, err := parseMethods(c.list)
		switch {
		case c.err == "" && (err != nil || !slices.Equal(got, c.want)):
			t.Errorf("parseMethods(%q) = %v, %v; want %v", c.list, got, err, c.want)
		case c.err != "" && (err == nil || !strings.HasPrefix(err.Error(), c.err)):
			t.Errorf("parseMethods(%q) = %v, %v; want an error starting %q", c.list, got, err, c.err)
		}
	}
}

// TestUnknownMethodsAreReportedWhereverNamed: validate reports a method
// outside the HTTP methods on its line, under the default model and
// under a custom model's methodMatch, and in tests.yaml's cases.
func TestUnknownMethodsAreReportedWhereverNamed(t *testing.T) {
	methodModel := strings.Replace(customModel, "keyMatch(r.obj, p.obj) && r.act == p.act", "pathMatch(r.obj, p.obj) && methodMatch(r.act, p.act)", 1)
	for _, c := range []struct{ name, model string }{{"default model", ""}, {"methodMatch", methodModel}} {
		t.Run(c.name, func(t *testing.T) {
			fsys := fstest.MapFS{PolicyFile: {Data: []byte(adminLines + "p, read, /x, GET|FETCH\np, read, /y, GET\n")}}
			if c.model != "" {
				fsys[ModelFile] = &fstest.MapFile{Data: []byte(c.model)}
			}
			got := ValidateDir(fsys, "d")
			if len(got) != 1 || !strings.HasPrefix(got[0].Error(), `d/policy.csv:4: invalid method "FETCH" in "GET|FETCH": want GET, HEAD,`) {
				t.Fatalf("got %v", got)
			}
		})
	}
	_, errs := ParseSuite("tests.yaml", []byte("users: {}\ncases:\n  - {method: FETCH, path: /, allow: false}\n  - {method: delete, path: /, allow: false}\n  - {method: TRACE, path: /, allow: false}\n"))
	want := []string{
		`tests.yaml:3: invalid method "FETCH": want GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, TRACE, CONNECT or another method of the IANA HTTP method registry (WebDAV's PROPFIND, MKCOL, …)`,
		`tests.yaml:4: invalid method "delete": methods are upper case (DELETE)`,
	}
	if len(errs) != len(want) {
		t.Fatalf("got %v, want %d problems", errs, len(want))
	}
	for i, w := range want {
		if errs[i].Error() != w {
			t.Errorf("problem %d = %q, want %q", i, errs[i], w)
		}
	}
}
