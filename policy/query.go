package policy

import (
	"slices"
	"strings"
)

// Lines returns every line in force: file lines in file order, then
// database lines in content order. A line in both layers is reported from
// its file. It sorts the database layer; prefer the narrower queries.
func (e *Engine) Lines() []Line {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return unionLines(e.files, e.fileKey, e.dbKey)
}

// FileLines returns the lines of the file layer in file order.
func (e *Engine) FileLines() []Line {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return fileLines(e.files, e.fileKey)
}

// Groupings returns the 2-value g lines in force, file lines first.
func (e *Engine) Groupings() []Line {
	var out []Line
	for _, l := range e.Lines() {
		if l.Ptype == "g" && len(l.Fields) == 2 {
			out = append(out, l)
		}
	}
	return out
}

// Rules returns the p lines in force, file lines first.
func (e *Engine) Rules() []Line {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return ruleLines(e.files, e.fileKey, e.dbKey)
}

// Parents returns the direct parents of sub (for a user: its roles).
func (e *Engine) Parents(sub string) []string {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return slices.Clone(e.parents[sub])
}

// Children returns the subjects with a g line to parent, sorted.
func (e *Engine) Children(parent string) []string {
	e.mu.RLock()
	defer e.mu.RUnlock()
	var out []string
	for child, ps := range e.parents {
		if slices.Contains(ps, parent) {
			out = append(out, child)
		}
	}
	slices.Sort(out)
	return out
}

// Source returns the line with this content as it is in force (with its
// origin) and whether it is.
func (e *Engine) Source(ptype string, fields ...string) (Line, bool) {
	k := Line{Ptype: ptype, Fields: fields}.key()
	e.mu.RLock()
	defer e.mu.RUnlock()
	if l, ok := e.fileKey[k]; ok {
		return l, true
	}
	if _, ok := e.dbKey[k]; ok {
		return lineOf(k), true
	}
	return Line{}, false
}

// ScopedGroupings returns the g2 lines in force (workspace-scoped role
// assignments: subject, role, workspace), file lines first, each with its
// origin.
func (e *Engine) ScopedGroupings() []Line {
	var out []Line
	for _, l := range e.Lines() {
		if l.Ptype == "g2" && len(l.Fields) == 3 {
			out = append(out, l)
		}
	}
	return out
}

// WorkspaceBound reports whether role reaches, through g lines, a subject
// with a p line whose path has a {workspace} parameter: whether holding
// role in a workspace (a g2 line) can allow any request at all.
func (e *Engine) WorkspaceBound(role string) bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	reach := closure(e.parents, role)
	for _, l := range ruleLines(e.files, e.fileKey, e.dbKey) {
		if len(l.Fields) > 1 && slices.Contains(reach, l.Fields[0]) && hasWorkspaceParam(l.Fields[1]) {
			return true
		}
	}
	return false
}

// hasWorkspaceParam reports whether a p line's path pattern has a
// {workspace} segment.
func hasWorkspaceParam(path string) bool {
	return slices.Contains(strings.Split(path, "/"), "{workspace}")
}

// ScopedRoles returns the workspace-scoped roles sub holds directly (its
// g2 lines), as (role, workspace) pairs sorted by role, then workspace.
func (e *Engine) ScopedRoles(sub string) [][2]string {
	e.mu.RLock()
	defer e.mu.RUnlock()
	out := make([][2]string, 0, len(e.scopes[sub]))
	for _, sc := range e.scopes[sub] {
		out = append(out, [2]string{sc.role, sc.ws})
	}
	slices.SortFunc(out, func(a, b [2]string) int {
		if c := strings.Compare(a[0], b[0]); c != 0 {
			return c
		}
		return strings.Compare(a[1], b[1])
	})
	return out
}
