package policy

import (
	"slices"
	"strings"
)

// Subject kinds, in the order a diff reports them.
const (
	KindAnonymous = "anonymous"
	KindRole      = "role" // a role or a permission: any name without a prefix
	// KindPermission is a name without a prefix that holds nothing and
	// that no other subject reaches on one side: a permission (or role)
	// that only the database's g lines could give (see diffSubjects).
	KindPermission = "permission"
	KindTeam       = "team"
	KindGroup      = "group" // an identity provider's group, oidc:GROUP
	KindUser       = "user"
)

var kindOrder = []string{KindAnonymous, KindRole, KindPermission, KindTeam, KindGroup, KindUser}

// Subject is who a diff decides for.
type Subject struct {
	Kind string
	// Name is the subject as policy lines name it: "guest", "team:ml",
	// "user:gus"; "" for anonymous callers.
	Name string
}

// String names the subject: "anonymous" for anonymous callers.
func (s Subject) String() string {
	if s.Kind == KindAnonymous {
		return KindAnonymous
	}
	return s.Name
}

// Label names the subject for people: "anonymous", or its kind and its
// name without the prefix ("role guest", "user gus", "team ml").
func (s Subject) Label() string {
	if s.Kind == KindAnonymous {
		return KindAnonymous
	}
	return s.Kind + " " + s.self()
}

// self is the name {self} matches when the subject decides: a user's own
// name, a team's or group's name, a role's name (as for a member of the
// role whose name it is); nothing for anonymous callers.
func (s Subject) self() string {
	if _, name, ok := strings.Cut(s.Name, ":"); ok {
		return name
	}
	return s.Name
}

func subjectOf(name string) (Subject, bool) {
	switch {
	case name == "" || name == Public:
		return Subject{}, false
	case strings.HasPrefix(name, UserPrefix):
		return Subject{Kind: KindUser, Name: name}, true
	case strings.HasPrefix(name, TeamPrefix):
		return Subject{Kind: KindTeam, Name: name}, true
	case strings.HasPrefix(name, OIDCPrefix):
		return Subject{Kind: KindGroup, Name: name}, true
	}
	return Subject{Kind: KindRole, Name: name}, true
}

func compareSubjects(a, b Subject) int {
	if c := slices.Index(kindOrder, a.Kind) - slices.Index(kindOrder, b.Kind); c != 0 {
		return c
	}
	return strings.Compare(a.Name, b.Name)
}

// diffSubjects returns the subjects either side names, sorted: every
// role (a name without a prefix that holds a role or permission through a
// g line), and every user, team and group (oidc:GROUP) that a line or a
// tests.yaml names. A permission that holds nothing is no subject of its
// own when one of these reaches it: what it opens is decided for the
// roles and users that hold it, so renaming it alike everywhere changes
// nothing. A name that a p line grants to, or that a g or g2 line makes a
// parent, and that none of them reaches on a side (a permission only the
// database's g lines give, a custom model's role no listed user holds) is
// a subject of its own, of kind permission, so that what changes for it
// is reported. public is left out: anonymous callers are decided as
// public.
func diffSubjects(sides [2]diffSide) []Subject {
	seen := map[Subject]bool{}
	add := func(name string, roleToo bool) {
		if s, ok := subjectOf(name); ok && (roleToo || s.Kind != KindRole) {
			seen[s] = true
		}
	}
	for _, side := range sides {
		for _, l := range side.lines() {
			if len(l.Fields) < 2 {
				continue
			}
			add(l.Fields[0], l.Ptype == "g" && len(l.Fields) == 2)
			if l.Ptype[0] == 'g' {
				add(l.Fields[1], false)
			}
		}
		if side.Suite != nil {
			for _, t := range side.Suite.Teams {
				add(TeamSubject(t.Name), false)
			}
			for _, u := range side.Suite.Users {
				add(UserSubject(u.Name), false)
			}
		}
	}
	listed := make([]string, 0, len(seen))
	for s := range seen {
		listed = append(listed, s.Name)
	}
	for _, side := range sides {
		for _, name := range side.unreached(listed) {
			if s, ok := subjectOf(name); ok && s.Kind == KindRole {
				seen[Subject{Kind: KindPermission, Name: name}] = true
			}
		}
	}
	out := make([]Subject, 0, len(seen))
	for s := range seen {
		out = append(out, s)
	}
	slices.SortFunc(out, compareSubjects)
	return out
}

// unreached returns the names the side's p lines grant to and its g and
// g2 lines make parents that none of from reaches through the side's g
// and g2 lines (a workspace's role counted as reached).
func (s diffSide) unreached(from []string) []string {
	parents := map[string][]string{}
	var named []string
	for _, l := range s.lines() {
		if len(l.Fields) < 2 {
			continue
		}
		switch {
		case l.Ptype == "p":
			named = append(named, l.Fields[0])
		case l.Ptype[0] == 'g':
			parents[l.Fields[0]] = append(parents[l.Fields[0]], l.Fields[1])
			named = append(named, l.Fields[1])
		}
	}
	reached := map[string]bool{}
	stack := slices.Clone(from)
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if reached[n] {
			continue
		}
		reached[n] = true
		stack = append(stack, parents[n]...)
	}
	var out []string
	for _, n := range named {
		if !reached[n] {
			reached[n] = true // once
			out = append(out, n)
		}
	}
	return out
}
