package policy

import "slices"

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
