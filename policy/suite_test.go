package policy

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseSuiteReportsProblemsWithLines(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"unclosed flow sequence", "users:\n  rita: [releaser\ncases: []\n", []string{"tests.yaml:2: did not find expected ',' or ']'"}},
		{"unclosed flow mapping", "cases:\n  - {method: GET\n  - x\n", []string{"tests.yaml:2: did not find expected ',' or '}'"}},
		{"first line", "[a\nb: 1\n", []string{"tests.yaml:2: did not find expected ',' or ']'"}},
		{"bad indentation", "a: 1\n\nb: 2\n c: 3\n", []string{"tests.yaml:4: mapping values are not allowed in this context"}},
		{"block mapping", "users:\n  rita: []\n - x\n", []string{"tests.yaml:3: did not find expected key"}},
		{"control character", "users:\n  rita: []\n\x01\n", []string{"tests.yaml:3: control characters are not allowed"}},
		{"bad utf-8", "users:\n  rita: [\xff]\n", []string{"tests.yaml:2: invalid"}},
		{"tab indentation", "users:\n\trita: []\n", []string{"tests.yaml:2: found character that cannot start any token"}},
		{"empty", "", []string{"tests.yaml:1: no cases"}},
		{"not a mapping", "- a\n- b\n", []string{"tests.yaml:1: want a mapping with users: and cases:"}},
		{"no cases", "users:\n  rita: []\n", []string{"tests.yaml:1: no cases"}},
		{
			"unknown keys",
			"users: {rita: []}\nextra: 1\ncases:\n  - {user: rita, method: GET, path: /, allow: true, note: x}\n",
			[]string{`tests.yaml:2: unknown key "extra"`, `tests.yaml:4: unknown key "note"`},
		},
		{
			"duplicate keys",
			"users: {rita: []}\ncases:\n  - {method: GET, path: /, allow: true, allow: false}\nusers: {}\n",
			[]string{`tests.yaml:3: "allow" is given twice (first on line 3)`, `tests.yaml:4: "users" is given twice (first on line 1)`},
		},
		{
			"bad values",
			"users:\n  rita: releaser\n  bad name: []\n  sam: [ok, 'no good']\ncases:\n" +
				"  - {method: get, path: /, allow: true}\n" +
				"  - {method: GET, path: api, allow: yes}\n" +
				"  - {method: GET, allow: true}\n" +
				"  - {user: [a], method: GET, path: /, allow: true}\n" +
				"  - just a string\n",
			[]string{
				"tests.yaml:2: user rita: want a list of roles",
				`tests.yaml:3: invalid user name "bad name"`,
				`tests.yaml:4: user sam: invalid role "no good"`,
				`tests.yaml:6: invalid method "get"`,
				`tests.yaml:7: invalid path "api"`,
				`tests.yaml:7: allow: want true or false, got "yes"`,
				"tests.yaml:8: the case has no path",
				"tests.yaml:9: user: want a single value",
				"tests.yaml:10: a case must be a mapping",
			},
		},
		{
			"undeclared user",
			"users: {rita: []}\ncases:\n  - {user: rtia, method: GET, path: /, allow: false}\n",
			[]string{`tests.yaml:3: user "rtia" is not listed under users:`},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, errs := ParseSuite("tests.yaml", []byte(c.yaml))
			if s != nil {
				t.Errorf("a suite with problems was returned")
			}
			SortProblems(errs)
			if len(errs) != len(c.want) {
				t.Fatalf("got %d problems, want %d:\n%v", len(errs), len(c.want), errors.Join(errs...))
			}
			for i, w := range c.want {
				if !strings.HasPrefix(errs[i].Error(), w) {
					t.Errorf("problem %d = %q, want prefix %q", i, errs[i], w)
				}
			}
		})
	}
}

func TestSuiteRun(t *testing.T) {
	const doc = `# a comment
users:
  rita: [releaser]
  gus: [guest]
  nob: []
base: &case {method: GET, path: /api/v1/users/gus, allow: true}
cases:
  - {user: rita, method: POST, path: /api/v1/deployments/d1, allow: true}
  - {user: gus, method: POST, path: /api/v1/deployments/d1, allow: true}
  - {user: gus, method: PUT, path: /api/v1/users/gus, allow: true}
  - {user: gus, method: PUT, path: /api/v1/users/rita, allow: true}
  - {method: GET, path: /health, allow: false}
  - {method: GET, path: /a/../health, allow: true}
  - {method: GET, path: /a/%2F/b, allow: true}
  - {user: nob, method: GET, path: /x, allow: false}
`
	// The alias line is an unknown key: check that first.
	if _, errs := ParseSuite("tests.yaml", []byte(doc)); len(errs) != 1 || !strings.Contains(errs[0].Error(), `tests.yaml:6: unknown key "base"`) {
		t.Fatalf("errs = %v", errs)
	}
	s, errs := ParseSuite("tests.yaml", []byte(strings.Replace(doc, "base: &case {method: GET, path: /api/v1/users/gus, allow: true}\n", "", 1)))
	if len(errs) > 0 {
		t.Fatal(errors.Join(errs...))
	}
	files := testFiles(t, "", string(defaultPolicy)+"p, releaser, /api/v1/deployments/{id}, POST\np, public, /health, GET\n")
	canon := func(p string) (string, error) {
		if strings.Contains(p, "%2F") {
			return "", errors.New("encoded slash")
		}
		return strings.Replace(p, "/a/../", "/", 1), nil
	}
	results, err := s.Run(files, canon)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		passed bool
		text   string
	}{
		{true, "tests.yaml:7: rita POST /api/v1/deployments/d1: want allow, got allow (allowed by p, releaser, /api/v1/deployments/{id}, POST (policy.csv:11))"},
		{false, "tests.yaml:8: gus POST /api/v1/deployments/d1: want allow, got deny (no rule allows it)"},
		{true, "tests.yaml:9: gus PUT /api/v1/users/gus: want allow, got allow (allowed by p, me, /api/v1/users/{self}, GET|PUT|PATCH (policy.csv:5))"},
		{false, "tests.yaml:10: gus PUT /api/v1/users/rita: want allow, got deny (no rule allows it)"},
		{false, "tests.yaml:11: anonymous GET /health: want deny, got allow (allowed by p, public, /health, GET (policy.csv:12))"},
		{true, "tests.yaml:12: anonymous GET /a/../health: want allow, got allow"},
		{false, "tests.yaml:13: anonymous GET /a/%2F/b: want allow, got deny (the path is refused before the policy: encoded slash)"},
		{true, "tests.yaml:14: nob GET /x: want deny, got deny (no rule allows it)"},
	}
	if len(results) != len(want) {
		t.Fatalf("%d results, want %d", len(results), len(want))
	}
	for i, w := range want {
		if results[i].Passed() != w.passed || !strings.HasPrefix(results[i].String(), w.text) {
			t.Errorf("case %d: passed=%v %q\nwant passed=%v %q", i, results[i].Passed(), results[i].String(), w.passed, w.text)
		}
	}
}

func TestSuiteRunReportsBadFixtures(t *testing.T) {
	// Role fixtures are g lines; a model without roles cannot take them.
	noRoles := strings.Replace(strings.Replace(customModel, "[role_definition]\ng = _, _\n", "", 1), "g(r.sub, p.sub)", "r.sub == p.sub", 1)
	s, errs := ParseSuite("tests.yaml", []byte("users:\n  rita: [admin]\ncases:\n  - {user: rita, method: GET, path: /, allow: true}\n"))
	if len(errs) > 0 {
		t.Fatal(errors.Join(errs...))
	}
	_, err := s.Run(testFiles(t, noRoles, "p, user:rita, /*, GET\n"), nil)
	if err == nil || !strings.Contains(err.Error(), `tests.yaml:2: line type "g" is not defined by the model`) {
		t.Fatalf("err = %v", err)
	}
}

// TestBareUsers: a line whose subject is a user of tests.yaml, and no role,
// is pointed at; a user named like a role (admin) or like a role some line
// grants is not.
func TestBareUsers(t *testing.T) {
	s, errs := ParseSuite("tests.yaml", []byte(`users:
  alice: []
  admin: [admin]
  editor: [editor]
  bob: []
  carol: []
  rita: []
cases:
  - {user: bob, method: GET, path: /x, allow: false}
`))
	if len(errs) > 0 {
		t.Fatal(errors.Join(errs...))
	}
	files := testFiles(t, "", string(defaultPolicy)+`p, alice, /alice/*, GET
p, editor, /docs/*, POST
g, bob, read
g, user:rita, bob
p, user:alice, /mine, GET
g, carol, read
`)
	var got []string
	for _, err := range s.BareUsers(files) {
		got = append(got, err.Error())
	}
	// bob is a user of the suite, but g, user:rita, bob makes bob a role.
	want := []string{
		`policy.csv:11: subject "alice" is a user in tests.yaml: users are user:alice in policy lines`,
		`policy.csv:16: subject "carol" is a user in tests.yaml: users are user:carol in policy lines`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("BareUsers:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestSuiteTeams: a team's roles reach its members through the two g
// lines the admin API writes, g, user:U, team:T and g, team:T, ROLE; a
// user outside the team is denied.
func TestSuiteTeams(t *testing.T) {
	s, errs := ParseSuite("tests.yaml", []byte(`teams:
  ml: [releaser]
  empty: []
users:
  tom: [team:ml]
  gus: [guest, team:empty]
cases:
  - {user: tom, method: POST, path: /api/v1/deployments/d1, allow: true}
  - {user: gus, method: POST, path: /api/v1/deployments/d1, allow: false}
`))
	if len(errs) > 0 {
		t.Fatal(errors.Join(errs...))
	}
	wantTeams := []TeamFixture{{Name: "ml", Roles: []string{"releaser"}, Line: 2}, {Name: "empty", Line: 3}}
	if !slices.EqualFunc(s.Teams, wantTeams, func(a, b TeamFixture) bool {
		return a.Name == b.Name && slices.Equal(a.Roles, b.Roles) && a.Line == b.Line
	}) {
		t.Errorf("Teams = %+v, want %+v", s.Teams, wantTeams)
	}
	if u := s.Users[1]; !slices.Equal(u.Roles, []string{"guest"}) || !slices.Equal(u.Teams, []string{"empty"}) {
		t.Errorf("gus = %+v: want roles [guest], teams [empty]", u)
	}
	files := testFiles(t, "", string(defaultPolicy)+"p, releaser, /api/v1/deployments/{id}, POST\n")
	if errs := s.UnknownRoles(files); len(errs) > 0 {
		t.Fatal(errors.Join(errs...))
	}
	results, err := s.Run(files, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"tests.yaml:8: tom POST /api/v1/deployments/d1: want allow, got allow (allowed by p, releaser, /api/v1/deployments/{id}, POST (policy.csv:11))",
		"tests.yaml:9: gus POST /api/v1/deployments/d1: want deny, got deny (no rule allows it)",
	}
	if len(results) != len(want) {
		t.Fatalf("%d results, want %d", len(results), len(want))
	}
	for i, w := range want {
		if !results[i].Passed() || results[i].String() != w {
			t.Errorf("case %d: passed=%v %q\nwant %q", i, results[i].Passed(), results[i].String(), w)
		}
	}
}

func TestParseSuiteTeamProblems(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{
			"undeclared team",
			"teams:\n  ml: []\nusers:\n  rita: []\n  tom:\n    - guest\n    - team:lm\ncases:\n  - {user: tom, method: GET, path: /, allow: false}\n",
			[]string{`tests.yaml:7: team "lm" is not listed under teams:`},
		},
		{
			"no teams section",
			"users:\n  tom: [team:ml]\ncases:\n  - {user: tom, method: GET, path: /, allow: false}\n",
			[]string{`tests.yaml:2: team "ml" is not listed under teams:`},
		},
		{
			"team in a team",
			"teams:\n  ml: [editor, team:data]\n  data: []\nusers: {}\ncases:\n  - {method: GET, path: /, allow: false}\n",
			[]string{`tests.yaml:2: team ml: "team:data": teams may not contain teams (a team holds roles; list its members under users:)`},
		},
		{
			"bad values",
			"teams:\n  team:ml: []\n  bad name: []\n  ops: editor\n  qa: [ok, 'no good', user:rita]\nusers:\n  tom: ['team:no good']\ncases:\n  - {method: GET, path: /, allow: false}\n",
			[]string{
				`tests.yaml:2: invalid team name "team:ml": names use [A-Za-z0-9._@-]; under teams: write the name alone, ml`,
				`tests.yaml:3: invalid team name "bad name"`,
				"tests.yaml:4: team ops: want a list of roles, [] for none",
				`tests.yaml:5: team qa: invalid role "no good"`,
				`tests.yaml:5: team qa: invalid role "user:rita"`,
				`tests.yaml:7: user tom: invalid team "team:no good"`,
			},
		},
		{
			"not a mapping",
			"teams: [ml]\ncases:\n  - {method: GET, path: /, allow: false}\n",
			[]string{"tests.yaml:1: teams: want a mapping of team names to role lists"},
		},
		{
			"duplicate team",
			"teams:\n  ml: []\n  ml: [editor]\ncases:\n  - {method: GET, path: /, allow: false}\n",
			[]string{`tests.yaml:3: "ml" is given twice (first on line 2)`},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, errs := ParseSuite("tests.yaml", []byte(c.yaml))
			if s != nil {
				t.Errorf("a suite with problems was returned")
			}
			SortProblems(errs)
			if len(errs) != len(c.want) {
				t.Fatalf("got %d problems, want %d:\n%v", len(errs), len(c.want), errors.Join(errs...))
			}
			for i, w := range c.want {
				if !strings.HasPrefix(errs[i].Error(), w) {
					t.Errorf("problem %d = %q, want prefix %q", i, errs[i], w)
				}
			}
		})
	}
}

// TestUnknownTeamFixtureRoles: a role of a team fixture that the policy
// files do not define is reported as one of a user fixture is, on the
// team's line.
func TestUnknownTeamFixtureRoles(t *testing.T) {
	f := testFiles(t, "", string(defaultPolicy)+"p, releaser, /d, POST\n")
	s, errs := ParseSuite("tests.yaml", []byte("teams:\n  ml: [releaser, gueest]\nusers:\n  rita: [auditor, team:ml]\ncases:\n  - {user: rita, method: GET, path: /, allow: true}\n"))
	if len(errs) > 0 {
		t.Fatal(errors.Join(errs...))
	}
	got := s.UnknownRoles(f)
	want := []string{
		`tests.yaml:2: team ml: unknown role or permission "gueest": the policy files do not define it; did you mean "guest"?`,
		`tests.yaml:4: user rita: unknown role or permission "auditor": the policy files do not define it`,
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

// TestSuiteWithoutTeamsIsUnchanged: a suite without teams: parses as it
// did before teams, with no team fixtures and no team lines in Run.
func TestSuiteWithoutTeamsIsUnchanged(t *testing.T) {
	s, errs := ParseSuite("tests.yaml", []byte("users:\n  rita: [releaser]\n  nob: []\ncases:\n  - {user: rita, method: POST, path: /d, allow: true}\n  - {method: GET, path: /, allow: false}\n"))
	if len(errs) > 0 {
		t.Fatal(errors.Join(errs...))
	}
	if s.Teams != nil {
		t.Errorf("Teams = %+v, want none", s.Teams)
	}
	wantUsers := []UserFixture{{Name: "rita", Roles: []string{"releaser"}, Line: 2}, {Name: "nob", Line: 3}}
	if !slices.EqualFunc(s.Users, wantUsers, func(a, b UserFixture) bool {
		return a.Name == b.Name && slices.Equal(a.Roles, b.Roles) && a.Teams == nil && a.Line == b.Line
	}) {
		t.Errorf("Users = %+v, want %+v", s.Users, wantUsers)
	}
	wantCases := []Case{
		{User: "rita", Method: "POST", Path: "/d", Allow: true, File: "tests.yaml", Line: 5},
		{Method: "GET", Path: "/", File: "tests.yaml", Line: 6},
	}
	if !slices.Equal(s.Cases, wantCases) {
		t.Errorf("Cases = %+v, want %+v", s.Cases, wantCases)
	}
}

// TestSuiteWorkspaceRoles: ROLE@WORKSPACE in a user's or a team's list is
// the role in that workspace only (a g2 line), decided as such; an entry
// with an empty side is refused with its line, and an unknown scoped role
// is reported as an unknown global one is.
func TestSuiteWorkspaceRoles(t *testing.T) {
	s, errs := ParseSuite("tests.yaml", []byte(`teams:
  ml: [editor@ws-b]
users:
  wes: [editor@ws-a]
  tom: [team:ml]
cases:
  - {user: wes, method: POST, path: /api/v1/workspaces/ws-a/stacks, allow: true}
  - {user: wes, method: POST, path: /api/v1/workspaces/ws-b/stacks, allow: false}
  - {user: wes, method: GET, path: /api/v1/pipelines, allow: false}
  - {user: tom, method: POST, path: /api/v1/workspaces/ws-b/stacks, allow: true}
  - {user: tom, method: POST, path: /api/v1/workspaces/ws-a/stacks, allow: false}
`))
	if len(errs) > 0 {
		t.Fatal(errors.Join(errs...))
	}
	if u := s.Users[0]; len(u.Roles) != 0 || !slices.Equal(u.Scoped, [][2]string{{"editor", "ws-a"}}) {
		t.Errorf("wes = %+v", u)
	}
	files := testFiles(t, "", string(defaultPolicy)+"p, write, /api/v1/workspaces/{workspace}/*, POST\ng, editor, write\n")
	if errs := s.UnknownRoles(files); len(errs) > 0 {
		t.Fatal(errors.Join(errs...))
	}
	results, err := s.Run(files, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if !r.Passed() {
			t.Errorf("%s", r)
		}
	}
	if got := results[0].Decision.Rule; !strings.Contains(got, "via g2, user:wes, editor, ws-a (tests.yaml:4)") {
		t.Errorf("rule %q does not name the fixture's g2 line", got)
	}

	_, errs = ParseSuite("tests.yaml", []byte("users:\n  wes: [editor@]\ncases:\n  - {user: wes, method: GET, path: /, allow: false}\n"))
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), `tests.yaml:2: user wes: "editor@": a role held in one workspace is written ROLE@WORKSPACE`) {
		t.Errorf("errs = %v", errs)
	}
	s, _ = ParseSuite("tests.yaml", []byte("users:\n  wes: [nope@ws-a]\ncases:\n  - {user: wes, method: GET, path: /, allow: false}\n"))
	if errs := s.UnknownRoles(files); len(errs) != 1 || !strings.Contains(errs[0].Error(), `"nope"`) {
		t.Errorf("unknown scoped role: %v", errs)
	}
}
