package policy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/casbin/casbin/v2"
	"github.com/casbin/casbin/v2/rbac"
	defaultrolemanager "github.com/casbin/casbin/v2/rbac/default-role-manager"
)

// Workspace-scoped roles. A g2 line "g2, SUBJECT, ROLE, WORKSPACE" gives
// SUBJECT (a user, a team or an IdP's group) ROLE for requests about
// WORKSPACE only: requests that a rule with a {workspace} path parameter
// matches, whose segment there is WORKSPACE. The default model says so in
// Casbin's terms,
//
//	g2 = _, _, _
//	m = (g(r.sub, p.sub) || g("public", p.sub) || g2(r.sub, p.sub, workspace(r.obj, p.obj))) && …
//
// with g2's meaning given by Gatehouse's role manager (scopedRoles):
// g2(a, b, W) holds when a g2 line (s, R, W) has g(a, s) and g(R, b), each
// as Casbin's g decides it (a name reaches itself, and a chain of at most
// maxHops g lines), and W is not "". A user thus holds the workspace roles
// of every team and group it is a member of.

// scope is one g2 line seen from its subject: a role in a workspace.
type scope struct{ role, ws string }

// Line validation messages for g2 lines.
const (
	scopeSubjectRule = "the subject of a g2 line is a user, a team or an IdP's group (user:NAME, team:NAME, oidc:NAME)"
	scopeLineRule    = "g2, SUBJECT, ROLE, WORKSPACE gives SUBJECT the role ROLE in the workspace WORKSPACE"
)

// scopeOf returns the subject and scope of a g2 line's key, as substrings
// of the key.
func scopeOf(k string) (sub string, sc scope, ok bool) {
	rest, ok := strings.CutPrefix(k, "g2\x00")
	if !ok {
		return "", scope{}, false
	}
	sub, rest, ok = strings.Cut(rest, "\x00")
	if !ok {
		return "", scope{}, false
	}
	role, ws, ok := strings.Cut(rest, "\x00")
	if !ok || strings.IndexByte(ws, 0) >= 0 {
		return "", scope{}, false
	}
	return sub, scope{role: role, ws: ws}, true
}

// buildScopes collects the g2 lines of both layers: subject → scopes. It
// is nil when there are none.
func buildScopes(fileKey map[string]Line, dbKey keySet) map[string][]scope {
	var ss map[string][]scope
	add := func(sub string, sc scope) {
		if ss == nil {
			ss = map[string][]scope{}
		}
		ss[sub] = append(ss[sub], sc)
	}
	for _, l := range fileKey {
		if l.Ptype == "g2" && len(l.Fields) == 3 {
			add(l.Fields[0], scope{role: l.Fields[1], ws: l.Fields[2]})
		}
	}
	for k := range dbKey {
		if _, dup := fileKey[k]; dup {
			continue
		}
		if sub, sc, ok := scopeOf(k); ok {
			add(sub, sc)
		}
	}
	return ss
}

// linkScope adds the g2 line with key k to the scopes. Callers hold mu.
func (e *Engine) linkScope(k string) {
	if sub, sc, ok := scopeOf(k); ok {
		if e.scopes == nil {
			e.scopes = map[string][]scope{}
		}
		e.scopes[sub] = append(e.scopes[sub], sc)
	}
}

// unlinkScope removes the g2 line l from the scopes. Callers hold mu.
func (e *Engine) unlinkScope(l Line) {
	if l.Ptype != "g2" || len(l.Fields) != 3 {
		return
	}
	sc := scope{role: l.Fields[1], ws: l.Fields[2]}
	ss := e.scopes[l.Fields[0]]
	if i := slices.Index(ss, sc); i >= 0 {
		ss = append(ss[:i:i], ss[i+1:]...)
	}
	if len(ss) == 0 {
		delete(e.scopes, l.Fields[0])
	} else {
		e.scopes[l.Fields[0]] = ss
	}
}

// scopedBits returns what sub reaches per workspace through g2 lines: for
// each workspace W, the subjects of p lines that a role R reaches, R
// being held in W by sub or by a subject sub reaches through g lines. It
// is nil when sub holds no workspace role. Callers hold mu.
func (e *Engine) scopedBits(x *index, sub string) map[string]bitset {
	if len(e.scopes) == 0 {
		return nil
	}
	var out map[string]bitset
	for _, s := range closure(e.parents, sub) {
		for _, sc := range e.scopes[s] {
			if out == nil {
				out = map[string]bitset{}
			}
			b := out[sc.ws]
			if b == nil {
				b = make(bitset, x.words)
				out[sc.ws] = b
			}
			b.or(e.reachBits(x, sc.role))
		}
	}
	return out
}

// explainScoped names the rule of subject si that opens method on path to
// sub through a role sub holds in the path's workspace, and the g2 line
// that gives it: "RULE (ORIGIN), via g2, SUBJECT, ROLE, WORKSPACE
// (ORIGIN)", the workspace and the two lines; scoped is sub's cached
// scoped grants. Callers hold mu.
func (e *Engine) explainScoped(x *index, si int, sub, userID, username, method, path string, scoped map[string]bitset) (string, string, []Line) {
	l, ws, ok := x.explainScoped(si, method, path, username, userID, scoped)
	if !ok {
		return "", "", nil
	}
	rule := l.String() + " (" + l.Origin() + ")"
	for _, s := range closure(e.parents, sub) {
		for _, sc := range e.scopes[s] {
			if sc.ws != ws || !e.reachBits(x, sc.role).has(si) {
				continue
			}
			g := Line{Ptype: "g2", Fields: []string{s, sc.role, ws}}
			if f, ok := e.fileKey[g.key()]; ok {
				g = f
			}
			return rule + ", via " + g.String() + " (" + g.Origin() + ")", ws, []Line{l, g}
		}
	}
	return rule, ws, []Line{l}
}

// checkScope checks a g2 line under the default model.
func checkScope(l Line) error {
	sub, role, ws := l.Fields[0], l.Fields[1], l.Fields[2]
	switch {
	case !validSubject(sub) || ValidName(sub):
		return l.errorf("invalid subject %q: %s", sub, scopeSubjectRule)
	case !ValidName(role):
		return l.errorf("invalid role %q: %s; a role's name uses [A-Za-z0-9._@-]", role, scopeLineRule)
	case !ValidName(ws):
		return l.errorf("invalid workspace %q: a workspace's name is 1 to %d characters out of [A-Za-z0-9._@-]", ws, MaxNameLen)
	}
	return nil
}

// scopedRoles is Gatehouse's role manager for a role definition
// g2 = _, _, _ in a Casbin enforcer: g2(a, b, W) holds when a g2 line
// (s, R, W) has g(a, s) and g(R, b), as the enforcer's g role manager
// decides them (a name reaches itself), and W is not "". Stock Casbin
// reads g2 = _, _, _ as roles within a domain, unrelated to g; an
// enforcer needs this role manager to decide as Gatehouse does.
type scopedRoles struct {
	// RoleManager is the domain role manager Casbin made for g2. It keeps
	// the links too, for the methods this type does not override.
	rbac.RoleManager
	g     rbac.RoleManager       // the enforcer's g; nil when the model has none
	lines map[string][][2]string // workspace → (subject, role) of each g2 line
}

// Clear forgets every g2 line.
func (r *scopedRoles) Clear() error {
	r.lines = map[string][][2]string{}
	return r.RoleManager.Clear()
}

// AddLink records the g2 line (name1, name2, domain).
func (r *scopedRoles) AddLink(name1, name2 string, domain ...string) error {
	if len(domain) == 1 {
		r.lines[domain[0]] = append(r.lines[domain[0]], [2]string{name1, name2})
	}
	return r.RoleManager.AddLink(name1, name2, domain...)
}

// DeleteLink forgets the g2 line (name1, name2, domain).
func (r *scopedRoles) DeleteLink(name1, name2 string, domain ...string) error {
	if len(domain) == 1 {
		ls := r.lines[domain[0]]
		if i := slices.Index(ls, [2]string{name1, name2}); i >= 0 {
			r.lines[domain[0]] = slices.Delete(ls, i, i+1)
		}
	}
	return r.RoleManager.DeleteLink(name1, name2, domain...)
}

// HasLink reports g2(name1, name2, domain).
func (r *scopedRoles) HasLink(name1, name2 string, domain ...string) (bool, error) {
	if len(domain) != 1 || domain[0] == "" {
		return false, nil
	}
	for _, l := range r.lines[domain[0]] {
		if r.reaches(name1, l[0]) && r.reaches(l[1], name2) {
			return true, nil
		}
	}
	return false, nil
}

func (r *scopedRoles) reaches(a, b string) bool {
	if a == b {
		return true
	}
	if r.g == nil {
		return false
	}
	ok, _ := r.g.HasLink(a, b)
	return ok
}

// InstallScopedRoles gives a Casbin enforcer Gatehouse's meaning of g2
// (see scopedRoles) when its model defines g2 = _, _, _, and rebuilds its
// role links. Gatehouse's own enforcers have it; an enforcer built
// elsewhere needs it to decide as Gatehouse does.
func InstallScopedRoles(enf *casbin.Enforcer) error {
	m := enf.GetModel()
	ast, ok := m["g"]["g2"]
	if !ok || strings.Count(ast.Value, "_") != 3 || len(ast.ParamsTokens) > 0 {
		return nil
	}
	inner := enf.GetNamedRoleManager("g2")
	if s, ok := inner.(*scopedRoles); ok {
		inner = s.RoleManager
	}
	if inner == nil {
		inner = defaultrolemanager.NewRoleManager(maxHops)
	}
	var g rbac.RoleManager
	if _, ok := m["g"]["g"]; ok {
		g = enf.GetRoleManager()
	}
	enf.SetNamedRoleManager("g2", &scopedRoles{RoleManager: inner, g: g, lines: map[string][][2]string{}})
	if err := enf.BuildRoleLinks(); err != nil {
		return fmt.Errorf("building g2's role links: %w", err)
	}
	return nil
}
