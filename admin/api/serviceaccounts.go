package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse-dev/gatehouse/admin"
)

// mountServiceAccounts registers the service accounts and their API keys
// on v: reading needs read (rd), changing needs write (wr).
func (a *API) mountServiceAccounts(v gin.IRouter, rd, wr gin.HandlerFunc) {
	v.GET("/service-accounts", rd, a.listServiceAccounts)
	v.POST("/service-accounts", wr, a.createServiceAccount)
	v.GET("/service-accounts/:sa", rd, a.getServiceAccount)
	v.PATCH("/service-accounts/:sa", wr, a.patchServiceAccount)
	v.DELETE("/service-accounts/:sa", wr, a.deleteServiceAccount)
	v.GET("/service-accounts/:sa/api-keys", rd, a.listAPIKeys)
	v.POST("/service-accounts/:sa/api-keys", wr, a.createAPIKey)
	v.GET("/service-accounts/:sa/api-keys/:key", rd, a.getAPIKey)
	v.PATCH("/service-accounts/:sa/api-keys/:key", wr, a.patchAPIKey)
	v.DELETE("/service-accounts/:sa/api-keys/:key", wr, a.deleteAPIKey)
	v.POST("/service-accounts/:sa/api-keys/:key/rotate", wr, a.rotateAPIKey)
}

// withBody reads the JSON body into an In and calls fn with it; a body
// that cannot be read is answered here.
func withBody[In any](a *API, c *gin.Context, fn func(in In)) {
	var in In
	if err := bind(c, &in); err != nil {
		a.fail(c, err)
		return
	}
	fn(in)
}

// replySecret is reply for an answer that carries a secret shown once.
func (a *API) replySecret(c *gin.Context, v any, err error) {
	if err == nil {
		c.Header("Cache-Control", "no-store")
	}
	a.reply(c, http.StatusCreated, v, err)
}

func (a *API) listServiceAccounts(c *gin.Context) {
	sas, err := a.svc.ListServiceAccounts(c.Request.Context())
	a.reply(c, http.StatusOK, items[admin.ServiceAccount]{sas}, err)
}

func (a *API) createServiceAccount(c *gin.Context) {
	withBody(a, c, func(in admin.CreateServiceAccount) {
		if in.Name == "" {
			a.fail(c, fieldErr("name", "is required"))
			return
		}
		sa, err := a.svc.CreateServiceAccount(c.Request.Context(), in)
		a.reply(c, http.StatusCreated, sa, err)
	})
}

func (a *API) getServiceAccount(c *gin.Context) {
	sa, err := a.svc.GetServiceAccount(c.Request.Context(), c.Param("sa"))
	a.reply(c, http.StatusOK, sa, err)
}

func (a *API) patchServiceAccount(c *gin.Context) {
	withBody(a, c, func(in admin.UpdateServiceAccount) {
		sa, err := a.svc.UpdateServiceAccount(c.Request.Context(), c.Param("sa"), in)
		a.reply(c, http.StatusOK, sa, err)
	})
}

func (a *API) deleteServiceAccount(c *gin.Context) {
	a.reply(c, http.StatusNoContent, nil, a.svc.DeleteServiceAccount(c.Request.Context(), c.Param("sa")))
}

func (a *API) listAPIKeys(c *gin.Context) {
	ks, err := a.svc.ListAPIKeys(c.Request.Context(), c.Param("sa"))
	a.reply(c, http.StatusOK, items[admin.APIKey]{ks}, err)
}

func (a *API) createAPIKey(c *gin.Context) {
	withBody(a, c, func(in admin.CreateAPIKey) {
		if in.Name == "" {
			a.fail(c, fieldErr("name", "is required"))
			return
		}
		k, err := a.svc.CreateAPIKey(c.Request.Context(), c.Param("sa"), in)
		a.replySecret(c, k, err)
	})
}

func (a *API) getAPIKey(c *gin.Context) {
	k, err := a.svc.GetAPIKey(c.Request.Context(), c.Param("sa"), c.Param("key"))
	a.reply(c, http.StatusOK, k, err)
}

func (a *API) patchAPIKey(c *gin.Context) {
	withBody(a, c, func(in admin.UpdateAPIKey) {
		k, err := a.svc.UpdateAPIKey(c.Request.Context(), c.Param("sa"), c.Param("key"), in)
		a.reply(c, http.StatusOK, k, err)
	})
}

func (a *API) deleteAPIKey(c *gin.Context) {
	a.reply(c, http.StatusNoContent, nil, a.svc.DeleteAPIKey(c.Request.Context(), c.Param("sa"), c.Param("key")))
}

func (a *API) rotateAPIKey(c *gin.Context) {
	// The body is optional: a rotation without one retains nothing.
	var in admin.RotateAPIKey
	if c.Request.ContentLength != 0 {
		if err := bind(c, &in); err != nil {
			a.fail(c, err)
			return
		}
	}
	k, err := a.svc.RotateAPIKey(c.Request.Context(), c.Param("sa"), c.Param("key"), in)
	a.replySecret(c, k, err)
}
