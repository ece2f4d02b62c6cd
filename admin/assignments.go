package admin

import (
	"cmp"
	"context"
	"slices"
	"strings"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// Assignment is a role held by a user or by a team: exactly one of User
// and Team is set.
type Assignment struct {
	User   string `json:"user,omitempty"`
	Team   string `json:"team,omitempty"`
	Role   string `json:"role"`
	Source string `json:"source"`
}

// ListAssignments returns role assignments of users and teams, filtered by
// user, role and team name when they are not empty. The user filter lists
// the user's direct assignments only (not those through a team); user and
// team together are refused. An unknown user, role or team is ErrNotFound,
// so that a typo in a filter does not read as "nobody holds it".
func (s *Service) ListAssignments(ctx context.Context, user, role, team string) ([]Assignment, error) {
	if user != "" && team != "" {
		return nil, fieldErr("team", "give user or team, not both")
	}
	user, err := s.assignmentFilters(ctx, user, role, team)
	if err != nil {
		return nil, err
	}
	out := []Assignment{}
	for _, l := range s.eng.Groupings() {
		a, ok := assignmentOf(l)
		if !ok || (user != "" && a.User != user) || (team != "" && a.Team != team) || (role != "" && a.Role != role) {
			continue
		}
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b Assignment) int {
		return cmp.Or(cmp.Compare(a.Team, b.Team), strings.Compare(a.User, b.User), strings.Compare(a.Role, b.Role))
	})
	return out, nil
}

// assignmentFilters checks ListAssignments' filters and returns the user
// filter as a username (it may name a user by id).
func (s *Service) assignmentFilters(ctx context.Context, user, role, team string) (string, error) {
	db := s.db.WithContext(ctx)
	if user != "" {
		u, err := s.findUser(db, user)
		if err != nil {
			return "", err
		}
		user = u.Username
	}
	if team != "" {
		if _, err := findTeam(db, team); err != nil {
			return "", err
		}
	}
	if ok, err := s.roleExists(role); err != nil {
		return "", err
	} else if role != "" && !ok {
		return "", notFoundf("role %s not found", quote(role))
	}
	return user, nil
}

// assignmentOf reads a g line as an assignment: a user's or a team's
// role. A team membership (g, user:U, team:T) is not one.
func assignmentOf(l policy.Line) (Assignment, bool) {
	child, role := l.Fields[0], l.Fields[1]
	if strings.HasPrefix(role, policy.TeamPrefix) {
		return Assignment{}, false
	}
	if name, ok := strings.CutPrefix(child, policy.UserPrefix); ok {
		return Assignment{User: name, Role: role, Source: l.Origin()}, true
	}
	if name, ok := strings.CutPrefix(child, policy.TeamPrefix); ok {
		return Assignment{Team: name, Role: role, Source: l.Origin()}, true
	}
	return Assignment{}, false
}

// Assign gives a user a role.
func (s *Service) Assign(ctx context.Context, user, role string) (Assignment, error) {
	var out Assignment
	err := s.update(ctx, func(c *tx) error {
		u, err := s.findUser(c.DB(), user)
		if err != nil {
			return err
		}
		if err := s.addRole(ctx, c, "user", u.Username, policy.UserSubject(u.Username), role); err != nil {
			return err
		}
		out = Assignment{User: u.Username, Role: role, Source: policy.OriginDatabase}
		return nil
	})
	return out, err
}

// addRole gives the subject sub (a kind such as "user", called name) the
// role in c: the role must exist, and sub must not hold it directly yet.
func (s *Service) addRole(ctx context.Context, c *tx, kind, name, sub, role string) error {
	if ok, err := s.roleExistsTx(c.DB(), role); err != nil {
		return err
	} else if !ok {
		return notFoundf("role %s not found", quote(role))
	}
	if l, ok := s.eng.Source("g", sub, role); ok {
		return conflictf("%s %q already has role %q (%s)", kind, name, role, l.Origin())
	}
	target := name
	if kind != "user" {
		target = sub
	}
	c.auditChange(ctx, "role.assign", target, sub, sub)
	c.Add("g", sub, role)
	return nil
}

// Revoke takes a role from a user. The last active admin keeps admin.
func (s *Service) Revoke(ctx context.Context, user, role string) error {
	return s.update(ctx, func(c *tx) error {
		u, err := s.findUser(c.DB(), user)
		if err != nil {
			return err
		}
		if strings.HasPrefix(role, policy.TeamPrefix) {
			// A membership is changed through the team, never as a role.
			return notFoundf("role %s not found", quote(role))
		}
		c.auditChange(ctx, "role.revoke", u.Username, policy.UserSubject(u.Username), policy.UserSubject(u.Username))
		err = c.Remove("g", policy.UserSubject(u.Username), role)
		if err := revokeErr(err, "user %q does not have role %s", u.Username, quote(role)); err != nil {
			return err
		}
		if !s.reachesAfter(c, u.Username, policy.RoleAdmin) {
			return s.guardAdmins(c, u)
		}
		return nil
	})
}

// reachesAfter reports whether user still reaches target after c.
func (s *Service) reachesAfter(c *tx, user, target string) bool {
	return slices.Contains(c.Holders(target), policy.UserSubject(user))
}
