package policy

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// builtinNames are the names every policy knows, whether or not its lines
// name them: the admin role, the built-in permissions and the role of
// every request.
var builtinNames = append([]string{RoleAdmin}, append(BuiltinPermissions(), Public)...)

// Names is the set of role and permission names a policy's files define,
// used to catch typos: a g line whose parent no line defines, a role given
// to a test user or to policy check.
type Names struct {
	set map[string]bool
}

// Names returns the names f defines: the built-in names, every subject of
// a 2-value g line (a role: it is given a role or permission) and every
// subject of a p line (a permission, or a role with rules of its own).
// Under a custom model a p line's subject may be any of its values (a
// priority model puts it second), so every value counts. Users (user:NAME),
// an IdP's groups (oidc:NAME) and teams (team:NAME) are not names. Roles made through the admin API live in the database
// only, so they are not among them.
func (f *Files) Names() Names {
	n := Names{set: map[string]bool{}}
	for _, b := range builtinNames {
		n.set[b] = true
	}
	fast := isDefaultModel(f.Model)
	for _, l := range f.Lines {
		var values []string
		switch {
		case l.Ptype == "g" && len(l.Fields) == 2:
			values = l.Fields[:1]
		case strings.HasPrefix(l.Ptype, "p") && fast:
			values = l.Fields[:min(1, len(l.Fields))]
		case strings.HasPrefix(l.Ptype, "p"):
			values = l.Fields
		}
		for _, v := range values {
			if !strings.HasPrefix(v, UserPrefix) && !strings.HasPrefix(v, OIDCPrefix) && !strings.HasPrefix(v, TeamPrefix) {
				n.set[v] = true
			}
		}
	}
	return n
}

// Has reports whether name is defined.
func (n Names) Has(name string) bool { return n.set[name] }

// Closest returns the defined name nearest to name, for a "did you mean"
// hint: at most one edit in four (an insertion, a deletion, a change or
// two neighbours swapped), and at least one. Of equally near names the
// first in sort order is returned. ok is false when none is near enough.
func (n Names) Closest(name string) (closest string, ok bool) {
	limit := max(1, len(name)/4)
	best := limit + 1
	for known := range n.set {
		d := EditDistance(name, known)
		if d < best || d == best && known < closest {
			closest, best = known, d
		}
	}
	return closest, best <= limit
}

// Hint returns "; did you mean "X"?" for the defined name nearest to name,
// or "" when none is near.
func (n Names) Hint(name string) string {
	if c, ok := n.Closest(name); ok {
		return fmt.Sprintf("; did you mean %q?", c)
	}
	return ""
}

// EditDistance is the optimal string alignment distance of a and b: the
// insertions, deletions, changes and swaps of neighbours that turn a into
// b ("raed" is one swap from "read"). Names are ASCII, so bytes do. The
// CLI's did-you-mean for flags uses it too.
func EditDistance(a, b string) int {
	// prev2, prev and cur are the rows i-2, i-1 and i of the table.
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

// ErrUnknownName means a g line gives a role or permission that no line of
// the policy files defines.
var ErrUnknownName = errors.New("unknown role or permission")

// place is a file and line number.
type place struct {
	file string
	num  int
}

// unknownParents reports each 2-value g line whose parent the files do
// not define (see Files.Names): a typo such as "g, guest, raed" would
// otherwise load and grant nothing. Lines that reported holds a problem
// of are left to that problem. It is a check of the files only, never of
// a running server: a file line may name a role made through the admin
// API, which lives in the database.
func unknownParents(f *Files, reported []error) []error {
	skip := map[place]bool{}
	for _, err := range reported {
		var le *LineError
		if errors.As(err, &le) && le.Num > 0 {
			skip[place{le.File, le.Num}] = true
		}
	}
	names := f.Names()
	fast := isDefaultModel(f.Model)
	var errs []error
	for _, l := range f.Lines {
		scoped := l.Ptype == "g2" && len(l.Fields) == 3 && fast // a role held in a workspace
		if (l.Ptype != "g" || len(l.Fields) != 2) && !scoped || skip[place{l.File, l.Num}] {
			continue
		}
		parent := l.Fields[1]
		if names.Has(parent) || !validSubject(parent) || strings.HasPrefix(parent, UserPrefix) ||
			strings.HasPrefix(parent, OIDCPrefix) || strings.HasPrefix(parent, TeamPrefix) {
			continue
		}
		hint := names.Hint(parent)
		if hint == "" {
			hint = "; define it (a p line, or a g line giving it a role or permission) or fix the name"
		}
		errs = append(errs, &LineError{File: l.File, Num: l.Num, Err: ErrUnknownName, Msg: fmt.Sprintf(
			"%v %q: no p line names it, no g line gives it a role or permission, and it is not built in (%s)%s",
			ErrUnknownName, parent, strings.Join(builtinNames, ", "), hint)})
	}
	return errs
}

// UnknownRoles reports each role a team or user fixture holds that the
// policy files f do not define (see Files.Names), on the team's or user's
// line: a misspelt role would hold nothing, and a deny case of that user
// (or of the team's members) would pass.
func (s *Suite) UnknownRoles(f *Files) []error {
	names := f.Names()
	var errs []error
	for _, t := range s.Teams {
		for _, r := range slices.Concat(t.Roles, scopedRoleNames(t.Scoped)) {
			if !names.Has(r) {
				errs = append(errs, &LineError{File: s.File, Num: t.Line, Err: ErrUnknownName, Msg: fmt.Sprintf(
					"team %s: %v %q: the policy files do not define it%s", t.Name, ErrUnknownName, r, names.Hint(r))})
			}
		}
	}
	for _, u := range s.Users {
		for _, r := range slices.Concat(u.Roles, scopedRoleNames(u.Scoped)) {
			if !names.Has(r) {
				errs = append(errs, &LineError{File: s.File, Num: u.Line, Err: ErrUnknownName, Msg: fmt.Sprintf(
					"user %s: %v %q: the policy files do not define it%s", u.Name, ErrUnknownName, r, names.Hint(r))})
			}
		}
	}
	return errs
}

// scopedRoleNames returns the roles of a fixture's workspace roles.
func scopedRoleNames(sc [][2]string) []string {
	out := make([]string, len(sc))
	for i, p := range sc {
		out[i] = p[0]
	}
	return out
}
