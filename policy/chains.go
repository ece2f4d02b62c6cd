package policy

import (
	"slices"
	"strings"
)

// Chain is one permission a subject reaches and the subjects through which
// it reaches it: the answer to "why may this subject do that".
type Chain struct {
	// Permission is the subject of the p lines reached: a permission such
	// as "write", or any other subject that has p lines of its own (a
	// role, or "public"). It is what Decision.Permission names when one
	// of those lines decides a request.
	Permission string
	// Via is the chain of subjects from the subject asked about to
	// Permission, both included: ["user:bob", "team:ml", "editor",
	// "write"]. A subject that has p lines itself gives Via [sub].
	Via []string
	// Public marks a permission the subject reaches only through the
	// reserved role public, which every subject implicitly is a member of
	// without a g line: Via then reads [sub, "public", …, Permission], and
	// is [sub, "public"] for public's own p lines.
	Public bool
	// Workspace is, for a chain through a workspace-scoped role (a g2
	// line), the workspace the permission holds in; "" means every
	// workspace. In such a chain one hop of Via is the g2 line: from its
	// subject (sub, or a team or group sub reaches) to its role.
	Workspace string
}

// Chains returns every permission sub reaches, each once, with the
// shortest chain of g lines through which sub reaches it; among chains of
// the same length the first found wins, walking breadth first with each
// subject's parents in name order. Hops are counted as the decision path
// counts them (at most maxHops g lines from sub, and from public for what
// public reaches, with no hop for sub's implicit membership of public), so
// a permission is listed exactly when Decide may decide through it.
// Permissions sub reaches through g lines come first, in breadth-first
// order, then those it reaches only through public (marked Public).
//
// Under a custom model the permissions are the first fields of the p lines
// and the chains are what the model's g lines give; whether a request is
// allowed is still for Decide to say.
func (e *Engine) Chains(sub string) []Chain {
	return e.ChainsThrough(sub, "")
}

// ChainsThrough is Chains restricted to the chains that pass through mid
// (a role or a team): each permission mid reaches, when sub reaches mid and
// the shortest chain sub → mid → permission is within maxHops. The chain
// is the shortest one through mid, which may be longer than sub's shortest
// chain to the permission. An empty mid means every chain (Chains).
func (e *Engine) ChainsThrough(sub, mid string) []Chain {
	s := e.snap.Load()
	e.mu.RLock()
	defer e.mu.RUnlock()
	isPerm := e.permissionTest(s)
	var out []Chain
	seen := map[string]bool{}
	add := func(prefix []string, t *walkTree, public bool) {
		for _, n := range t.order {
			if isPerm(n) && !seen[n] {
				seen[n] = true
				out = append(out, Chain{Permission: n, Via: append(slices.Clone(prefix), t.path(n)...), Public: public})
			}
		}
	}
	starts := []string{sub}
	if sub != Public {
		starts = append(starts, Public)
	}
	for _, start := range starts {
		public := start != sub
		var prefix []string
		if public {
			prefix = []string{sub}
		}
		t := walk(e.parents, start, maxHops)
		if mid == "" {
			add(prefix, t, public)
			continue
		}
		d, ok := t.depth[mid]
		if !ok {
			continue
		}
		p := t.path(mid)
		add(append(prefix, p[:len(p)-1]...), walk(e.parents, mid, maxHops-d), public)
	}
	return out
}

// permissionTest returns whether a subject has p lines in force. Callers
// hold mu.
func (e *Engine) permissionTest(s *snapshot) func(string) bool {
	if s.x != nil {
		return func(n string) bool { _, ok := s.x.subject[n]; return ok }
	}
	perms := map[string]bool{}
	for _, l := range ruleLines(e.files, e.fileKey, e.dbKey) {
		perms[l.Fields[0]] = true
	}
	return func(n string) bool { return perms[n] }
}

// walkTree is a breadth-first walk up the g lines from one subject.
type walkTree struct {
	order []string          // subjects in the order found, the start first
	prev  map[string]string // subject → the subject it was found from
	depth map[string]int    // subject → hops from the start
}

// walk walks parents from start for at most hops g lines, as closure does,
// taking each subject's parents in name order so that the chains it
// gives do not depend on the order lines were loaded in.
func walk(parents map[string][]string, start string, hops int) *walkTree {
	t := &walkTree{order: []string{start}, prev: map[string]string{}, depth: map[string]int{start: 0}}
	frontier := []string{start}
	for hop := 0; hop < hops && len(frontier) > 0; hop++ {
		var next []string
		for _, s := range frontier {
			ps := slices.Clone(parents[s])
			slices.Sort(ps)
			for _, p := range ps {
				if _, ok := t.depth[p]; !ok {
					t.depth[p], t.prev[p] = hop+1, s
					t.order = append(t.order, p)
					next = append(next, p)
				}
			}
		}
		frontier = next
	}
	return t
}

// path returns the chain from the walk's start to n, both included.
func (t *walkTree) path(n string) []string {
	out := []string{n}
	for {
		p, ok := t.prev[n]
		if !ok {
			break
		}
		out = append(out, p)
		n = p
	}
	slices.Reverse(out)
	return out
}

// ScopedChainsThrough returns what sub reaches through workspace-scoped
// roles (g2 lines), restricted to chains that pass through mid unless mid
// is "": one Chain per (permission, workspace), Workspace set, Via from
// sub through the g2 line's subject, the g2 line's role, to the
// permission. Hops are counted as the decision path counts them: at most
// maxHops g lines from sub to the g2 line's subject, and, separately, at
// most maxHops from its role to the permission (the g2 line itself is no
// g hop). Chains are found breadth first from sub, each subject's g2
// lines in (role, workspace) order, so the first chain of a pair is a
// shortest one on sub's side.
func (e *Engine) ScopedChainsThrough(sub, mid string) []Chain {
	s := e.snap.Load()
	e.mu.RLock()
	defer e.mu.RUnlock()
	if len(e.scopes) == 0 || sub == Public {
		return nil
	}
	isPerm := e.permissionTest(s)
	var out []Chain
	seen := map[[2]string]bool{}
	// roleSide adds the permissions role reaches (through mid when mid is
	// not "") in ws, after the chain head.
	roleSide := func(head []string, role, ws, mid string) {
		t := walk(e.parents, role, maxHops)
		prefix := head
		if mid != "" {
			d, ok := t.depth[mid]
			if !ok {
				return
			}
			p := t.path(mid)
			prefix = append(slices.Clone(head), p[:len(p)-1]...)
			t = walk(e.parents, mid, maxHops-d)
		}
		for _, n := range t.order {
			if k := [2]string{n, ws}; isPerm(n) && !seen[k] {
				seen[k] = true
				out = append(out, Chain{Permission: n, Workspace: ws, Via: append(slices.Clone(prefix), t.path(n)...)})
			}
		}
	}
	// subjectSide walks from start (hops g lines at most) to the g2
	// lines' subjects, the chain so far being head.
	subjectSide := func(head []string, start string, hops int, roleMid string) {
		t := walk(e.parents, start, hops)
		for _, n := range t.order {
			scs := slices.Clone(e.scopes[n])
			slices.SortFunc(scs, func(a, b scope) int {
				if c := strings.Compare(a.role, b.role); c != 0 {
					return c
				}
				return strings.Compare(a.ws, b.ws)
			})
			for _, sc := range scs {
				roleSide(append(slices.Clone(head), t.path(n)...), sc.role, sc.ws, roleMid)
			}
		}
	}
	if mid == "" {
		subjectSide(nil, sub, maxHops, "")
		return out
	}
	// Through mid on the subject's side: sub → mid → a g2 subject.
	if t := walk(e.parents, sub, maxHops); t.depth[mid] > 0 || mid == sub {
		p := t.path(mid)
		subjectSide(p[:len(p)-1], mid, maxHops-t.depth[mid], "")
	}
	// Through mid on the role's side: a g2 role → mid → the permission.
	subjectSide(nil, sub, maxHops, mid)
	return out
}
