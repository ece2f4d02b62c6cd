package policy

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"gorm.io/gorm"
)

// ErrNoLine means a line to remove is not in the policy.
var ErrNoLine = errors.New("no such policy line")

// ReadOnlyError means a change would touch a line that comes from a policy
// file; such lines change in git, not through the API.
type ReadOnlyError struct{ Line Line }

func (e *ReadOnlyError) Error() string {
	return fmt.Sprintf("%q comes from %s and is read-only through the API", e.Line.String(), e.Line.Origin())
}

// Change collects the line changes of one transaction; see Engine.Update.
type Change struct {
	e        *Engine
	tx       *gorm.DB
	add, del []Line
	commit   []func()
}

// OnCommit registers fn to run after the change is committed and in force,
// still serialized with every other change.
func (c *Change) OnCommit(fn func()) { c.commit = append(c.commit, fn) }

// Holders returns every subject that reaches target through g lines as
// they would be after this change, target excluded.
func (c *Change) Holders(target string) []string {
	children := map[string][]string{}
	edge := func(l Line) bool { return l.Ptype == "g" && len(l.Fields) == 2 }
	gone := map[string]bool{}
	for _, l := range c.del {
		gone[l.key()] = true
	}
	c.e.mu.RLock()
	for child, ps := range c.e.parents {
		for _, p := range ps {
			k := Line{Ptype: "g", Fields: []string{child, p}}.key()
			if gone[k] {
				if _, inFile := c.e.fileKey[k]; !inFile {
					continue
				}
			}
			children[p] = append(children[p], child)
		}
	}
	c.e.mu.RUnlock()
	for _, l := range c.add {
		if edge(l) {
			children[l.Fields[1]] = append(children[l.Fields[1]], l.Fields[0])
		}
	}
	seen := map[string]bool{target: true}
	var out []string
	frontier := []string{target}
	for hop := 0; hop < maxHops && len(frontier) > 0; hop++ {
		var next []string
		for _, s := range frontier {
			for _, ch := range children[s] {
				if !seen[ch] {
					seen[ch] = true
					out = append(out, ch)
					next = append(next, ch)
				}
			}
		}
		frontier = next
	}
	return out
}

// DB returns the transaction the change runs in, for the caller's own rows.
// It is nil for an engine without a database layer.
func (c *Change) DB() *gorm.DB { return c.tx }

// Add adds a line to the database layer.
func (c *Change) Add(ptype string, fields ...string) {
	c.add = append(c.add, Line{Ptype: ptype, Fields: fields})
}

// Remove removes a line from the database layer. It fails with a
// *ReadOnlyError for a line that a file declares, and with ErrNoLine for a
// line that is not there.
func (c *Change) Remove(ptype string, fields ...string) error {
	l := Line{Ptype: ptype, Fields: fields}
	if f, ok := c.e.fileKey[l.key()]; ok {
		return &ReadOnlyError{Line: f}
	}
	if !c.has(l) {
		return ErrNoLine
	}
	c.del = append(c.del, l)
	return nil
}

func (c *Change) has(l Line) bool {
	k := l.key()
	for _, d := range c.del {
		if d.key() == k {
			return false
		}
	}
	if _, ok := c.e.dbKey[k]; ok {
		return true
	}
	for _, a := range c.add {
		if a.key() == k {
			return true
		}
	}
	return false
}

// FileLines returns the file lines in which name appears as a value, for
// refusing to rename or delete what a file still names.
func (c *Change) FileLines(name string) []Line {
	var out []Line
	for _, l := range c.e.fileKey {
		for _, f := range l.Fields {
			if f == name {
				out = append(out, l)
				break
			}
		}
	}
	sortLines(out)
	return out
}

// Holders returns every subject that reaches target through g lines, as
// the policy is now.
func (e *Engine) Holders(target string) []string {
	return (&Change{e: e}).Holders(target)
}

// Names returns a line of either layer, as in force before this change,
// that has name as one of its values, and whether there is one.
func (c *Change) Names(name string) (Line, bool) {
	if ls := c.FileLines(name); len(ls) > 0 {
		return ls[0], true
	}
	for k := range c.e.dbKey {
		if !strings.Contains(k, name) {
			continue
		}
		l := lineOf(k)
		for _, f := range l.Fields {
			if f == name {
				return l, true
			}
		}
	}
	return Line{}, false
}

// RemoveSubject removes every database g line in which sub is the child or
// the parent, and every g2 line in which it is the subject or the role.
// Lines from files are kept (see FileLines).
func (c *Change) RemoveSubject(sub string) {
	for k := range c.e.dbKey {
		if child, parent, ok := edgeOf(k); ok && (child == sub || parent == sub) {
			c.del = append(c.del, lineOf(k))
		} else if s, sc, ok := scopeOf(k); ok && (s == sub || sc.role == sub) {
			c.del = append(c.del, lineOf(k))
		}
	}
}

// RenameSubject rewrites every database line that names old to name new.
// A g2 line's workspace is not a subject: it keeps its name.
func (c *Change) RenameSubject(old, new string) {
	for k := range c.e.dbKey {
		if !strings.Contains(k, old) {
			continue
		}
		l := lineOf(k)
		renamed := false
		fields := make([]string, len(l.Fields))
		for i, f := range l.Fields {
			if f == old && !(l.Ptype == "g2" && i == 2) {
				f, renamed = new, true
			}
			fields[i] = f
		}
		if renamed {
			c.del = append(c.del, l)
			c.add = append(c.add, Line{Ptype: l.Ptype, Fields: fields})
		}
	}
}

// Update runs fn in one database transaction and applies the line changes
// it made to memory after the commit; on any error nothing changes, in the
// database or in memory. Changes are serialized.
func (e *Engine) Update(ctx context.Context, fn func(c *Change) error) error {
	e.wmu.Lock()
	defer e.wmu.Unlock()
	c := &Change{e: e}
	run := func(tx *gorm.DB) error {
		c.tx = tx
		if err := fn(c); err != nil {
			return err
		}
		if err := c.validate(); err != nil {
			return err
		}
		if e.db != nil {
			return e.db.persist(ctx, tx, c.add, c.del)
		}
		return nil
	}
	var err error
	if e.db != nil {
		err = e.db.gdb.WithContext(ctx).Transaction(run)
	} else {
		err = run(nil)
	}
	if err != nil {
		return err
	}
	e.apply(c.add, c.del)
	for _, fn := range c.commit {
		fn()
	}
	e.changed()
	return nil
}

// validate checks every line the change adds as a file line is checked
// (the model's line types and sizes, patterns, methods, names), before
// anything commits: one validation, whatever way a line arrives.
func (c *Change) validate() error {
	for _, l := range c.add {
		if err := c.e.checks.check(l); err != nil {
			var le *LineError
			if errors.As(err, &le) {
				return fmt.Errorf("invalid line %s: %s", l.String(), le.Msg)
			}
			return fmt.Errorf("invalid line %s: %v", l.String(), err)
		}
		for _, f := range l.Fields {
			if strings.ContainsAny(f, "\n\r,\"") {
				return fmt.Errorf("invalid value %q in %s", f, l.String())
			}
		}
	}
	return nil
}

// apply puts committed line changes into memory. Callers hold wmu.
func (e *Engine) apply(add, del []Line) {
	e.mu.Lock()
	defer e.mu.Unlock()
	dbKey := e.dbKey
	rulesChanged := false
	for _, l := range del {
		k := l.key()
		if _, ok := dbKey[k]; !ok {
			continue
		}
		delete(dbKey, k)
		if _, inFile := e.fileKey[k]; !inFile {
			rulesChanged = rulesChanged || l.Ptype[0] == 'p'
			e.unlink(l)
		}
	}
	for _, l := range add {
		k := l.key()
		if _, ok := dbKey[k]; ok {
			continue
		}
		dbKey[k] = struct{}{}
		if _, inFile := e.fileKey[k]; !inFile {
			rulesChanged = rulesChanged || l.Ptype[0] == 'p'
			e.link(k)
		}
	}
	if e.casbin != nil {
		// Casbin decides: rebuild its enforcer from the union, as its
		// LoadPolicy would load it (in order, sorted as the model asks),
		// rather than patch it line by line.
		if enf, err := e.newCasbin(e.model, unionLines(e.files, e.fileKey, dbKey)); err != nil {
			e.log.Error("policy: loading database rules into the model failed; keeping the previous rules", "error", err)
		} else {
			e.casbin = enf
		}
	}
	x := e.snap.Load().x
	if rulesChanged && x != nil {
		nx, err := compileIndex(ruleLines(e.files, e.fileKey, dbKey))
		if err != nil {
			// The lines are committed; keep deciding with the last good
			// index and say so. A reload heals it once the lines are fixed.
			e.log.Error("policy: compiling database rules failed; keeping the previous rules", "error", err)
		} else {
			x = nx
		}
	}
	e.publish(x)
}

// link adds a union line (with key k) to the role graph. Callers hold mu.
func (e *Engine) link(k string) {
	if child, parent, ok := edgeOf(k); ok {
		e.parents[child] = append(e.parents[child], parent)
	}
	e.linkScope(k)
}

// unlink removes a union line from the role graph. Callers hold mu.
func (e *Engine) unlink(l Line) {
	e.unlinkScope(l)
	if l.Ptype == "g" && len(l.Fields) == 2 {
		ps := e.parents[l.Fields[0]]
		for i, p := range ps {
			if p == l.Fields[1] {
				ps = append(ps[:i:i], ps[i+1:]...)
				break
			}
		}
		if len(ps) == 0 {
			delete(e.parents, l.Fields[0])
		} else {
			e.parents[l.Fields[0]] = ps
		}
	}
}

// Pending returns the line changes the change has collected so far.
func (c *Change) Pending() (add, del []Line) { return c.add, c.del }

// ApplyCommitted puts line changes that another replica has committed into
// memory now, before this change's own lines.
func (c *Change) ApplyCommitted(add, del []Line) { c.e.apply(add, del) }

// DatabaseLines is the database layer as read by LoadDatabaseLines.
type DatabaseLines struct{ keys keySet }

// ReplaceDatabaseLines replaces the whole database layer in memory with
// lines read from the database, as a full reload does.
func (c *Change) ReplaceDatabaseLines(lines DatabaseLines) error {
	return c.e.install(c.e.files, lines.keys)
}

// Exclusive runs fn serialized with every change, without a transaction of
// its own, to apply what other replicas committed (ApplyCommitted,
// ReplaceDatabaseLines). fn must not add or remove lines.
func (e *Engine) Exclusive(ctx context.Context, fn func(c *Change) error) error {
	e.wmu.Lock()
	defer e.wmu.Unlock()
	c := &Change{e: e}
	if e.db != nil {
		c.tx = e.db.gdb.WithContext(ctx)
	}
	if err := fn(c); err != nil {
		return err
	}
	if len(c.add) > 0 || len(c.del) > 0 {
		return errors.New("policy: Exclusive does not persist line changes; use Update")
	}
	for _, fn := range c.commit {
		fn()
	}
	e.changed()
	return nil
}

// LoadDatabaseLines reads every database line through db (for example a
// read-only transaction of a full reload).
func (e *Engine) LoadDatabaseLines(ctx context.Context, db *gorm.DB) (DatabaseLines, error) {
	if e.db == nil {
		return DatabaseLines{keys: keySet{}}, nil
	}
	keys, err := e.db.loadFrom(ctx, db)
	return DatabaseLines{keys: keys}, err
}
