package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/admin/store"
	"github.com/gatehouse-dev/gatehouse/internal/testkit"
	"github.com/gatehouse-dev/gatehouse/policy"
)

// zenmlPolicyDir is the ZenML preset, relative to this package.
var zenmlPolicyDir = filepath.Join("..", "..", "deploy", "kubernetes", "policy")

// policyCLI runs the command line in-process and returns its exit code,
// stdout and stderr.
func policyCLI(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	home := t.TempDir() // no stored login unless a test makes one
	getenv := func(k string) string {
		if k == "XDG_CONFIG_HOME" {
			return home
		}
		return env[k]
	}
	code := run(context.Background(), args, getenv, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

// policyTree writes files into a new directory and returns its path.
func policyTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		testkit.WriteFile(t, filepath.Join(dir, name), data)
	}
	return dir
}

const goodPolicy = `p, read, /*, GET|HEAD
p, write, /*, POST|PUT|PATCH|DELETE
p, me, /api/v1/users/{self}, GET|PUT|PATCH
p, releaser, /api/v1/deployments/{id}, POST
p, public, /health, GET
g, admin, read
g, admin, write
g, admin, me
g, guest, read
g, guest, me
`

func TestPolicyValidate(t *testing.T) {
	good := policyTree(t, map[string]string{"policy.csv": goodPolicy, "tests.yaml": "users: {}\ncases:\n  - {method: GET, path: /health, allow: true}\n"})
	bad := policyTree(t, map[string]string{
		"policy.csv": goodPolicy + "p, read, /x, get\np, read, /x\ng, admin\n",
		"model.conf": strings.Replace(defaultModelText(t), "[matchers]", "[matcher]", 1),
		"tests.yaml": "users: {}\ncases:\n  - {method: GET, path: /health, allow: maybe}\n",
	})
	typos := policyTree(t, map[string]string{
		"policy.csv": strings.Replace(goodPolicy, "g, guest, read", "g, guest, raed", 1) + "p, read, /x, FETCH\n",
		"tests.yaml": "users:\n  rita: [releasr]\ncases:\n  - {user: rita, method: GET, path: /health, allow: true}\n",
	})
	badModel := policyTree(t, map[string]string{
		"policy.csv": goodPolicy,
		"model.conf": strings.Replace(defaultModelText(t), "methodMatch(", "methodMatches(", 1),
	})
	cases := []struct {
		name     string
		args     []string
		code     int
		stdout   []string
		problems []string // stderr lines, in order
	}{
		{"valid", []string{"policy", "validate", good}, 0, []string{"ok: " + good + ": 10 lines", "1 test cases"}, nil},
		{"zenml preset", []string{"policy", "validate", zenmlPolicyDir}, 0, []string{"ok: "}, nil},
		{"problems", []string{"policy", "validate", bad}, 1, nil, []string{
			bad + "/model.conf:16: unknown section [matcher]",
			bad + "/model.conf:17: missing section [matchers]",
			bad + "/tests.yaml:3: allow: want true or false",
		}},
		{"bad model", []string{"policy", "validate", badModel}, 1, nil, []string{
			badModel + "/model.conf:17: m calls undefined function methodMatches()",
		}},
		{"bad lines", []string{"policy", "validate", policyTree(t, map[string]string{"policy.csv": goodPolicy + "p, read, /x, get\np, read, /x\ng, admin\n"})}, 1, nil, []string{
			"/policy.csv:11: invalid method \"get\"",
			"/policy.csv:12: p line has 2 values",
			"/policy.csv:13: g line has 1 values",
		}},
		{"typos", []string{"policy", "validate", typos}, 1, nil, []string{
			typos + `/policy.csv:9: unknown role or permission "raed": no p line names it, no g line gives it a role or permission, and it is not built in (admin, read, write, me, public); did you mean "read"?`,
			typos + `/policy.csv:11: invalid method "FETCH" in "FETCH": want GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, TRACE, CONNECT or another method of the IANA HTTP method registry (WebDAV's PROPFIND, MKCOL, …), or * (GET, POST, PUT, PATCH, DELETE), several separated by |`,
			typos + `/tests.yaml:2: user rita: unknown role or permission "releasr": the policy files do not define it; did you mean "releaser"?`,
		}},
		{"missing dir", []string{"policy", "validate", filepath.Join(good, "nope")}, 1, nil, nil},
		{"no dir", []string{"policy", "validate"}, 2, nil, nil},
		{"misspelt command", []string{"policy", "valdate", good}, 2, nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := policyCLI(t, nil, c.args...)
			if code != c.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, c.code, out, errOut)
			}
			for _, want := range c.stdout {
				if !strings.Contains(out, want) {
					t.Errorf("stdout lacks %q:\n%s", want, out)
				}
			}
			lines := strings.Split(strings.TrimSpace(errOut), "\n")
			if len(c.problems) > 0 && len(lines) != len(c.problems)+1 {
				t.Fatalf("stderr has %d lines, want %d problems and the error:\n%s", len(lines), len(c.problems), errOut)
			}
			for i, want := range c.problems {
				if !strings.Contains(lines[i], want) {
					t.Errorf("problem %d = %q, want %q", i, lines[i], want)
				}
			}
		})
	}
}

func defaultModelText(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "policy", "defaults", "model.conf"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestPolicyTest(t *testing.T) {
	const tests = `users:
  rita: [releaser]
  gus: [guest]
cases:
  - {user: rita, method: POST, path: /api/v1/deployments/d1, allow: true}
  - {user: gus, method: PUT, path: /api/v1/users/gus, allow: true}
  - {method: GET, path: /health, allow: true}
`
	passing := policyTree(t, map[string]string{"policy.csv": goodPolicy, "tests.yaml": tests})
	failing := policyTree(t, map[string]string{"policy.csv": goodPolicy, "tests.yaml": tests +
		"  - {user: gus, method: POST, path: /api/v1/deployments/d1, allow: true}\n" +
		"  - {method: GET, path: /health, allow: false}\n"})
	unparsable := policyTree(t, map[string]string{"policy.csv": goodPolicy, "tests.yaml": "users:\n  rita: [releaser\ncases: []\n"})
	strict := policyTree(t, map[string]string{"policy.csv": goodPolicy, "tests.yaml": tests + "  - {user: rita, method: GET, path: /, allow: true, expect: 200}\n"})
	brokenPolicy := policyTree(t, map[string]string{"policy.csv": goodPolicy + "p, read, /x/*/y, GET\n", "tests.yaml": tests})
	noTests := policyTree(t, map[string]string{"policy.csv": goodPolicy})
	typoPolicy := policyTree(t, map[string]string{"policy.csv": strings.Replace(goodPolicy, "g, guest, read", "g, guest, gust", 1), "tests.yaml": tests})
	typoFixture := policyTree(t, map[string]string{"policy.csv": goodPolicy, "tests.yaml": strings.Replace(tests, "gus: [guest]", "gus: [gueest]", 1)})
	typoMethod := policyTree(t, map[string]string{"policy.csv": goodPolicy, "tests.yaml": tests + "  - {user: gus, method: FETCH, path: /x, allow: false}\n"})

	cases := []struct {
		name   string
		dir    string
		code   int
		stdout []string
		stderr []string
	}{
		{"passing", passing, 0, []string{"PASS: 3 cases"}, nil},
		{"zenml preset", zenmlPolicyDir, 0, []string{"PASS: 59 cases"}, nil},
		{"failing", failing, 1, []string{
			"FAIL " + failing + "/tests.yaml:8: gus POST /api/v1/deployments/d1: want allow, got deny (no rule allows it)",
			"FAIL " + failing + "/tests.yaml:9: anonymous GET /health: want deny, got allow (allowed by p, public, /health, GET (" + failing + "/policy.csv:5))",
			"FAIL: 2 of 5 cases failed",
		}, []string{"2 of 5 policy test cases failed"}},
		{"unparsable", unparsable, 1, nil, []string{unparsable + "/tests.yaml:2: did not find expected ',' or ']'"}},
		{"unknown key", strict, 1, nil, []string{strict + `/tests.yaml:8: unknown key "expect"`}},
		{"broken policy", brokenPolicy, 1, nil, []string{brokenPolicy + `/policy.csv:11: invalid path pattern "/x/*/y"`}},
		{"no tests.yaml", noTests, 1, nil, []string{noTests + "/tests.yaml: open tests.yaml: no such file"}},
		{"misspelt parent", typoPolicy, 1, nil, []string{typoPolicy + `/policy.csv:9: unknown role or permission "gust": no p line names it, no g line gives it a role or permission, and it is not built in (admin, read, write, me, public); did you mean "guest"?`}},
		{"misspelt fixture role", typoFixture, 1, nil, []string{typoFixture + `/tests.yaml:3: user gus: unknown role or permission "gueest": the policy files do not define it; did you mean "guest"?`}},
		{"misspelt method", typoMethod, 1, nil, []string{typoMethod + `/tests.yaml:8: invalid method "FETCH": want GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, TRACE, CONNECT or another method of the IANA HTTP method registry (WebDAV's PROPFIND, MKCOL, …)`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := policyCLI(t, nil, "policy", "test", c.dir)
			if code != c.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, c.code, out, errOut)
			}
			for _, want := range c.stdout {
				if !strings.Contains(out, want+"\n") {
					t.Errorf("stdout lacks %q:\n%s", want, out)
				}
			}
			for _, want := range c.stderr {
				if !strings.Contains(errOut, want) {
					t.Errorf("stderr lacks %q:\n%s", want, errOut)
				}
			}
		})
	}
}

func TestPolicyCheckLocal(t *testing.T) {
	dir := policyTree(t, map[string]string{"policy.csv": goodPolicy})
	rule := func(n int, text string) string { return text + " (" + dir + "/policy.csv:" + string(rune('0'+n)) + ")" }
	cases := []struct {
		name    string
		args    []string
		code    int
		allowed bool
		rule    string
		stderr  string
	}{
		{"releaser", []string{"--user", "rita", "--role", "releaser", "--method", "POST", "--path", "/api/v1/deployments/d1"}, 0, true, rule(4, "p, releaser, /api/v1/deployments/{id}, POST"), ""},
		{"no role", []string{"--user", "rita", "--method", "POST", "--path", "/api/v1/deployments/d1"}, 0, false, "", ""},
		{"self", []string{"--user", "gus", "--role", "guest", "--method", "PUT", "--path", "/api/v1/users/gus"}, 0, true, rule(3, "p, me, /api/v1/users/{self}, GET|PUT|PATCH"), ""},
		{"other user", []string{"--user", "gus", "--role", "guest", "--method", "PUT", "--path", "/api/v1/users/ada"}, 0, false, "", ""},
		{"anonymous", []string{"--method", "GET", "--path", "/health"}, 0, true, rule(5, "p, public, /health, GET"), ""},
		{"canonical path", []string{"--method", "GET", "--path", "/x/../health"}, 0, true, rule(5, "p, public, /health, GET"), ""},
		{"refused path", []string{"--method", "GET", "--path", "/a%2fb"}, 1, false, "", "the proxy refuses it (400)"},
		{"role without user", []string{"--role", "guest", "--method", "GET", "--path", "/"}, 2, false, "", "--role needs --user"},
		{"bad role", []string{"--user", "u", "--role", "a b", "--method", "GET", "--path", "/"}, 2, false, "", `--role "a b"`},
		{"no method", []string{"--path", "/"}, 2, false, "", "--method is required"},
		{"unknown method", []string{"--method", "FETCH", "--path", "/"}, 2, false, "", `--method: invalid method "FETCH": want GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, TRACE, CONNECT or another method of the IANA HTTP method registry (WebDAV's PROPFIND, MKCOL, …)`},
		{"lower-case method", []string{"--method", "get", "--path", "/health"}, 2, false, "", `--method: invalid method "get": methods are upper case (GET)`},
		{"misspelt role", []string{"--user", "gus", "--role", "gueest", "--method", "GET", "--path", "/"}, 2, false, "", `--role "gueest": no role or permission of that name in ` + dir + `; did you mean "guest"?`},
		{"unknown roles", []string{"--user", "gus", "--role", "auditor", "--role", "guest", "--role", "releasr", "--method", "GET", "--path", "/"}, 2, false, "",
			`--role "auditor": no role or permission of that name in ` + dir + "\n" + `--role "releasr": no role or permission of that name in ` + dir + `; did you mean "releaser"?`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"policy", "check", "--policy-dir", dir, "-o", "json"}, c.args...)
			code, out, errOut := policyCLI(t, nil, args...)
			if code != c.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, c.code, out, errOut)
			}
			if c.stderr != "" && !strings.Contains(errOut, c.stderr) {
				t.Errorf("stderr lacks %q:\n%s", c.stderr, errOut)
			}
			if code != 0 {
				if out != "" {
					t.Errorf("a refused check printed to stdout: %q", out)
				}
				return
			}
			var res struct {
				Allowed *bool   `json:"allowed"`
				Rule    *string `json:"rule"`
			}
			if err := json.Unmarshal([]byte(out), &res); err != nil || res.Allowed == nil || res.Rule == nil {
				t.Fatalf("output %q is not {allowed, rule}: %v", out, err)
			}
			if *res.Allowed != c.allowed || *res.Rule != c.rule {
				t.Errorf("got %v %q, want %v %q", *res.Allowed, *res.Rule, c.allowed, c.rule)
			}
		})
	}
	code, out, _ := policyCLI(t, nil, "policy", "check", "--policy-dir", dir, "--user", "gus", "--role", "guest", "--method", "DELETE", "--path", "/api/v1/pipelines/p1")
	if code != 0 || out != "denied: DELETE /api/v1/pipelines/p1 for gus\nrule: none allows it\n" {
		t.Errorf("text output: exit %d\n%s", code, out)
	}
}

func TestPolicyCheckAgainstServer(t *testing.T) {
	var got checkBody
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/gatehouse/v1/check" {
			http.NotFound(w, r)
			return
		}
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"error":{"code":"unauthenticated","message":"invalid or expired token"}}`))
			return
		}
		json.NewDecoder(r.Body).Decode(&got)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"allowed":true,"rule":"p, read, /*, GET|HEAD (policy.csv:1)"}`))
	}))
	defer srv.Close()
	env := map[string]string{"GATEHOUSE_SERVER": srv.URL, "GATEHOUSE_TOKEN": "tok"}

	code, out, errOut := policyCLI(t, env, "policy", "check", "--user", "gus", "--method", "GET", "--path", "/api/v1/pipelines")
	if code != 0 || out != "allowed: GET /api/v1/pipelines for gus\nrule: p, read, /*, GET|HEAD (policy.csv:1)\n" {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if got != (checkBody{User: "gus", Method: "GET", Path: "/api/v1/pipelines"}) {
		t.Errorf("server got %+v", got)
	}
	code, out, _ = policyCLI(t, env, "policy", "check", "--method", "GET", "--path", "/x", "-o", "json")
	if code != 0 || strings.TrimSpace(out) != `{"allowed":true,"rule":"p, read, /*, GET|HEAD (policy.csv:1)"}` {
		t.Errorf("json: exit %d: %s", code, out)
	}
	code, _, errOut = policyCLI(t, map[string]string{"GATEHOUSE_SERVER": srv.URL, "GATEHOUSE_TOKEN": "wrong"}, "policy", "check", "--method", "GET", "--path", "/x")
	if code != 1 || !strings.Contains(errOut, "invalid or expired token (GATEHOUSE_TOKEN was refused") {
		t.Errorf("bad token: exit %d: %s", code, errOut)
	}
	code, _, errOut = policyCLI(t, map[string]string{"GATEHOUSE_SERVER": srv.URL}, "policy", "check", "--method", "GET", "--path", "/x")
	if code != 1 || !strings.Contains(errOut, "not logged in to") {
		t.Errorf("no token: exit %d: %s", code, errOut)
	}
	code, _, errOut = policyCLI(t, nil, "policy", "check", "--method", "GET", "--path", "/x")
	if code != 2 || !strings.Contains(errOut, "no server: log in first") {
		t.Errorf("no server: exit %d: %s", code, errOut)
	}
	code, _, errOut = policyCLI(t, env, "policy", "check", "--user", "gus", "--role", "guest", "--method", "GET", "--path", "/x")
	if code != 2 || !strings.Contains(errOut, "--role needs --policy-dir") {
		t.Errorf("role against a server: exit %d: %s", code, errOut)
	}
}

// storeWithGrants makes a SQLite store beside the policy files in dir,
// adds the g lines (child, parent) to it through the engine, as the admin
// API does, and returns its DSN and the files as loaded.
func storeWithGrants(t *testing.T, dir string, grants ...[2]string) (string, *policy.Files) {
	t.Helper()
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "gh.db")
	ctx := context.Background()
	db, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	files, err := policy.LoadDir(os.DirFS(dir), dir)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := policy.New(ctx, db, files, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = eng.Update(ctx, func(c *policy.Change) error {
		for _, g := range grants {
			c.Add("g", g[0], g[1])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if sqlDB, err := db.DB(); err == nil {
		sqlDB.Close()
	}
	return dsn, files
}

func TestPolicyExport(t *testing.T) {
	dir := policyTree(t, map[string]string{"policy.csv": goodPolicy})
	dsn, files := storeWithGrants(t, dir, [2]string{policy.UserSubject("gus"), "guest"}, [2]string{"deployer", "releaser"},
		[2]string{"guest", "read"}) // the last also in the file

	code, out, errOut := policyCLI(t, map[string]string{"GATEHOUSE_DB": dsn}, "policy", "export", "--policy-dir", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"# " + policy.ExportTitle + "\n",
		"# model: model.conf (embedded default)\n",
		"# file lines: " + dir + "/policy.csv (revision " + files.Revision + ")\n",
		"# database lines: " + dsn + ", without 1 naming users (g, user:NAME, ROLE; --include-users writes them)\n\n",
		"\n\n" + goodPolicy + "\n# from database\ng, deployer, releaser\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("export lacks %q:\n%s", want, out)
		}
	}
	if strings.Count(out, "g, guest, read\n") != 1 {
		t.Errorf("a line in both layers is exported twice:\n%s", out)
	}
	if strings.Contains(out, "user:gus") {
		t.Errorf("a user assignment was exported without --include-users:\n%s", out)
	}

	// The export is a valid policy directory of its own.
	back := policyTree(t, map[string]string{"policy.csv": out})
	if code, _, errOut := policyCLI(t, nil, "policy", "validate", back); code != 0 {
		t.Errorf("exported policy does not validate: %s", errOut)
	}

	code, out, _ = policyCLI(t, nil, "policy", "export", "--policy-dir", dir, "--db", dsn, "--include-users")
	if code != 0 || !strings.Contains(out, "# database lines: "+dsn+"\n") || !strings.Contains(out, "\n# from database\ng, deployer, releaser\ng, user:gus, guest\n") {
		t.Errorf("--include-users: exit %d:\n%s", code, out)
	}

	// Without --db, the files alone; without --policy-dir, the defaults.
	code, out, _ = policyCLI(t, nil, "policy", "export")
	if code != 0 || !strings.Contains(out, "# database lines: none") || !strings.Contains(out, "# file lines: policy.csv (embedded default)") ||
		!strings.Contains(out, "\n# Gatehouse default policy. Replaced by --policy-dir when one is given.\np, read,  /*,") {
		t.Errorf("defaults export: exit %d:\n%s", code, out)
	}
	// The ZenML preset's comments stay in place: the export is the header
	// and the file.
	zenml, err := os.ReadFile(filepath.Join(zenmlPolicyDir, "policy.csv"))
	if err != nil {
		t.Fatal(err)
	}
	code, out, _ = policyCLI(t, nil, "policy", "export", "--policy-dir", zenmlPolicyDir)
	if _, body, _ := strings.Cut(out, "\n\n"); code != 0 || body != string(zenml) {
		t.Errorf("zenml export: exit %d:\n%s", code, out)
	}
	code, _, errOut = policyCLI(t, nil, "policy", "export", "--db", "sqlite:"+filepath.Join(t.TempDir(), "missing.db"))
	if code != 1 || !strings.Contains(errOut, "no such database file") {
		t.Errorf("missing store: exit %d: %s", code, errOut)
	}
	broken := policyTree(t, map[string]string{"policy.csv": "p, read\n"})
	code, _, errOut = policyCLI(t, nil, "policy", "export", "--policy-dir", broken)
	if code != 1 || !strings.Contains(errOut, broken+"/policy.csv:1: ") {
		t.Errorf("broken dir: exit %d: %s", code, errOut)
	}
}

// TestPolicyExportToFile: -o FILE replaces FILE whole, even when FILE is
// the policy.csv being exported, keeps its mode and comments, and leaves
// it as it was when the export fails; it refuses a FILE that is another
// input, a directory or an output format.
func TestPolicyExportToFile(t *testing.T) {
	const commented = "# Roles first.\n" + goodPolicy + "\n# The end.\n"
	dir := policyTree(t, map[string]string{"policy.csv": commented, "model.conf": defaultModelText(t), "tests.yaml": "users: {}\ncases:\n  - {method: GET, path: /health, allow: true}\n"})
	csv := filepath.Join(dir, "policy.csv")
	if err := os.Chmod(csv, 0o640); err != nil {
		t.Fatal(err)
	}
	dsn, _ := storeWithGrants(t, dir, [2]string{policy.UserSubject("gus"), "guest"}, [2]string{"deployer", "releaser"})

	code, out, errOut := policyCLI(t, nil, "policy", "export", "--policy-dir", dir, "--db", dsn, "-o", csv)
	if code != 0 || out != "wrote "+csv+": 10 file lines, 1 database lines (1 naming users left out)\n" {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	data, err := os.ReadFile(csv)
	if err != nil {
		t.Fatal(err)
	}
	if want := "\n\n" + commented + "\n# from database\ng, deployer, releaser\n"; !strings.HasSuffix(string(data), want) {
		t.Errorf("%s:\n%s\nwant it to end with:\n%s", csv, data, want)
	}
	if st, err := os.Stat(csv); err != nil || st.Mode().Perm() != 0o640 {
		t.Errorf("mode of %s: %v %v, want 0640", csv, st.Mode(), err)
	}
	if code, _, errOut := policyCLI(t, nil, "policy", "validate", dir); code != 0 {
		t.Errorf("the exported directory does not validate: %s", errOut)
	}
	written := string(data)

	// Exported again: the same file but for the revision in the header,
	// and nothing left behind in the directory.
	code, _, errOut = policyCLI(t, nil, "policy", "export", "--policy-dir", dir, "--db", dsn, "-o", csv)
	data, _ = os.ReadFile(csv)
	if code != 0 || strings.Count(string(data), policy.ExportTitle) != 1 || strings.Contains(string(data), "# from database") ||
		!strings.HasSuffix(string(data), "\n\n"+commented+"\ng, deployer, releaser\n") {
		t.Errorf("second export: exit %d %s\n%s", code, errOut, data)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 {
		t.Errorf("the policy directory holds %d entries, want 3: %v", len(entries), entries)
	}

	// A failed export leaves FILE as it was.
	if err := os.WriteFile(csv, []byte(written+"p, read, /x/*/y, GET\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(csv)
	code, _, errOut = policyCLI(t, nil, "policy", "export", "--policy-dir", dir, "-o", csv)
	after, _ := os.ReadFile(csv)
	if code != 1 || !strings.Contains(errOut, `invalid path pattern "/x/*/y"`) || string(after) != string(before) {
		t.Errorf("failed export: exit %d %s; file changed: %v", code, errOut, string(after) != string(before))
	}

	// A symbolic link stays a link to the file it names.
	target := filepath.Join(t.TempDir(), "real.csv")
	link := filepath.Join(t.TempDir(), "link.csv")
	if err := os.WriteFile(target, []byte("# old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = policyCLI(t, nil, "policy", "export", "-o", link)
	st, lerr := os.Lstat(link)
	data, _ = os.ReadFile(target)
	if code != 0 || lerr != nil || st.Mode()&os.ModeSymlink == 0 || !strings.Contains(string(data), "g, guest, me") {
		t.Errorf("symlink: exit %d %s; link %v %v; target:\n%s", code, errOut, st, lerr, data)
	}
	if st, err := os.Stat(target); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("mode of the link's target: %v %v, want 0600", st, err)
	}

	// GATEHOUSE_OUTPUT is not -o: the export goes to stdout.
	stray := filepath.Join(t.TempDir(), "stray.csv")
	code, out, _ = policyCLI(t, map[string]string{"GATEHOUSE_OUTPUT": stray}, "policy", "export")
	if _, err := os.Stat(stray); code != 0 || !strings.HasPrefix(out, "# "+policy.ExportTitle) || err == nil {
		t.Errorf("GATEHOUSE_OUTPUT: exit %d, stat %v:\n%s", code, err, out)
	}

	refusals := []struct {
		name string
		args []string
		want string
	}{
		{"model.conf", []string{"--policy-dir", dir, "-o", filepath.Join(dir, "model.conf")}, "that is " + filepath.Join(dir, "model.conf") + ", an input of the export"},
		{"tests.yaml", []string{"--policy-dir", dir, "-o", filepath.Join(dir, ".", "tests.yaml")}, "an input of the export"},
		{"the store", []string{"--db", dsn, "-o", strings.TrimPrefix(dsn, "sqlite:")}, "an input of the export"},
		{"a directory", []string{"-o", dir}, "-o " + dir + ": is a directory; name the file, e.g. -o " + csv},
		{"a format", []string{"-o", "json"}, `-o "json": -o names the file to write (export writes Casbin CSV only)`},
	}
	for _, r := range refusals {
		t.Run(r.name, func(t *testing.T) {
			code, out, errOut := policyCLI(t, nil, append([]string{"policy", "export"}, r.args...)...)
			if code != 2 || out != "" || !strings.Contains(errOut, r.want) {
				t.Errorf("exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
			}
		})
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "model.conf")); string(data) != defaultModelText(t) {
		t.Error("a refused export changed model.conf")
	}
}

// TestNoHelpRedirectsExportOntoItsInput: "policy export … > policy.csv"
// empties the file before export reads it; no example may show it.
func TestNoHelpRedirectsExportOntoItsInput(t *testing.T) {
	redirect := regexp.MustCompile(`policy export[^\n]*>\s*\S*policy\.csv`)
	var walk func(c *cobra.Command)
	seen := 0
	walk = func(c *cobra.Command) {
		for _, text := range []string{c.Example, c.Long} {
			if strings.Contains(text, "policy export") {
				seen++
			}
			if m := redirect.FindString(text); m != "" {
				t.Errorf("%s: %q", c.CommandPath(), m)
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	a := &app{env: func(string) string { return "" }, stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard}
	walk(a.rootCmd())
	if seen < 2 {
		t.Fatalf("found policy export in %d help texts; the walk is broken", seen)
	}
}

// checkBody is what POST /gatehouse/v1/check receives.
type checkBody struct{ User, Method, Path string }

// TestPolicyPointsAtBareUsers: Casbin's keyMatch example copied as it is
// (alice, not user:alice) would validate and deny every case; validate
// and test point at each line that names a user of tests.yaml.
func TestPolicyPointsAtBareUsers(t *testing.T) {
	example := filepath.Join("..", "..", "docs", "examples", "casbin-keymatch")
	files := map[string]string{}
	for _, name := range []string{"model.conf", "policy.csv", "tests.yaml"} {
		data, err := os.ReadFile(filepath.Join(example, name))
		if err != nil {
			t.Fatal(err)
		}
		files[name] = string(data)
	}
	files["policy.csv"] = strings.ReplaceAll(files["policy.csv"], "user:", "")
	dir := policyTree(t, files)
	for _, verb := range []string{"validate", "test"} {
		code, _, errOut := policyCLI(t, nil, "policy", verb, dir)
		if code != 1 {
			t.Errorf("policy %s: exit %d, want 1", verb, code)
		}
		for _, want := range []string{
			filepath.Join(dir, "policy.csv") + `:3: subject "alice" is a user in ` + filepath.Join(dir, "tests.yaml") + ": users are user:alice in policy lines",
			`:6: subject "bob"`, `:9: subject "cathy"`, "5 problems",
		} {
			if !strings.Contains(errOut, want) {
				t.Errorf("policy %s: stderr lacks %q:\n%s", verb, want, errOut)
			}
		}
	}
}
