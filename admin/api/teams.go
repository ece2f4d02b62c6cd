package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse-dev/gatehouse/admin"
)

// mountTeams registers the teams on v: reading needs read (rd), changing
// needs write (wr). A team's roles are given and taken through
// /role-assignments with "team".
func (a *API) mountTeams(v gin.IRouter, rd, wr gin.HandlerFunc) {
	v.GET("/teams", rd, a.listTeams)
	v.POST("/teams", wr, a.createTeam)
	v.GET("/teams/:team", rd, a.getTeam)
	v.PATCH("/teams/:team", wr, a.patchTeam)
	v.DELETE("/teams/:team", wr, a.deleteTeam)
}

// teamInput is the body of POST /teams.
type teamInput struct {
	Name  string   `json:"name"`
	Users []string `json:"users"`
}

func (a *API) listTeams(c *gin.Context) {
	ts, err := a.svc.ListTeams(c.Request.Context())
	a.reply(c, http.StatusOK, items[admin.Team]{ts}, err)
}

func (a *API) createTeam(c *gin.Context) {
	withBody(a, c, func(in teamInput) {
		if in.Name == "" {
			a.fail(c, fieldErr("name", "is required"))
			return
		}
		t, err := a.svc.CreateTeam(c.Request.Context(), in.Name, in.Users)
		a.reply(c, http.StatusCreated, t, err)
	})
}

func (a *API) getTeam(c *gin.Context) {
	t, err := a.svc.GetTeam(c.Request.Context(), c.Param("team"))
	a.reply(c, http.StatusOK, t, err)
}

func (a *API) patchTeam(c *gin.Context) {
	withBody(a, c, func(in admin.TeamUpdate) {
		t, err := a.svc.UpdateTeam(c.Request.Context(), c.Param("team"), in)
		a.reply(c, http.StatusOK, t, err)
	})
}

func (a *API) deleteTeam(c *gin.Context) {
	a.reply(c, http.StatusNoContent, nil, a.svc.DeleteTeam(c.Request.Context(), c.Param("team")))
}
