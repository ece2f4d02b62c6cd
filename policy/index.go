package policy

import (
	"math/bits"
	"slices"
	"strings"
)

// bitset is a set of subject indexes. Its length is the index's word count.
type bitset []uint64

func newBitset(n int) bitset { return make(bitset, (n+63)/64) }

func (b bitset) set(i int) { b[i/64] |= 1 << (uint(i) % 64) }

func (b bitset) has(i int) bool { return b[i/64]&(1<<(uint(i)%64)) != 0 }

func (b bitset) or(o bitset) {
	for i := range b {
		b[i] |= o[i]
	}
}

// rule is one compiled p line.
type rule struct {
	subject int // index into index.subjects
	pat     *pattern
	methods []string
	line    Line
}

// node is one level of the route trie. masks hold, per method, the set of
// subjects whose rules end at this node (end) or match any rest below it
// (star); a nil slice means no rule.
type node struct {
	lit   map[string]*node
	param *node
	self  *node
	ws    *node // {workspace}: below it, the caller's roles in that workspace count too
	end   []uint64
	star  []uint64
}

// index is the compiled form of the p lines under the default model: a trie
// over path segments. A lookup costs one walk down the path, however many
// rules there are, and allocates nothing.
type index struct {
	root     node
	subjects []string       // subject names, by index
	subject  map[string]int // subject name → index
	methods  map[string]int // method → method index
	words    int            // bitset length
	rules    []rule
}

// compileIndex builds the index for the given p lines.
func compileIndex(lines []Line) (*index, error) {
	x := &index{subject: map[string]int{}, methods: map[string]int{}}
	for i, m := range stdMethods {
		x.methods[m] = i
	}
	for _, l := range lines {
		if l.Ptype != "p" {
			continue
		}
		sub, obj, act := l.Fields[0], l.Fields[1], l.Fields[2]
		pat, err := compilePattern(obj)
		if err != nil {
			return nil, l.errorf("%v", err)
		}
		ms, err := parseMethods(act)
		if err != nil {
			return nil, l.errorf("%v", err)
		}
		si, ok := x.subject[sub]
		if !ok {
			si = len(x.subjects)
			x.subject[sub] = si
			x.subjects = append(x.subjects, sub)
		}
		for _, m := range ms {
			if _, ok := x.methods[m]; !ok {
				x.methods[m] = len(x.methods)
			}
		}
		x.rules = append(x.rules, rule{subject: si, pat: pat, methods: ms, line: l})
	}
	x.words = (len(x.subjects) + 63) / 64
	if x.words == 0 {
		x.words = 1
	}
	for _, r := range x.rules {
		x.insert(r)
	}
	return x, nil
}

func (x *index) insert(r rule) {
	n := &x.root
	for i, seg := range r.pat.segs {
		if seg.kind == segStar {
			n.star = x.mark(n.star, r)
			return
		}
		n = n.child(seg)
		if i == len(r.pat.segs)-1 {
			n.end = x.mark(n.end, r)
		}
	}
}

func (n *node) child(seg segment) *node {
	switch seg.kind {
	case segParam:
		if n.param == nil {
			n.param = &node{}
		}
		return n.param
	case segSelf:
		if n.self == nil {
			n.self = &node{}
		}
		return n.self
	case segWorkspace:
		if n.ws == nil {
			n.ws = &node{}
		}
		return n.ws
	}
	if n.lit == nil {
		n.lit = map[string]*node{}
	}
	c := n.lit[seg.text]
	if c == nil {
		c = &node{}
		n.lit[seg.text] = c
	}
	return c
}

func (x *index) mark(mask []uint64, r rule) []uint64 {
	if mask == nil {
		mask = make([]uint64, len(x.methods)*x.words)
	}
	for _, m := range r.methods {
		mi := x.methods[m]
		mask[mi*x.words+r.subject/64] |= 1 << (uint(r.subject) % 64)
	}
	return mask
}

// lookup returns the index of a subject in grants that a rule opens method
// on path for, or -1. path must be canonical; self1 and self2 are the
// caller's own username and id.
func (x *index) lookup(method, path string, grants bitset, self1, self2 string) int {
	return x.lookupScoped(method, path, grants, nil, self1, self2)
}

// query is one lookup's request and caller, shared by the whole walk.
type query struct {
	mi           int               // method index
	g            bitset            // what the caller reaches everywhere
	scoped       map[string]bitset // what the caller reaches per workspace; nil for none
	self1, self2 string            // the caller's own username and id
}

// lookupScoped is lookup for a caller that also holds roles in some
// workspaces: below a {workspace} segment, a rule opens the path for a
// subject in grants or in scoped[W], W being the path's segment there.
func (x *index) lookupScoped(method, path string, grants bitset, scoped map[string]bitset, self1, self2 string) int {
	mi, ok := x.methods[decisionMethod(method)]
	if !ok || len(path) == 0 || path[0] != '/' {
		return -1
	}
	q := query{mi: mi, g: grants, scoped: scoped, self1: self1, self2: self2}
	return x.walk(&x.root, path[1:], &q, nil)
}

// walk matches rest, the path after a '/', below n. ws is what the caller
// reaches in the workspace that a {workspace} segment above n captured
// (nil when none did, or when the caller holds no role there).
func (x *index) walk(n *node, rest string, q *query, ws bitset) int {
	if n.star != nil {
		if s := x.first(n.star, q.mi, q.g, ws); s >= 0 {
			return s
		}
	}
	seg, tail, more := strings.Cut(rest, "/")
	if c := n.lit[seg]; c != nil {
		if s := x.next(c, tail, more, q, ws); s >= 0 {
			return s
		}
	}
	if seg == "" {
		return -1
	}
	if n.self != nil && (seg == q.self1 || seg == q.self2) {
		if s := x.next(n.self, tail, more, q, ws); s >= 0 {
			return s
		}
	}
	if n.ws != nil {
		var in bitset
		if q.scoped != nil {
			in = q.scoped[seg]
		}
		if s := x.next(n.ws, tail, more, q, in); s >= 0 {
			return s
		}
	}
	if n.param != nil {
		return x.next(n.param, tail, more, q, ws)
	}
	return -1
}

func (x *index) next(c *node, tail string, more bool, q *query, ws bitset) int {
	if more {
		return x.walk(c, tail, q, ws)
	}
	return x.first(c.end, q.mi, q.g, ws)
}

// first returns the lowest subject index set in mask (for method mi) and
// in g or ws (nil for none), or -1.
func (x *index) first(mask []uint64, mi int, g, ws bitset) int {
	if mask == nil {
		return -1
	}
	m := mask[mi*x.words : (mi+1)*x.words]
	for w := range m {
		gw := g[w]
		if ws != nil {
			gw |= ws[w]
		}
		if v := m[w] & gw; v != 0 {
			return w*64 + bits.TrailingZeros64(v)
		}
	}
	return -1
}

// explain returns the first rule of subject si that opens method on path.
func (x *index) explain(si int, method, path, self1, self2 string) (Line, bool) {
	m := decisionMethod(method)
	for _, r := range x.rules {
		if r.subject != si || !r.pat.match(path, self1, self2) {
			continue
		}
		for _, rm := range r.methods {
			if rm == m {
				return r.line, true
			}
		}
	}
	return Line{}, false
}

// explainScoped returns the first rule of subject si that opens method on
// path through the caller's roles in the path's workspace (scoped), and
// that workspace.
func (x *index) explainScoped(si int, method, path, self1, self2 string, scoped map[string]bitset) (Line, string, bool) {
	m := decisionMethod(method)
	for _, r := range x.rules {
		if r.subject != si || !r.pat.match(path, self1, self2) || !slices.Contains(r.methods, m) {
			continue
		}
		if w := r.pat.workspace(path); w != "" && scoped[w] != nil && scoped[w].has(si) {
			return r.line, w, true
		}
	}
	return Line{}, "", false
}
