package policy

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// chainsOf renders Chains as "perm: a > b > c" lines, "(public)" marked.
func chainsOf(cs []Chain) []string {
	var out []string
	for _, c := range cs {
		s := c.Permission + ": " + strings.Join(c.Via, " > ")
		if c.Public {
			s += " (public)"
		}
		out = append(out, s)
	}
	return out
}

func TestChains(t *testing.T) {
	csv := `
p, read,   /*,               GET
p, write,  /*,               POST
p, me,     /users/{self},    PUT
p, public, /health,          GET
p, status, /status,          GET
g, admin,  read
g, admin,  write
g, admin,  me
g, editor, write
g, guest,  read
g, public, status
g, user:bob, team:ml
g, team:ml,  editor
g, user:bob, oidc:eng
g, oidc:eng, guest
g, user:bob, admin
g, user:cy,  guest
`
	e := newTestEngine(t, nil, testFiles(t, "", csv))
	got := chainsOf(e.Chains(UserSubject("bob")))
	want := []string{
		// One hop: admin's permissions (parents in name order); write also comes through the
		// team and read through the group, but two hops away.
		"me: user:bob > admin > me",
		"read: user:bob > admin > read",
		"write: user:bob > admin > write",
		"public: user:bob > public (public)",
		"status: user:bob > public > status (public)",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Chains(bob) =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	got = chainsOf(e.ChainsThrough(UserSubject("bob"), "team:ml"))
	if want := []string{"write: user:bob > team:ml > editor > write"}; !slices.Equal(got, want) {
		t.Fatalf("ChainsThrough(bob, team:ml) = %q, want %q", got, want)
	}
	got = chainsOf(e.ChainsThrough(UserSubject("bob"), "guest"))
	if want := []string{"read: user:bob > oidc:eng > guest > read"}; !slices.Equal(got, want) {
		t.Fatalf("ChainsThrough(bob, guest) = %q, want %q", got, want)
	}
	if got := e.ChainsThrough(UserSubject("cy"), "team:ml"); len(got) != 0 {
		t.Fatalf("a non-member has chains through the team: %v", got)
	}
	got = chainsOf(e.Chains(Public))
	if want := []string{"public: public", "status: public > status"}; !slices.Equal(got, want) {
		t.Fatalf("Chains(public) = %q, want %q", got, want)
	}
}

// TestChainsCountHopsAsDecide: a permission maxHops g lines away is
// listed and allowed; one more hop is neither.
func TestChainsCountHopsAsDecide(t *testing.T) {
	var b strings.Builder
	b.WriteString(string(defaultPolicy) + "\np, far, /far, GET\np, farther, /farther, GET\n")
	// user:u > r1 > … > r(maxHops-1) > far: maxHops g lines.
	fmt.Fprintf(&b, "g, user:u, r1\n")
	for i := 1; i < maxHops-1; i++ {
		fmt.Fprintf(&b, "g, r%d, r%d\n", i, i+1)
	}
	fmt.Fprintf(&b, "g, r%d, far\ng, far, farther\n", maxHops-1)
	e := newTestEngine(t, nil, testFiles(t, "", b.String()))
	cs := e.Chains(UserSubject("u"))
	if len(cs) != 1 || cs[0].Permission != "far" || len(cs[0].Via) != maxHops+1 {
		// The user holds no built-in role: far is all it reaches.
		t.Fatalf("Chains = %v, want far only, %d hops", chainsOf(cs), maxHops)
	}
	for path, want := range map[string]bool{"/far": true, "/farther": false} {
		if d, _ := e.Decide(UserSubject("u"), "u", "u", "GET", path); d.Allowed != want {
			t.Fatalf("Decide GET %s = %v, want %v", path, d.Allowed, want)
		}
	}
	// Through r2, far is still maxHops away; through far, farther is not.
	if cs := e.ChainsThrough(UserSubject("u"), "r2"); len(cs) != 1 {
		t.Fatalf("ChainsThrough(r2) = %v", chainsOf(cs))
	}
	if cs := e.ChainsThrough(UserSubject("u"), "far"); len(cs) != 1 || cs[0].Permission != "far" {
		t.Fatalf("ChainsThrough(far) = %v", chainsOf(cs))
	}
}

// TestScopedChains: the chains through workspace roles name the g2
// line's subject and role, carry the workspace, and are filtered through
// a subject on either side of the g2 line; WorkspaceBound,
// ScopedGroupings, ScopedRoles and Explain's Workspace agree.
func TestScopedChains(t *testing.T) {
	e := scopedEngine(t, "g2, user:bob, editor, ws-a\ng, user:tom, team:ml\ng2, team:ml, editor, ws-b\ng, reporter, me\ng2, team:ml, reporter, ws-b\np, me, /api/v1/current-user, GET\n")
	render := func(cs []Chain) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.Permission+"@"+c.Workspace+": "+strings.Join(c.Via, " > "))
		}
		return out
	}
	for _, c := range []struct {
		sub, mid string
		want     []string
	}{
		{"user:bob", "", []string{"read@ws-a: user:bob > editor > read", "write@ws-a: user:bob > editor > write"}},
		{"user:tom", "", []string{"read@ws-b: user:tom > team:ml > editor > read", "write@ws-b: user:tom > team:ml > editor > write",
			"me@ws-b: user:tom > team:ml > reporter > me"}},
		{"user:tom", "team:ml", []string{"read@ws-b: user:tom > team:ml > editor > read", "write@ws-b: user:tom > team:ml > editor > write",
			"me@ws-b: user:tom > team:ml > reporter > me"}},
		{"user:tom", "reporter", []string{"me@ws-b: user:tom > team:ml > reporter > me"}},
		{"user:bob", "team:ml", nil},
		{"user:ann", "", nil},
	} {
		if got := render(e.ScopedChainsThrough(c.sub, c.mid)); !slices.Equal(got, c.want) {
			t.Errorf("ScopedChainsThrough(%s, %q) = %q, want %q", c.sub, c.mid, got, c.want)
		}
	}
	if !e.WorkspaceBound("editor") || e.WorkspaceBound("reporter") || e.WorkspaceBound("nope") {
		t.Error("WorkspaceBound: editor opens {workspace} routes, reporter and nope do not")
	}
	if ls := e.ScopedGroupings(); len(ls) != 3 || ls[0].String() != "g2, user:bob, editor, ws-a" || ls[0].Origin() != "policy.csv:9" {
		t.Errorf("ScopedGroupings = %v", ls)
	}
	if rs := e.ScopedRoles("team:ml"); !slices.Equal(rs, [][2]string{{"editor", "ws-b"}, {"reporter", "ws-b"}}) {
		t.Errorf("ScopedRoles(team:ml) = %v", rs)
	}
	if d, _ := e.Explain("user:tom", "tom", "tom", "GET", "/api/v1/workspaces/ws-b/runs"); !d.Allowed || d.Workspace != "ws-b" {
		t.Errorf("Explain in ws-b = %+v, want the workspace", d)
	}
}
