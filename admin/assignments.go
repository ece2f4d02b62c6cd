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
	User string `json:"user,omitempty"`
	Team string `json:"team,omitempty"`
	Role string `json:"role"`
	// Workspace is, for a workspace-scoped assignment (a g2 line), the
	// workspace the role holds in; "" for a global one.
	Workspace string `json:"workspace,omitempty"`
	Source    string `json:"source"`
	// Warnings says, in the answer to an assignment only, why it may not
	// do what its maker expects (a workspace role that opens no route
	// bound to a workspace); an assignment with warnings is still made.
	Warnings []string `json:"warnings,omitempty"`
}

// WorkspaceRole is a role held in one workspace (a g2 line), as a user's
// or a team's view shows it.
type WorkspaceRole struct {
	Role      string `json:"role"`
	Workspace string `json:"workspace"`
}

// workspaceRoles returns the workspace roles sub holds directly.
func (s *Service) workspaceRoles(sub string) []WorkspaceRole {
	var out []WorkspaceRole
	for _, p := range s.eng.ScopedRoles(sub) {
		out = append(out, WorkspaceRole{Role: p[0], Workspace: p[1]})
	}
	return out
}

// checkWorkspace refuses a workspace name that cannot be one ("" is no
// workspace: a global assignment).
func checkWorkspace(ws string) error {
	if ws != "" {
		return checkName("workspace", ws)
	}
	return nil
}

// unboundWarning is the warning of an assignment of role in a workspace
// when role opens no route bound to a workspace.
func unboundWarning(role string) string {
	return "role " + role + " reaches no route bound to a workspace ({workspace} in a policy path), so this assignment allows nothing"
}

// ListAssignments returns role assignments of users and teams, global and
// workspace-scoped, filtered by user, role, team and workspace name when
// they are not empty (a workspace filter keeps the assignments in that
// workspace only). The user filter lists
// the user's direct assignments only (not those through a team); user and
// team together are refused. An unknown user, role or team is ErrNotFound,
// so that a typo in a filter does not read as "nobody holds it".
func (s *Service) ListAssignments(ctx context.Context, user, role, team, workspace string) ([]Assignment, error) {
	if user != "" && team != "" {
		return nil, fieldErr("team", "give user or team, not both")
	}
	if err := checkWorkspace(workspace); err != nil {
		return nil, err
	}
	user, err := s.assignmentFilters(ctx, user, role, team)
	if err != nil {
		return nil, err
	}
	out := []Assignment{}
	for _, l := range slices.Concat(s.eng.Groupings(), s.eng.ScopedGroupings()) {
		a, ok := assignmentOf(l)
		if !ok || (user != "" && a.User != user) || (team != "" && a.Team != team) || (role != "" && a.Role != role) ||
			(workspace != "" && a.Workspace != workspace) {
			continue
		}
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b Assignment) int {
		return cmp.Or(cmp.Compare(a.Team, b.Team), strings.Compare(a.User, b.User), strings.Compare(a.Role, b.Role),
			strings.Compare(a.Workspace, b.Workspace))
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
// role, and a g2 line as a user's or a team's role in a workspace. A team
// membership (g, user:U, team:T) is not one.
func assignmentOf(l policy.Line) (Assignment, bool) {
	child, role := l.Fields[0], l.Fields[1]
	if strings.HasPrefix(role, policy.TeamPrefix) {
		return Assignment{}, false
	}
	a := Assignment{Role: role, Source: l.Origin()}
	if l.Ptype == "g2" {
		a.Workspace = l.Fields[2]
	}
	if name, ok := strings.CutPrefix(child, policy.UserPrefix); ok {
		a.User = name
		return a, true
	}
	if name, ok := strings.CutPrefix(child, policy.TeamPrefix); ok {
		a.Team = name
		return a, true
	}
	return Assignment{}, false
}

// Assign gives a user a role: everywhere when workspace is "", else in
// that workspace only (a g2 line). A workspace role that opens no route
// bound to a workspace is assigned, with a warning.
func (s *Service) Assign(ctx context.Context, user, role, workspace string) (Assignment, error) {
	if err := checkWorkspace(workspace); err != nil {
		return Assignment{}, err
	}
	var out Assignment
	err := s.update(ctx, func(c *tx) error {
		u, err := s.findUser(c.DB(), user)
		if err != nil {
			return err
		}
		if err := s.addRole(ctx, c, "user", u.Username, policy.UserSubject(u.Username), role, workspace); err != nil {
			return err
		}
		out = Assignment{User: u.Username, Role: role, Workspace: workspace, Source: policy.OriginDatabase}
		return nil
	})
	return s.warn(out), err
}

// warn adds to a made assignment a's answer the warnings it deserves.
func (s *Service) warn(a Assignment) Assignment {
	if a.Workspace != "" && !s.eng.WorkspaceBound(a.Role) {
		a.Warnings = append(a.Warnings, unboundWarning(a.Role))
	}
	return a
}

// addRole gives the subject sub (a kind such as "user", called name) the
// role in c, in workspace unless it is "": the role must exist, and sub
// must not hold it directly (in that workspace) yet.
func (s *Service) addRole(ctx context.Context, c *tx, kind, name, sub, role, workspace string) error {
	if ok, err := s.roleExistsTx(c.DB(), role); err != nil {
		return err
	} else if !ok {
		return notFoundf("role %s not found", quote(role))
	}
	ptype, fields := assignmentLine(sub, role, workspace)
	if l, ok := s.eng.Source(ptype, fields...); ok {
		if workspace != "" {
			return conflictf("%s %q already has role %q in workspace %q (%s)", kind, name, role, workspace, l.Origin())
		}
		return conflictf("%s %q already has role %q (%s)", kind, name, role, l.Origin())
	}
	target := name
	if kind != "user" {
		target = sub
	}
	c.auditChange(ctx, "role.assign", target, sub, sub)
	c.Add(ptype, fields...)
	return nil
}

// assignmentLine returns the policy line of sub holding role: a g line,
// or in a workspace a g2 line.
func assignmentLine(sub, role, workspace string) (string, []string) {
	if workspace != "" {
		return "g2", []string{sub, role, workspace}
	}
	return "g", []string{sub, role}
}

// inWorkspace is the end of a message about a role held in workspace.
func inWorkspace(workspace string) string {
	if workspace == "" {
		return ""
	}
	return " in workspace " + quote(workspace)
}

// Revoke takes a role from a user: a global one when workspace is "",
// else the one held in that workspace. The last active admin keeps admin
// (a workspace role never makes a Gatehouse admin).
func (s *Service) Revoke(ctx context.Context, user, role, workspace string) error {
	if err := checkWorkspace(workspace); err != nil {
		return err
	}
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
		ptype, fields := assignmentLine(policy.UserSubject(u.Username), role, workspace)
		err = c.Remove(ptype, fields...)
		if err := revokeErr(err, "user %q does not have role %s%s", u.Username, quote(role), inWorkspace(workspace)); err != nil {
			return err
		}
		if workspace != "" {
			return nil
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
