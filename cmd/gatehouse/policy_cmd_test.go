package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/admin/store"
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
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
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
			typos + `/policy.csv:11: invalid method "FETCH" in "FETCH": want GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, TRACE or CONNECT, or * (GET, POST, PUT, PATCH, DELETE), several separated by |`,
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
		{"misspelt method", typoMethod, 1, nil, []string{typoMethod + `/tests.yaml:8: invalid method "FETCH": want GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, TRACE or CONNECT`}},
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
		{"unknown method", []string{"--method", "FETCH", "--path", "/"}, 2, false, "", `--method: invalid method "FETCH": want GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, TRACE or CONNECT`},
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

func TestPolicyExport(t *testing.T) {
	dir := policyTree(t, map[string]string{"policy.csv": goodPolicy})
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
		c.Add("g", policy.UserSubject("gus"), "guest")
		c.Add("g", "deployer", "releaser")
		c.Add("g", "guest", "read") // also in the file
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if sqlDB, err := db.DB(); err == nil {
		sqlDB.Close()
	}

	code, out, errOut := policyCLI(t, map[string]string{"GATEHOUSE_DB": dsn}, "policy", "export", "--policy-dir", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"# Gatehouse policy export",
		"# model: model.conf (embedded default)\n",
		"# file lines: " + dir + "/policy.csv (revision " + files.Revision + ")\n",
		"# database lines: " + dsn + "\n",
		"\n\n" + goodPolicy + "\n# from database\n",
		"\n# from database\ng, deployer, releaser\ng, user:gus, guest\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("export lacks %q:\n%s", want, out)
		}
	}
	if strings.Count(out, "g, guest, read\n") != 1 {
		t.Errorf("a line in both layers is exported twice:\n%s", out)
	}

	// The export is a valid policy directory of its own.
	back := policyTree(t, map[string]string{"policy.csv": out})
	if code, _, errOut := policyCLI(t, nil, "policy", "validate", back); code != 0 {
		t.Errorf("exported policy does not validate: %s", errOut)
	}

	// Without --db, the files alone; without --policy-dir, the defaults.
	code, out, _ = policyCLI(t, nil, "policy", "export")
	if code != 0 || !strings.Contains(out, "# database lines: none") || !strings.Contains(out, "\n# Gatehouse default policy. Replaced by --policy-dir when one is given.\n") {
		t.Errorf("defaults export: exit %d:\n%s", code, out)
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
