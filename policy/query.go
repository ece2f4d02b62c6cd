package policy

import "slices"

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
