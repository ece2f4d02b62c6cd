package policy

import (
	"slices"
	"strings"
)

// Lines returns every line in force: file lines in file order, then
// database lines.
func (e *Engine) Lines() []Line {
	e.mu.RLock()
	defer e.mu.RUnlock()
	out := unionLines(e.fileKey, e.dbKey)
	// Lines in both layers are reported from their file.
	return out
}

// Groupings returns the 2-value g lines in force.
func (e *Engine) Groupings() []Line {
	var out []Line
	for _, l := range e.Lines() {
		if l.Ptype == "g" && len(l.Fields) == 2 {
			out = append(out, l)
		}
	}
	return out
}

// Rules returns the p lines in force.
func (e *Engine) Rules() []Line {
	var out []Line
	for _, l := range e.Lines() {
		if l.Ptype == "p" {
			out = append(out, l)
		}
	}
	return out
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
	l, ok := e.dbKey[k]
	return l, ok
}

// FileNames returns the names (role or permission) that file lines use as
// g or p subjects and g parents, excluding users.
func (e *Engine) FileNames() []string {
	e.mu.RLock()
	defer e.mu.RUnlock()
	var out []string
	for _, l := range e.fileKey {
		for i, f := range l.Fields {
			if (l.Ptype == "g" || i == 0) && !strings.HasPrefix(f, UserPrefix) && !slices.Contains(out, f) {
				out = append(out, f)
			}
			if l.Ptype != "g" {
				break
			}
		}
	}
	slices.Sort(out)
	return out
}
