package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/gatehouse-dev/gatehouse/admin"
)

// The API's shapes are the control plane's own types, so the client cannot
// drift from what the server sends.
type (
	Token      = admin.Token
	User       = admin.User
	CreateUser = admin.CreateUser
	UpdateUser = admin.UpdateUser
	UpdateMe   = admin.UpdateMe
	Invitation = admin.Invitation
	Permission = admin.Permission
	Rule       = admin.Rule
	Role       = admin.Role
	Decision   = admin.CheckResult
)

// items is the envelope of every list answer.
type items[T any] struct {
	Items []T `json:"items"`
}

// list unwraps a list answer, keeping the body as sent.
func list[T any](ctx context.Context, c *Client, path string, q url.Values) (Result[[]T], error) {
	r, err := do[items[T]](ctx, c, http.MethodGet, path, q, nil)
	return Result[[]T]{Value: r.Value.Items, Body: r.Body}, err
}

// Login exchanges a username and password for an access token.
func (c *Client) Login(ctx context.Context, username, password string) (Token, error) {
	r, err := do[Token](ctx, c, http.MethodPost, "/login", nil, map[string]string{"username": username, "password": password})
	return r.Value, err
}

// Signup uses an invitation token: the invited user gets the password and
// becomes active.
func (c *Client) Signup(ctx context.Context, token, password string) (Result[User], error) {
	return do[User](ctx, c, http.MethodPost, "/signup", nil, map[string]string{"token": token, "password": password})
}

// Me returns the caller's own user.
func (c *Client) Me(ctx context.Context) (Result[User], error) {
	return do[User](ctx, c, http.MethodGet, "/me", nil, nil)
}

// UpdateMe changes the caller's own profile or password; a new password
// needs the current one, and ends every token issued before, this
// client's included.
func (c *Client) UpdateMe(ctx context.Context, in UpdateMe) (Result[User], error) {
	return do[User](ctx, c, http.MethodPatch, "/me", nil, in)
}

// ListUsers returns every user.
func (c *Client) ListUsers(ctx context.Context) (Result[[]User], error) {
	return list[User](ctx, c, "/users", nil)
}

// CreateUser creates a user.
func (c *Client) CreateUser(ctx context.Context, in CreateUser) (Result[User], error) {
	return do[User](ctx, c, http.MethodPost, "/users", nil, in)
}

// GetUser returns a user by name or id.
func (c *Client) GetUser(ctx context.Context, user string) (Result[User], error) {
	p, err := segment("user", user)
	if err != nil {
		return Result[User]{}, err
	}
	return do[User](ctx, c, http.MethodGet, "/users/"+p, nil, nil)
}

// UpdateUser changes a user.
func (c *Client) UpdateUser(ctx context.Context, user string, in UpdateUser) (Result[User], error) {
	p, err := segment("user", user)
	if err != nil {
		return Result[User]{}, err
	}
	return do[User](ctx, c, http.MethodPatch, "/users/"+p, nil, in)
}

// DeleteUser deletes a user.
func (c *Client) DeleteUser(ctx context.Context, user string) error {
	p, err := segment("user", user)
	if err != nil {
		return err
	}
	_, err = c.send(ctx, http.MethodDelete, "/users/"+p, nil, nil)
	return err
}

// Invite issues a new invitation for a user; the previous one stops
// working.
func (c *Client) Invite(ctx context.Context, user string) (Result[Invitation], error) {
	p, err := segment("user", user)
	if err != nil {
		return Result[Invitation]{}, err
	}
	return do[Invitation](ctx, c, http.MethodPost, "/users/"+p+"/invitation", nil, nil)
}

// ListPermissions returns every permission with its rules.
func (c *Client) ListPermissions(ctx context.Context) (Result[[]Permission], error) {
	return list[Permission](ctx, c, "/permissions", nil)
}

// ListRoles returns every role.
func (c *Client) ListRoles(ctx context.Context) (Result[[]Role], error) {
	return list[Role](ctx, c, "/roles", nil)
}

// GetRole returns one role.
func (c *Client) GetRole(ctx context.Context, role string) (Result[Role], error) {
	p, err := segment("role", role)
	if err != nil {
		return Result[Role]{}, err
	}
	return do[Role](ctx, c, http.MethodGet, "/roles/"+p, nil, nil)
}

// CreateRole creates a role with a set of permissions.
func (c *Client) CreateRole(ctx context.Context, role string, permissions []string) (Result[Role], error) {
	if permissions == nil {
		permissions = []string{}
	}
	return do[Role](ctx, c, http.MethodPost, "/roles", nil, map[string]any{"name": role, "permissions": permissions})
}

// SetRolePermissions replaces the permissions of a role.
func (c *Client) SetRolePermissions(ctx context.Context, role string, permissions []string) (Result[Role], error) {
	p, err := segment("role", role)
	if err != nil {
		return Result[Role]{}, err
	}
	if permissions == nil {
		permissions = []string{}
	}
	return do[Role](ctx, c, http.MethodPatch, "/roles/"+p, nil, map[string]any{"permissions": permissions})
}

// ChangeRolePermissions adds and removes permissions of a role in one
// change on the server, so concurrent edits of other permissions stay.
func (c *Client) ChangeRolePermissions(ctx context.Context, role string, add, remove []string) (Result[Role], error) {
	p, err := segment("role", role)
	if err != nil {
		return Result[Role]{}, err
	}
	return do[Role](ctx, c, http.MethodPatch, "/roles/"+p, nil, map[string]any{"add_permissions": add, "remove_permissions": remove})
}

// DeleteRole deletes a role nobody holds.
func (c *Client) DeleteRole(ctx context.Context, role string) error {
	p, err := segment("role", role)
	if err != nil {
		return err
	}
	_, err = c.send(ctx, http.MethodDelete, "/roles/"+p, nil, nil)
	return err
}

// Assign gives a user or a service account a role, in workspace only
// unless it is "".
func (c *Client) Assign(ctx context.Context, user, role, workspace string) (Result[Assignment], error) {
	return do[Assignment](ctx, c, http.MethodPost, "/role-assignments", nil, assignmentBody("user", user, role, workspace))
}

// Revoke takes a role (held in workspace, unless "") from a user or a
// service account.
func (c *Client) Revoke(ctx context.Context, user, role, workspace string) error {
	_, err := c.send(ctx, http.MethodDelete, "/role-assignments", assignmentQuery("user", user, role, workspace), nil)
	return err
}

// assignmentBody is the body of POST /role-assignments for the holder
// (kind "user" or "team") called name.
func assignmentBody(kind, name, role, workspace string) map[string]string {
	body := map[string]string{kind: name, "role": role}
	if workspace != "" {
		body["workspace"] = workspace
	}
	return body
}

// assignmentQuery is the query of DELETE /role-assignments.
func assignmentQuery(kind, name, role, workspace string) url.Values {
	q := url.Values{kind: {name}, "role": {role}}
	if workspace != "" {
		q.Set("workspace", workspace)
	}
	return q
}

// SigningKey is a new signing key's id.
type SigningKey struct {
	Kid string `json:"kid"`
}

// RotateKey makes every replica sign new tokens with a new key; tokens
// signed before stay valid until they expire.
func (c *Client) RotateKey(ctx context.Context) (Result[SigningKey], error) {
	return do[SigningKey](ctx, c, http.MethodPost, "/signing-keys", nil, map[string]any{})
}

// Check asks the server to decide a request for a user ("" for an
// anonymous request) and name the deciding rule.
func (c *Client) Check(ctx context.Context, user, method, path string) (Result[Decision], error) {
	return do[Decision](ctx, c, http.MethodPost, "/check", nil, map[string]string{"user": user, "method": method, "path": path})
}
