package policy

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/casbin/casbin/v2"
	"github.com/casbin/casbin/v2/model"
)

// install builds all derived state for a file layer and the database lines
// and swaps it in. Callers hold wmu, or own e exclusively. Every problem is
// a *LineError naming the file and line; all of them are returned at once,
// joined.
func (e *Engine) install(files *Files, dbKey keySet) error {
	m, layout, err := parseModel(files)
	if err != nil {
		return err
	}
	fast := isDefaultModel(files.Model)
	checks := lineChecksFor(m, layout, fast)
	fileKey := make(map[string]Line, len(files.Lines))
	var errs []error
	badRoles := false // a g line is in error: admin's roles are unknown
	for _, l := range files.Lines {
		if err := checks.check(l); err != nil {
			errs = append(errs, err)
			badRoles = badRoles || l.Ptype[0] == 'g'
			continue
		}
		if _, dup := fileKey[l.key()]; !dup {
			fileKey[l.key()] = l // the first of equal lines counts, as for Casbin (order matters to priority models)
		}
	}
	for k := range dbKey {
		if err := e.checkDatabaseLine(checks, k); err != nil {
			errs = append(errs, err)
			badRoles = badRoles || k[0] == 'g'
		}
	}
	var x *index
	if fast && len(errs) == 0 {
		if x, err = compileIndex(ruleLines(files, fileKey, dbKey)); err != nil {
			errs = append(errs, err)
		}
	}
	parents := buildParents(fileKey, dbKey)
	if _, roles := m["g"]["g"]; roles && !badRoles {
		if err := checkAdmin(parents, files); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	var enf *casbin.Enforcer
	if !fast {
		if enf, err = e.newCasbin(m, unionLines(files, fileKey, dbKey)); err != nil {
			return modelError(layout, err)
		}
	}
	e.mu.Lock()
	e.files, e.fileKey, e.dbKey, e.parents, e.casbin = files, fileKey, dbKey, parents, enf
	e.scopes = buildScopes(fileKey, dbKey)
	e.checks, e.model = checks, m
	e.publish(x)
	e.mu.Unlock()
	return nil
}

// checkDatabaseLine validates a database line (its key) as file lines are
// validated: rows another tool wrote into gorm-adapter's table may be
// malformed. The usual line, a user's role, is checked without building a
// Line.
func (e *Engine) checkDatabaseLine(checks *lineChecks, k string) error {
	if child, parent, ok := edgeOf(k); ok && checks.fast && checks.m["g"]["g"] != nil {
		if validSubject(child) && validSubject(parent) && edgeProblem(child, parent) == "" {
			return nil
		}
	}
	l := lineOf(k)
	err := checks.check(l)
	if err == nil {
		return nil
	}
	var le *LineError
	msg := err.Error()
	if errors.As(err, &le) {
		msg = le.Msg
	}
	where := "database"
	if e.db != nil {
		if id, ok := e.db.rowID(l); ok {
			where = fmt.Sprintf("database (%s row id %d)", casbinTable, id)
		}
	}
	return &LineError{File: where, Msg: fmt.Sprintf("%s: %s; delete or fix the row", l.String(), msg)}
}

// parseModel checks a model's text and parses it. Problems are reported
// against the model file's lines.
func parseModel(files *Files) (model.Model, *modelLayout, error) {
	layout, errs := scanModel(files.ModelName, files.Model)
	if len(errs) > 0 {
		return nil, nil, errors.Join(errs...)
	}
	m, err := model.NewModelFromString(files.Model)
	if err != nil {
		return nil, nil, layout.errorf(1, "%v", err)
	}
	if r, ok := m["r"]["r"]; !ok || len(r.Tokens) != 3 {
		return nil, nil, layout.errorf(layout.line("r"), "the request definition must be r = sub, obj, act (user, path, method)")
	}
	if g, ok := m["g"]["g"]; ok {
		if n := strings.Count(g.Value, "_"); n != 2 {
			return nil, nil, layout.errorf(layout.line("g"), "the role definition g = %s takes %d values: Gatehouse assigns roles as g, USER, ROLE, so g must be g = _, _ (domains and role conditions are not supported)", g.Value, n)
		}
	}
	if errs := checkFunctions(layout, m); len(errs) > 0 {
		return nil, nil, errors.Join(errs...)
	}
	return m, layout, nil
}

// modelError places an error Casbin found while building an enforcer: a
// policy line's own error as it is, an effect error on the effect's line,
// anything else on the matcher's.
func modelError(layout *modelLayout, err error) error {
	var le *LineError
	if errors.As(err, &le) {
		return err
	}
	if strings.Contains(err.Error(), "effect") {
		return layout.errorf(layout.line("e"), "%v", err)
	}
	return layout.errorf(layout.line("m"), "%v", err)
}

// lineChecks validates policy lines against a model.
type lineChecks struct {
	m    model.Model
	fast bool // the default model: subjects, patterns and methods are Gatehouse's
	// patterns and methods name, per line type, the value indexes that a
	// custom model's matcher passes to pathMatch and methodMatch.
	patterns, methods map[string][]int
}

func lineChecksFor(m model.Model, layout *modelLayout, fast bool) *lineChecks {
	c := &lineChecks{m: m, fast: fast}
	if fast {
		c.patterns = map[string][]int{"p": {1}}
		c.methods = map[string][]int{"p": {2}}
		return c
	}
	var matchers strings.Builder
	for key, v := range layout.vals {
		if strings.HasPrefix(key, "m") {
			matchers.WriteString(v + "\n")
		}
	}
	c.patterns = matcherArgs(m, matchers.String(), "pathMatch")
	for ptype, is := range matcherArgs(m, matchers.String(), "workspace") {
		for _, i := range is {
			if !slices.Contains(c.patterns[ptype], i) {
				c.patterns[ptype] = append(c.patterns[ptype], i)
			}
		}
	}
	c.methods = matcherArgs(m, matchers.String(), "methodMatch")
	return c
}

// matcherArgs finds fn(r.x, p.y …) calls in a matcher and returns, per
// policy type, the indexes of the values named as fn's second argument.
func matcherArgs(m model.Model, matcher, fn string) map[string][]int {
	re := regexp.MustCompile(fn + `\(\s*r\d*\.\w+\s*,\s*(p\d*)\.(\w+)`)
	out := map[string][]int{}
	for _, sm := range re.FindAllStringSubmatch(matcher, -1) {
		ptype, field := sm[1], sm[2]
		ast, ok := m["p"][ptype]
		if !ok {
			continue
		}
		if i := slices.Index(ast.Tokens, ptype+"_"+field); i >= 0 && !slices.Contains(out[ptype], i) {
			out[ptype] = append(out[ptype], i)
		}
	}
	return out
}

// check validates one line against the model.
func (c *lineChecks) check(l Line) error {
	sec := l.Ptype[:1]
	ast, ok := c.m[sec][l.Ptype]
	if !ok && c.fast && l.Ptype == "g2" {
		return l.errorf("line type \"g2\" is not defined by the model: workspace-scoped roles (%s) need the role definition g2 = _, _, _ and the matcher term g2(r.sub, p.sub, workspace(r.obj, p.obj)) of the current default model; this policy's model.conf is the previous default, so delete it (the embedded default then applies) or copy the current one", scopeLineRule)
	}
	if !ok {
		return l.errorf("line type %q is not defined by the model", l.Ptype)
	}
	if sec == "g" {
		if want := strings.Count(ast.Value, "_"); len(l.Fields) != want {
			return l.errorf("%s line has %d values, the model's %s wants %d", l.Ptype, len(l.Fields), l.Ptype, want)
		}
	} else if want := len(ast.Tokens); len(l.Fields) != want && !(len(l.Fields) == want+1 && slices.Contains(ast.Tokens, l.Ptype+"_eft")) {
		return l.errorf("%s line has %d values, the model's %s wants %d", l.Ptype, len(l.Fields), l.Ptype, want)
	}
	for _, i := range c.patterns[l.Ptype] {
		if _, err := compilePattern(l.Fields[i]); err != nil {
			return l.errorf("%v", err)
		}
	}
	for _, i := range c.methods[l.Ptype] {
		if _, err := parseMethods(l.Fields[i]); err != nil {
			return l.errorf("%v", err)
		}
	}
	if c.fast {
		return checkNames(l)
	}
	if sec == "p" {
		// Every model decides a HEAD request as GET: HEAD only where GET
		// is allowed. A value that names HEAD outside methodMatch would be
		// matched by Casbin against the request's own method and never
		// see HEAD; refuse it rather than decide otherwise than Casbin.
		for i, f := range l.Fields {
			if headToken.MatchString(f) && !slices.Contains(c.methods[l.Ptype], i) {
				return l.errorf("value %d %q names HEAD: every model decides a HEAD request as GET, so name GET (or use methodMatch, which takes GET|HEAD)", i+1, f)
			}
		}
	}
	return nil
}

// headToken finds HEAD as a word in a policy value.
var headToken = regexp.MustCompile(`(^|[^A-Za-z0-9_])HEAD([^A-Za-z0-9_]|$)`)

// nameRule says what a name in a policy line may be.
const nameRule = "names use [A-Za-z0-9._@-], users are user:NAME, an IdP's groups oidc:NAME, teams team:NAME"

// checkNames checks the subjects and roles of a line under the default
// model.
func checkNames(l Line) error {
	switch l.Ptype {
	case "p":
		if !validSubject(l.Fields[0]) {
			return l.errorf("invalid subject %q: %s", l.Fields[0], nameRule)
		}
		if strings.HasPrefix(l.Fields[0], TeamPrefix) {
			return l.errorf("%q cannot have rules of its own: a team holds roles (g, %s, ROLE)", l.Fields[0], l.Fields[0])
		}
	case "g":
		for _, f := range l.Fields {
			if !validSubject(f) {
				return l.errorf("invalid name %q: %s", f, nameRule)
			}
		}
		if msg := edgeProblem(l.Fields[0], l.Fields[1]); msg != "" {
			return l.errorf("%s", msg)
		}
	case "g2":
		return checkScope(l)
	}
	return nil
}

// ErrAdminPermissions means a policy takes read, write or me away from the
// admin role.
var ErrAdminPermissions = errors.New("the admin role must keep read, write and me")

// checkAdmin refuses a policy that takes read, write or me away from the
// admin role: nothing may lock every administrator out. The problem is
// reported on the first line that gives admin a role or permission, or
// else on the last line of the policy.
func checkAdmin(parents map[string][]string, files *Files) error {
	reach := closure(parents, RoleAdmin)
	var missing []string
	for _, p := range BuiltinPermissions() {
		if !slices.Contains(reach, p) {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	at := LineError{File: files.PolicyName, Num: 1, Err: ErrAdminPermissions}
	if at.File == "" {
		at.File = DefaultPolicyName
	}
	for _, l := range files.Lines {
		if l.File == at.File {
			at.Num = l.Num
		}
		if l.Ptype == "g" && len(l.Fields) == 2 && l.Fields[0] == RoleAdmin {
			break
		}
	}
	at.Msg = fmt.Sprintf("%v; it lacks %s (add g, admin, %s)",
		ErrAdminPermissions, strings.Join(missing, ", "), strings.Join(missing, " and g, admin, "))
	return &at
}
