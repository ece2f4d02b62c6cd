package policy

import (
	"fmt"
	"strings"
)

// Reserved subjects and prefixes.
const (
	// Public is the reserved role whose rules apply to every request, with or
	// without a token. An anonymous request is decided as this subject.
	Public = "public"
	// UserPrefix namespaces users among the subjects of g lines, so that a
	// user named like a role or permission ("admin", "write") gains nothing.
	UserPrefix = "user:"
	// OIDCPrefix namespaces an identity provider's groups: a policy line
	// "g, oidc:GROUP, ROLE" gives the group's members ROLE, and a user's
	// current groups are recorded as "g, user:NAME, oidc:GROUP".
	OIDCPrefix = "oidc:"
	// TeamPrefix namespaces teams: "g, user:NAME, team:TEAM" makes a user a
	// member, and "g, team:TEAM, ROLE" gives every member ROLE. A team's
	// members are users only, and a team holds roles only.
	TeamPrefix = "team:"
	// MaxNameLen bounds user, role and permission names.
	MaxNameLen = 64
)

// The built-in roles and permissions: defined here and nowhere else.
const (
	// RoleAdmin is the administrators' role; it always keeps every
	// built-in permission.
	RoleAdmin = "admin"
	// RoleGuest is the role of new users unless --default-role says
	// otherwise.
	RoleGuest = "guest"
	// PermRead, PermWrite and PermMe are the built-in permissions:
	// reading, changing, and one's own account.
	PermRead  = "read"
	PermWrite = "write"
	PermMe    = "me"
)

// BuiltinPermissions returns the built-in permissions, in their order of
// listing; the caller owns the slice.
func BuiltinPermissions() []string { return []string{PermRead, PermWrite, PermMe} }

// UserSubject returns the policy subject of the user with the given name.
func UserSubject(username string) string { return UserPrefix + username }

// ValidName reports whether s is a valid user, role or permission name:
// 1 to MaxNameLen characters out of [A-Za-z0-9._@-]. Nothing else can be
// injected into a policy line through a name.
func ValidName(s string) bool {
	if s == "" || len(s) > MaxNameLen || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '@' || c == '-') {
			return false
		}
	}
	return true
}

// Truncate shortens an untrusted name for logs: at most MaxNameLen bytes.
func Truncate(s string) string {
	if len(s) <= MaxNameLen {
		return s
	}
	return s[:MaxNameLen] + "…"
}

// OIDCGroup returns the policy subject of an identity provider's group.
func OIDCGroup(group string) string { return OIDCPrefix + group }

// TeamSubject returns the policy subject of the team with the given name.
func TeamSubject(team string) string { return TeamPrefix + team }

// validSubject reports whether s is a name, a user subject, an identity
// provider's group or a team.
func validSubject(s string) bool {
	for _, prefix := range []string{UserPrefix, OIDCPrefix, TeamPrefix} {
		if name, ok := strings.CutPrefix(s, prefix); ok {
			return ValidName(name)
		}
	}
	return ValidName(s)
}

// edgeProblem says what is wrong with the g line "g, child, parent" under
// the default model, or "" when nothing is: users are never roles, and a
// team sits between users and roles only (its members are users, it holds
// roles), so that a team can neither nest nor be handed out as a role.
func edgeProblem(child, parent string) string {
	switch {
	case strings.HasPrefix(parent, UserPrefix):
		return fmt.Sprintf("%q cannot be a role: users are not roles", parent)
	case strings.HasPrefix(parent, TeamPrefix) && !strings.HasPrefix(child, UserPrefix):
		return fmt.Sprintf("%q cannot be a member of %q: a team's members are users (g, user:NAME, %s)", child, parent, parent)
	case strings.HasPrefix(child, TeamPrefix) && strings.HasPrefix(parent, OIDCPrefix):
		return fmt.Sprintf("%q cannot hold %q: a team holds roles (g, %s, ROLE)", child, parent, child)
	}
	return ""
}
