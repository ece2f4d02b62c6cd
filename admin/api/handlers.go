package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse-dev/gatehouse/admin"
	"github.com/gatehouse-dev/gatehouse/policy"
)

// items is the envelope of a list.
type items[T any] struct {
	Items []T `json:"items"`
}

func (a *API) getMe(c *gin.Context) {
	u, err := a.svc.Me(c.Request.Context(), identity(c))
	a.reply(c, http.StatusOK, u, err)
}

func (a *API) patchMe(c *gin.Context) {
	var in admin.UpdateMe
	if err := bind(c, &in); err != nil {
		a.fail(c, err)
		return
	}
	u, err := a.svc.UpdateMe(c.Request.Context(), identity(c), in)
	a.reply(c, http.StatusOK, u, err)
}

func (a *API) listUsers(c *gin.Context) {
	us, err := a.svc.ListUsers(c.Request.Context())
	a.reply(c, http.StatusOK, items[admin.User]{us}, err)
}

func (a *API) createUser(c *gin.Context) {
	var in admin.CreateUser
	if err := bind(c, &in); err != nil {
		a.fail(c, err)
		return
	}
	if in.Username == "" {
		a.fail(c, fieldErr("username", "is required"))
		return
	}
	u, err := a.svc.CreateUser(c.Request.Context(), in)
	a.reply(c, http.StatusCreated, u, err)
}

func (a *API) getUser(c *gin.Context) {
	u, err := a.svc.GetUser(c.Request.Context(), c.Param("user"))
	a.reply(c, http.StatusOK, u, err)
}

func (a *API) patchUser(c *gin.Context) {
	var in admin.UpdateUser
	if err := bind(c, &in); err != nil {
		a.fail(c, err)
		return
	}
	u, err := a.svc.UpdateUser(c.Request.Context(), identity(c).UserID(), c.Param("user"), in)
	a.reply(c, http.StatusOK, u, err)
}

func (a *API) deleteUser(c *gin.Context) {
	err := a.svc.DeleteUser(c.Request.Context(), identity(c).UserID(), c.Param("user"))
	a.reply(c, http.StatusNoContent, nil, err)
}

func (a *API) invite(c *gin.Context) {
	inv, err := a.svc.Invite(c.Request.Context(), c.Param("user"))
	if err != nil {
		a.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusCreated, inv)
}

func (a *API) listPermissions(c *gin.Context) {
	c.JSON(http.StatusOK, items[admin.Permission]{a.svc.ListPermissions()})
}

func (a *API) listRoles(c *gin.Context) {
	rs, err := a.svc.ListRoles(c.Request.Context())
	a.reply(c, http.StatusOK, items[admin.Role]{rs}, err)
}

type roleInput struct {
	Name        string    `json:"name"`
	Permissions *[]string `json:"permissions"`
}

func (a *API) createRole(c *gin.Context) {
	var in roleInput
	if err := bind(c, &in); err != nil {
		a.fail(c, err)
		return
	}
	if in.Name == "" {
		a.fail(c, fieldErr("name", "is required"))
		return
	}
	var perms []string
	if in.Permissions != nil {
		perms = *in.Permissions
	}
	r, err := a.svc.CreateRole(c.Request.Context(), in.Name, perms)
	a.reply(c, http.StatusCreated, r, err)
}

func (a *API) getRole(c *gin.Context) {
	r, err := a.svc.GetRole(c.Request.Context(), c.Param("role"))
	a.reply(c, http.StatusOK, r, err)
}

func (a *API) patchRole(c *gin.Context) {
	var in admin.RoleUpdate
	if err := bind(c, &in); err != nil {
		a.fail(c, err)
		return
	}
	r, err := a.svc.ChangeRole(c.Request.Context(), c.Param("role"), in)
	a.reply(c, http.StatusOK, r, err)
}

func (a *API) deleteRole(c *gin.Context) {
	a.reply(c, http.StatusNoContent, nil, a.svc.DeleteRole(c.Request.Context(), c.Param("role")))
}

func (a *API) listAssignments(c *gin.Context) {
	as, err := a.svc.ListAssignments(c.Request.Context(), c.Query("user"), c.Query("role"), c.Query("team"), c.Query("workspace"))
	a.reply(c, http.StatusOK, items[admin.Assignment]{as}, err)
}

// assignmentInput is the body of POST /role-assignments: a role,
// exactly one of a user and a team, and optionally the workspace the role
// holds in.
type assignmentInput struct {
	User      string `json:"user"`
	Team      string `json:"team"`
	Role      string `json:"role"`
	Workspace string `json:"workspace"`
}

func (a *API) assign(c *gin.Context) {
	var in assignmentInput
	if err := bind(c, &in); err != nil {
		a.fail(c, err)
		return
	}
	if err := holderOnce(in.User, in.Team, "is required"); err != nil {
		a.fail(c, err)
		return
	}
	if in.Role == "" {
		a.fail(c, fieldErr("role", "is required"))
		return
	}
	var as admin.Assignment
	var err error
	if in.Team != "" {
		as, err = a.svc.AssignTeam(c.Request.Context(), in.Team, in.Role, in.Workspace)
	} else {
		as, err = a.svc.Assign(c.Request.Context(), in.User, in.Role, in.Workspace)
	}
	a.reply(c, http.StatusCreated, as, err)
}

// holderOnce checks that exactly one of user and team is given; missing
// says what is wrong when neither is.
func holderOnce(user, team, missing string) error {
	switch {
	case user != "" && team != "":
		return fieldErr("team", "give user or team, not both")
	case user == "" && team == "":
		return fieldErr("user", "%s (or team)", missing)
	}
	return nil
}

func (a *API) revoke(c *gin.Context) {
	user, team, role, ws := c.Query("user"), c.Query("team"), c.Query("role"), c.Query("workspace")
	if err := holderOnce(user, team, "query parameter is required"); err != nil {
		a.fail(c, err)
		return
	}
	if role == "" {
		a.fail(c, fieldErr("role", "query parameter is required"))
		return
	}
	if team != "" {
		a.reply(c, http.StatusNoContent, nil, a.svc.RevokeTeam(c.Request.Context(), team, role, ws))
		return
	}
	a.reply(c, http.StatusNoContent, nil, a.svc.Revoke(c.Request.Context(), user, role, ws))
}

func (a *API) check(c *gin.Context) {
	var in struct {
		User   string `json:"user"`
		Method string `json:"method"`
		Path   string `json:"path"`
	}
	if err := bind(c, &in); err != nil {
		a.fail(c, err)
		return
	}
	switch {
	case in.Method == "":
		a.fail(c, fieldErr("method", "is required"))
		return
	case !policy.ValidMethod(in.Method):
		// The methods a policy may name: any other would be decided as a
		// deny no rule could change, so a typo (FETCH, get) would read as
		// an answer.
		a.fail(c, fieldErr("method", "%s", policy.MethodError(in.Method)))
		return
	}
	path, err := a.opts.Canonicalize(in.Path)
	if err != nil {
		a.fail(c, fieldErr("path", "%v", err))
		return
	}
	res, err := a.svc.Check(c.Request.Context(), in.User, in.Method, path)
	a.reply(c, http.StatusOK, res, err)
}

func (a *API) signupJSON(c *gin.Context) {
	var in struct {
		Token    string `json:"token"`
		Password string `json:"password"`
	}
	if err := bind(c, &in); err != nil {
		a.fail(c, err)
		return
	}
	if in.Token == "" {
		a.fail(c, fieldErr("token", "is required"))
		return
	}
	u, err := a.svc.Signup(c.Request.Context(), in.Token, in.Password, a.clientAddr(c))
	a.reply(c, http.StatusOK, u, err)
}

// reply writes v with status, or the error.
func (a *API) reply(c *gin.Context, status int, v any, err error) {
	switch {
	case err != nil:
		a.fail(c, err)
	case status == http.StatusNoContent:
		c.Status(status)
	default:
		c.JSON(status, v)
	}
}

func (a *API) rotateKey(c *gin.Context) {
	kid, err := a.svc.RotateKey(c.Request.Context())
	a.reply(c, http.StatusCreated, gin.H{"kid": kid}, err)
}
