package policy

import "strings"

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

// validSubject reports whether s is a name, a user subject or an identity
// provider's group.
func validSubject(s string) bool {
	if name, ok := strings.CutPrefix(s, UserPrefix); ok {
		return ValidName(name)
	}
	if name, ok := strings.CutPrefix(s, OIDCPrefix); ok {
		return ValidName(name)
	}
	return ValidName(s)
}
