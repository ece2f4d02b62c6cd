package policy

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
)

// Suite is a policy directory's tests.yaml: role fixtures for teams and
// users, and the decisions the policy must make.
//
//	teams:            # team fixtures: the roles a team holds
//	  ml: [editor]
//	users:            # role fixtures for the cases
//	  rita: [releaser]
//	  tom: [team:ml]  # a member of the team ml
//	  wes: [editor@ws-a]  # editor in workspace ws-a only
//	cases:
//	  - {user: rita, method: POST, path: /api/v1/deployments/d1, allow: true}
//	  - {user: tom, method: POST, path: /api/v1/pipelines, allow: true}
//	  - {method: GET, path: /health, allow: true}   # no user: anonymous
//
// In a test a user's id is its name, so {self} matches it. Every user a
// case names must be listed under users (with [] for no roles), and every
// team a user's list names under teams, so that a misspelt name cannot make
// a deny case pass. Teams hold roles only, never other teams. An entry
// ROLE@WORKSPACE (split at its last @) gives the role in that workspace
// only: a line "g2, user:NAME, ROLE, WORKSPACE" (for a team, team:NAME);
// so a role whose name has an @ cannot be a fixture's global role.
type Suite struct {
	File  string // the file's name, for messages
	Teams []TeamFixture
	Users []UserFixture
	Cases []Case
}

// TeamFixture gives a test team roles: each becomes a line
// "g, team:NAME, ROLE".
type TeamFixture struct {
	Name   string
	Roles  []string
	Scoped [][2]string // (role, workspace): a line "g2, team:NAME, ROLE, WORKSPACE"
	Line   int
}

// UserFixture gives a test user roles and teams: each role becomes a line
// "g, user:NAME, ROLE", each team (written team:TEAM in the file, held
// here without the prefix) a line "g, user:NAME, team:TEAM".
type UserFixture struct {
	Name   string
	Roles  []string
	Scoped [][2]string // (role, workspace): a line "g2, user:NAME, ROLE, WORKSPACE"
	Teams  []string
	Line   int
}

// Case is one expected decision.
type Case struct {
	User   string // "" for an anonymous request
	Method string
	Path   string
	Allow  bool
	File   string // the tests file, for messages
	Line   int
}

// CaseResult is the outcome of one case.
type CaseResult struct {
	Case
	Decision Decision
	// Refused says why the path was refused before any decision (the
	// data plane answers 400); such a request is not allowed.
	Refused string
}

// Passed reports whether the decision is the expected one.
func (r CaseResult) Passed() bool { return r.Decision.Allowed == r.Allow }

// String describes the case and its outcome, with the deciding rule.
func (r CaseResult) String() string {
	who := "anonymous"
	if r.User != "" {
		who = r.User
	}
	want, got := verdict(r.Allow), verdict(r.Decision.Allowed)
	why := "no rule allows it"
	switch {
	case r.Refused != "":
		why = "the path is refused before the policy: " + r.Refused
	case r.Decision.Allowed:
		why = "allowed by " + r.Decision.Rule
	}
	return fmt.Sprintf("%s:%d: %s %s %s: want %s, got %s (%s)", r.File, r.Line, who, r.Method, r.Path, want, got, why)
}

func verdict(allowed bool) string {
	if allowed {
		return "allow"
	}
	return "deny"
}

// LoadSuite reads and parses DIR/tests.yaml. dir is the name used in
// messages. Every problem is reported, each as FILE:LINE: message.
func LoadSuite(fsys fs.FS, dir string) (*Suite, error) {
	name := path.Join(dir, TestsFile)
	data, err := fs.ReadFile(fsys, TestsFile)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	s, errs := ParseSuite(name, data)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return s, nil
}

// Run decides every case with the policy of files plus the suite's team
// and user fixtures. canonical, when not nil, canonicalizes each path as the data
// plane does; a path it refuses is a request that is not allowed. The
// error reports a policy that cannot be loaded with the fixtures.
func (s *Suite) Run(files *Files, canonical func(string) (string, error)) ([]CaseResult, error) {
	f := *files
	f.Lines = append(slices.Clone(files.Lines), s.FixtureLines()...)
	e, err := New(context.Background(), nil, &f, nil)
	if err != nil {
		return nil, err
	}
	out := make([]CaseResult, 0, len(s.Cases))
	for _, c := range s.Cases {
		r := CaseResult{Case: c}
		p := c.Path
		if canonical != nil {
			if p, err = canonical(c.Path); err != nil {
				r.Refused = err.Error()
				out = append(out, r)
				continue
			}
		}
		sub := ""
		if c.User != "" {
			sub = UserSubject(c.User)
		}
		if r.Decision, err = e.Explain(sub, c.User, c.User, c.Method, p); err != nil {
			return nil, fmt.Errorf("%s:%d: deciding %s %s: %w", s.File, c.Line, c.Method, c.Path, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// FixtureLines returns the lines the suite's team and user fixtures stand
// for, each with the tests file and the fixture's line as its origin:
// "g, team:NAME, ROLE" and "g2, team:NAME, ROLE, WORKSPACE" per team,
// "g, user:NAME, ROLE", "g2, user:NAME, ROLE, WORKSPACE" and
// "g, user:NAME, team:TEAM" per user.
func (s *Suite) FixtureLines() []Line {
	var out []Line
	for _, t := range s.Teams {
		out = append(out, t.lines(s.File)...)
	}
	for _, u := range s.Users {
		out = append(out, u.lines(s.File)...)
	}
	return out
}

// lines returns the lines the team fixture stands for.
func (t TeamFixture) lines(file string) []Line {
	return fixtureLines(TeamSubject(t.Name), t.Roles, t.Scoped, file, t.Line)
}

// lines returns the lines the user fixture stands for.
func (u UserFixture) lines(file string) []Line {
	sub := UserSubject(u.Name)
	out := fixtureLines(sub, u.Roles, u.Scoped, file, u.Line)
	for _, t := range u.Teams {
		out = append(out, Line{Ptype: "g", Fields: []string{sub, TeamSubject(t)}, File: file, Num: u.Line})
	}
	return out
}

// fixtureLines returns the g lines that give sub roles and the g2 lines
// that give it scoped roles (role, workspace), from line num of file.
func fixtureLines(sub string, roles []string, scoped [][2]string, file string, num int) []Line {
	var out []Line
	for _, r := range roles {
		out = append(out, Line{Ptype: "g", Fields: []string{sub, r}, File: file, Num: num})
	}
	for _, sc := range scoped {
		out = append(out, Line{Ptype: "g2", Fields: []string{sub, sc[0], sc[1]}, File: file, Num: num})
	}
	return out
}

// BareUsers reports the policy lines whose subject is a name the suite
// lists as a user while no line makes it a role. In policy lines a user
// is user:NAME, so a line naming a bare "alice" never applies to the user
// alice: a stock Casbin policy copied as it is passes validation and
// denies every case. (A user named like a role, such as admin, is fine.)
func (s *Suite) BareUsers(f *Files) []error {
	users := map[string]bool{}
	roles := map[string]bool{Public: true, RoleAdmin: true}
	for _, t := range s.Teams {
		for _, r := range t.Roles {
			roles[r] = true
		}
		for _, sc := range t.Scoped {
			roles[sc[0]] = true
		}
	}
	for _, u := range s.Users {
		users[u.Name] = true
		for _, r := range u.Roles {
			roles[r] = true
		}
		for _, sc := range u.Scoped {
			roles[sc[0]] = true
		}
	}
	for _, c := range s.Cases {
		if c.User != "" {
			users[c.User] = true
		}
	}
	for _, l := range f.Lines {
		if l.Ptype[0] == 'g' {
			for _, parent := range l.Fields[1:] {
				roles[parent] = true
			}
		}
	}
	var errs []error
	for _, l := range f.Lines {
		if len(l.Fields) == 0 {
			continue
		}
		if sub := l.Fields[0]; users[sub] && !roles[sub] {
			errs = append(errs, l.errorf("subject %q is a user in %s: users are %s in policy lines", sub, s.File, UserSubject(sub)))
		}
	}
	return errs
}
