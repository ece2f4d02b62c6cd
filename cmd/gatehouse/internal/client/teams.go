package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/gatehouse-dev/gatehouse/admin"
)

// The team shapes are the control plane's own, as in api.go. An
// Assignment is a role held by a user (or service account) or by a team:
// exactly one of User and Team is set.
type (
	Team       = admin.Team
	Assignment = admin.Assignment
	// WorkspaceRole is a role held in one workspace.
	WorkspaceRole = admin.WorkspaceRole
)

// AssignmentFilter narrows a list of assignments; an empty field does not
// filter.
type AssignmentFilter struct {
	User, Team, Role, Workspace string
}

// ListAssignments returns the role assignments of users and teams that
// match f.
func (c *Client) ListAssignments(ctx context.Context, f AssignmentFilter) (Result[[]Assignment], error) {
	q := url.Values{}
	for k, v := range map[string]string{"user": f.User, "team": f.Team, "role": f.Role, "workspace": f.Workspace} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return list[Assignment](ctx, c, "/role-assignments", q)
}

// AssignTeam gives a team a role (in workspace, unless ""); its members
// hold it from their next request.
func (c *Client) AssignTeam(ctx context.Context, team, role, workspace string) (Result[Assignment], error) {
	return do[Assignment](ctx, c, http.MethodPost, "/role-assignments", nil, assignmentBody("team", team, role, workspace))
}

// RevokeTeam takes a role (held in workspace, unless "") from a team.
func (c *Client) RevokeTeam(ctx context.Context, team, role, workspace string) error {
	_, err := c.send(ctx, http.MethodDelete, "/role-assignments", assignmentQuery("team", team, role, workspace), nil)
	return err
}

// ListTeams returns every team.
func (c *Client) ListTeams(ctx context.Context) (Result[[]Team], error) {
	return list[Team](ctx, c, "/teams", nil)
}

// CreateTeam creates a team with the given members.
func (c *Client) CreateTeam(ctx context.Context, name string, users []string) (Result[Team], error) {
	if users == nil {
		users = []string{}
	}
	return do[Team](ctx, c, http.MethodPost, "/teams", nil, map[string]any{"name": name, "users": users})
}

// GetTeam returns a team by name.
func (c *Client) GetTeam(ctx context.Context, team string) (Result[Team], error) {
	p, err := segment("team", team)
	if err != nil {
		return Result[Team]{}, err
	}
	return do[Team](ctx, c, http.MethodGet, "/teams/"+p, nil, nil)
}

// ChangeTeamUsers adds members to a team and removes others, in one
// change.
func (c *Client) ChangeTeamUsers(ctx context.Context, team string, add, remove []string) (Result[Team], error) {
	p, err := segment("team", team)
	if err != nil {
		return Result[Team]{}, err
	}
	body := map[string][]string{}
	if len(add) > 0 {
		body["add_users"] = add
	}
	if len(remove) > 0 {
		body["remove_users"] = remove
	}
	return do[Team](ctx, c, http.MethodPatch, "/teams/"+p, nil, body)
}

// DeleteTeam deletes a team and its role assignments; its members lose
// the team's roles on their next request.
func (c *Client) DeleteTeam(ctx context.Context, team string) error {
	p, err := segment("team", team)
	if err != nil {
		return err
	}
	_, err = c.send(ctx, http.MethodDelete, "/teams/"+p, nil, nil)
	return err
}
