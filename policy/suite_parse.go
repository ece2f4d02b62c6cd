package policy

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// ParseSuite parses a tests.yaml strictly: unknown keys, duplicate keys,
// values of the wrong type, undeclared users and teams, a team inside a
// team and a file without cases are errors. It returns every problem, each
// a *LineError.
func ParseSuite(file string, data []byte) (*Suite, []error) {
	p := &suiteParser{s: &Suite{File: file}}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, []error{yamlError(file, data, err)}
	}
	if len(doc.Content) == 0 {
		return nil, []error{&LineError{File: file, Num: 1, Msg: "no cases: want a mapping with users: and cases:"}}
	}
	root := resolve(doc.Content[0])
	if root.Kind != yaml.MappingNode {
		return nil, []error{p.errorf(root, "want a mapping with users: and cases:")}
	}
	p.mapping(root, func(k, v *yaml.Node) {
		switch k.Value {
		case "teams":
			p.teams(v)
		case "users":
			p.users(v)
		case "cases":
			p.cases(v)
		default:
			p.errs = append(p.errs, p.errorf(k, "unknown key %q: want teams, users or cases", k.Value))
		}
	})
	if len(p.s.Cases) == 0 && len(p.errs) == 0 {
		p.errs = append(p.errs, p.errorf(root, "no cases: a test file needs at least one case under cases:"))
	}
	declared := map[string]bool{}
	for _, u := range p.s.Users {
		declared[u.Name] = true
	}
	for _, c := range p.s.Cases {
		if c.User != "" && !declared[c.User] {
			p.errs = append(p.errs, &LineError{File: file, Num: c.Line, Msg: fmt.Sprintf("user %q is not listed under users: (list it, with [] for no roles)", c.User)})
		}
	}
	p.undeclaredTeams()
	if len(p.errs) > 0 {
		return nil, p.errs
	}
	return p.s, nil
}

// suiteParser walks a tests.yaml document and collects its problems.
type suiteParser struct {
	s    *Suite
	errs []error
	// memberships are the team:NAME entries of users' lists, checked
	// against teams: once the whole file is read (teams: may come last).
	memberships []*yaml.Node
}

func (p *suiteParser) errorf(n *yaml.Node, format string, args ...any) error {
	return &LineError{File: p.s.File, Num: n.Line, Msg: fmt.Sprintf(format, args...)}
}

// mapping calls fn for each key and value of n, reporting duplicate and
// non-scalar keys.
func (p *suiteParser) mapping(n *yaml.Node, fn func(k, v *yaml.Node)) {
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			p.errs = append(p.errs, p.errorf(k, "a key must be a plain name"))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			p.errs = append(p.errs, p.errorf(k, "%q is given twice (first on line %d)", k.Value, first))
			continue
		}
		seen[k.Value] = k.Line
		fn(k, v)
	}
}

func (p *suiteParser) users(n *yaml.Node) {
	if n.Kind != yaml.MappingNode {
		p.errs = append(p.errs, p.errorf(n, "users: want a mapping of user names to role lists, e.g. rita: [releaser]"))
		return
	}
	p.mapping(n, func(k, v *yaml.Node) {
		if !ValidName(k.Value) {
			p.errs = append(p.errs, p.errorf(k, "invalid user name %q: names use [A-Za-z0-9._@-]", k.Value))
			return
		}
		if v.Kind != yaml.SequenceNode {
			p.errs = append(p.errs, p.errorf(v, "user %s: want a list of roles, [] for none", k.Value))
			return
		}
		u := UserFixture{Name: k.Value, Line: k.Line}
		for _, r := range v.Content {
			r = resolve(r)
			if team, ok := strings.CutPrefix(r.Value, TeamPrefix); ok && r.Kind == yaml.ScalarNode {
				if !ValidName(team) {
					p.errs = append(p.errs, p.errorf(r, "user %s: invalid team %q: names use [A-Za-z0-9._@-]", k.Value, r.Value))
					continue
				}
				u.Teams = append(u.Teams, team)
				p.memberships = append(p.memberships, r)
				continue
			}
			if r.Kind != yaml.ScalarNode || !ValidName(r.Value) {
				p.errs = append(p.errs, p.errorf(r, "user %s: invalid role %q: names use [A-Za-z0-9._@-]", k.Value, r.Value))
				continue
			}
			if sc, ok, err := scopedFixture(r.Value); err != "" {
				p.errs = append(p.errs, p.errorf(r, "user %s: %s", k.Value, err))
				continue
			} else if ok {
				u.Scoped = append(u.Scoped, sc)
				continue
			}
			u.Roles = append(u.Roles, r.Value)
		}
		p.s.Users = append(p.s.Users, u)
	})
}

// scopedFixture reads an entry ROLE@WORKSPACE of a fixture's list, split
// at its last @, as a role held in one workspace; an entry without @ is a
// global role (ok false). err says what is wrong with an entry that has
// an @ but no role or no workspace.
func scopedFixture(v string) (sc [2]string, ok bool, err string) {
	i := strings.LastIndexByte(v, '@')
	if i < 0 {
		return sc, false, ""
	}
	role, ws := v[:i], v[i+1:]
	if !ValidName(role) || !ValidName(ws) {
		return sc, false, fmt.Sprintf("%q: a role held in one workspace is written ROLE@WORKSPACE, both non-empty", v)
	}
	return [2]string{role, ws}, true, ""
}

// teams reads the team fixtures: each team's name and the roles it holds.
// A team holds roles only (see edgeProblem): a team:NAME in its list is
// refused here rather than when the policy loads, so that the message
// names the tests file.
func (p *suiteParser) teams(n *yaml.Node) {
	if n.Kind != yaml.MappingNode {
		p.errs = append(p.errs, p.errorf(n, "teams: want a mapping of team names to role lists, e.g. ml: [editor]"))
		return
	}
	p.mapping(n, func(k, v *yaml.Node) {
		if !ValidName(k.Value) {
			hint := ""
			if name, ok := strings.CutPrefix(k.Value, TeamPrefix); ok && ValidName(name) {
				hint = fmt.Sprintf("; under teams: write the name alone, %s", name)
			}
			p.errs = append(p.errs, p.errorf(k, "invalid team name %q: names use [A-Za-z0-9._@-]%s", k.Value, hint))
			return
		}
		if v.Kind != yaml.SequenceNode {
			p.errs = append(p.errs, p.errorf(v, "team %s: want a list of roles, [] for none", k.Value))
			return
		}
		t := TeamFixture{Name: k.Value, Line: k.Line}
		for _, r := range v.Content {
			r = resolve(r)
			switch {
			case r.Kind == yaml.ScalarNode && strings.HasPrefix(r.Value, TeamPrefix):
				p.errs = append(p.errs, p.errorf(r, "team %s: %q: teams may not contain teams (a team holds roles; list its members under users:)", k.Value, r.Value))
			case r.Kind != yaml.ScalarNode || !ValidName(r.Value):
				p.errs = append(p.errs, p.errorf(r, "team %s: invalid role %q: names use [A-Za-z0-9._@-]", k.Value, r.Value))
			default:
				if sc, ok, err := scopedFixture(r.Value); err != "" {
					p.errs = append(p.errs, p.errorf(r, "team %s: %s", k.Value, err))
				} else if ok {
					t.Scoped = append(t.Scoped, sc)
				} else {
					t.Roles = append(t.Roles, r.Value)
				}
			}
		}
		p.s.Teams = append(p.s.Teams, t)
	})
}

// undeclaredTeams reports each team:NAME of a user's list that teams:
// does not list, as an undeclared user of a case is: a misspelt team
// would hold nothing, and a deny case of its member would pass.
func (p *suiteParser) undeclaredTeams() {
	declared := map[string]bool{}
	for _, t := range p.s.Teams {
		declared[t.Name] = true
	}
	for _, r := range p.memberships {
		if team := strings.TrimPrefix(r.Value, TeamPrefix); !declared[team] {
			p.errs = append(p.errs, p.errorf(r, "team %q is not listed under teams: (list it, with [] for no roles)", team))
		}
	}
}

func (p *suiteParser) cases(n *yaml.Node) {
	if n.Kind != yaml.SequenceNode {
		p.errs = append(p.errs, p.errorf(n, "cases: want a list of {user, method, path, allow}"))
		return
	}
	for _, cn := range n.Content {
		cn = resolve(cn)
		if cn.Kind != yaml.MappingNode {
			p.errs = append(p.errs, p.errorf(cn, "a case must be a mapping {user, method, path, allow}"))
			continue
		}
		p.oneCase(cn)
	}
}

func (p *suiteParser) oneCase(n *yaml.Node) {
	c := Case{File: p.s.File, Line: n.Line}
	var hasMethod, hasPath, hasAllow bool
	before := len(p.errs)
	p.mapping(n, func(k, v *yaml.Node) {
		if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
			p.errs = append(p.errs, p.errorf(v, "%s: want a single value", k.Value))
			return
		}
		switch k.Value {
		case "user":
			c.User = v.Value
			if !ValidName(c.User) {
				p.errs = append(p.errs, p.errorf(v, "invalid user name %q: names use [A-Za-z0-9._@-]; leave user out for an anonymous request", c.User))
			}
		case "method":
			c.Method, hasMethod = v.Value, true
			if !ValidMethod(c.Method) {
				p.errs = append(p.errs, p.errorf(v, "%s", MethodError(c.Method)))
			}
		case "path":
			c.Path, hasPath = v.Value, true
			if !strings.HasPrefix(c.Path, "/") {
				p.errs = append(p.errs, p.errorf(v, "invalid path %q: want an absolute path, starting with /", c.Path))
			}
		case "allow":
			hasAllow = true
			if err := v.Decode(&c.Allow); err != nil || v.Tag != "!!bool" {
				p.errs = append(p.errs, p.errorf(v, "allow: want true or false, got %q", v.Value))
			}
		default:
			p.errs = append(p.errs, p.errorf(k, "unknown key %q: a case has user, method, path and allow", k.Value))
		}
	})
	for _, miss := range []struct {
		has  bool
		name string
	}{{hasMethod, "method"}, {hasPath, "path"}, {hasAllow, "allow"}} {
		if !miss.has {
			p.errs = append(p.errs, p.errorf(n, "the case has no %s", miss.name))
		}
	}
	if len(p.errs) == before {
		p.s.Cases = append(p.s.Cases, c)
	}
}

// resolve follows an alias to the node it names.
func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// yamlParserProblems are the problems yaml.v3's parser (not its scanner)
// reports. The parser gives 0-based line numbers (the scanner 1-based) and
// none at all for the first line.
var yamlParserProblems = []string{
	"did not find expected <stream-start>",
	"did not find expected <document start>",
	"did not find expected node content",
	"did not find expected '-' indicator",
	"did not find expected key",
	"did not find expected ',' or ']'",
	"did not find expected ',' or '}'",
	"found undefined tag handle",
	"found duplicate %YAML directive",
	"found duplicate %TAG directive",
	"found incompatible YAML document",
}

// yamlError turns the YAML parser's "yaml: line N: message" into a
// *LineError with the right 1-based line.
func yamlError(file string, data []byte, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	num := 0
	if m := regexp.MustCompile(`^line (\d+): (.*)$`).FindStringSubmatch(msg); m != nil {
		num, _ = strconv.Atoi(m[1])
		msg = m[2]
		if slices.Contains(yamlParserProblems, msg) {
			num++
		}
	} else if n := badByteLine(data); n > 0 {
		num = n // the reader's errors (control characters, bad UTF-8) have no line
	} else {
		num = 1 // a problem on the first line is reported without one
	}
	return &LineError{File: file, Num: num, Msg: msg}
}

// badByteLine returns the line of the first byte YAML refuses to read (a
// control character or invalid UTF-8), or 0.
func badByteLine(data []byte) int {
	line := 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			return line
		case r == '\n':
			line++
		case r < 0x20 && r != '\t' && r != '\r', r == 0x7f:
			return line
		}
		i += size
	}
	return 0
}
