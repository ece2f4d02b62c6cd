package admin

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// Assignment is a role held by a user.
type Assignment struct {
	User   string `json:"user"`
	Role   string `json:"role"`
	Source string `json:"source"`
}

// ListAssignments returns role assignments, filtered by user and role name
// when they are not empty. An unknown user or role is ErrNotFound, so that
// a typo in a filter does not read as "nobody holds it".
func (s *Service) ListAssignments(ctx context.Context, user, role string) ([]Assignment, error) {
	if user != "" {
		u, err := s.findUser(s.db.WithContext(ctx), user)
		if err != nil {
			return nil, err
		}
		user = u.Username
	}
	if ok, err := s.roleExists(role); err != nil {
		return nil, err
	} else if role != "" && !ok {
		return nil, notFoundf("role %s not found", quote(role))
	}
	out := []Assignment{}
	for _, l := range s.eng.Groupings() {
		name, ok := strings.CutPrefix(l.Fields[0], policy.UserPrefix)
		if !ok || (user != "" && name != user) || (role != "" && l.Fields[1] != role) {
			continue
		}
		out = append(out, Assignment{User: name, Role: l.Fields[1], Source: l.Origin()})
	}
	slices.SortFunc(out, func(a, b Assignment) int {
		if c := strings.Compare(a.User, b.User); c != 0 {
			return c
		}
		return strings.Compare(a.Role, b.Role)
	})
	return out, nil
}

// Assign gives a user a role.
func (s *Service) Assign(ctx context.Context, user, role string) (Assignment, error) {
	var out Assignment
	err := s.update(ctx, func(c *tx) error {
		u, err := s.findUser(c.DB(), user)
		if err != nil {
			return err
		}
		if ok, err := s.roleExistsTx(c.DB(), role); err != nil {
			return err
		} else if !ok {
			return notFoundf("role %s not found", quote(role))
		}
		sub := policy.UserSubject(u.Username)
		if l, ok := s.eng.Source("g", sub, role); ok {
			return conflictf("user %q already has role %q (%s)", u.Username, role, l.Origin())
		}
		c.auditChange(ctx, "role.assign", u.Username, sub, sub)
		c.Add("g", sub, role)
		out = Assignment{User: u.Username, Role: role, Source: policy.OriginDatabase}
		return nil
	})
	return out, err
}

// Revoke takes a role from a user. The last active admin keeps admin.
func (s *Service) Revoke(ctx context.Context, user, role string) error {
	return s.update(ctx, func(c *tx) error {
		u, err := s.findUser(c.DB(), user)
		if err != nil {
			return err
		}
		c.auditChange(ctx, "role.revoke", u.Username, policy.UserSubject(u.Username), policy.UserSubject(u.Username))
		err = c.Remove("g", policy.UserSubject(u.Username), role)
		var ro *policy.ReadOnlyError
		switch {
		case errors.Is(err, policy.ErrNoLine):
			return notFoundf("user %q does not have role %s", u.Username, quote(role))
		case errors.As(err, &ro):
			return conflictf("%v", err)
		case err != nil:
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
