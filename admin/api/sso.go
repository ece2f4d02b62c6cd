package api

import (
	"errors"
	"html/template"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse-dev/gatehouse/admin"
)

// mountSSO adds the browser sign-in's routes when single sign-on is on.
func (a *API) mountSSO(r gin.IRouter) {
	if !a.svc.SignInEnabled() {
		return
	}
	r.GET(admin.SignInPath, a.withRequest, a.signInStart)
	r.GET(admin.CallbackPath, a.withRequest, a.signInCallback)
	r.GET(admin.LogoutPath, a.withRequest, a.logout)
	r.GET(admin.SignedOutPath, a.withRequest, a.signedOut)
}

// signInStart sends the browser to the identity provider, with the sign-in
// in progress in the flow cookie.
func (a *API) signInStart(c *gin.Context) {
	authURL, flow, err := a.svc.StartSignIn(c.Query("rd"))
	if err != nil {
		a.ssoFail(c, err)
		return
	}
	http.SetCookie(c.Writer, a.svc.FlowCookieFor(flow))
	c.Header("Cache-Control", "no-store")
	c.Redirect(http.StatusFound, authURL)
}

// signInCallback completes the sign-in the provider sent the browser back
// from: the session cookie is set and the browser returns where it was.
func (a *API) signInCallback(c *gin.Context) {
	flow, _ := c.Cookie(a.svc.FlowCookieName())
	// The flow is over whatever the outcome: a second try starts again.
	http.SetCookie(c.Writer, a.svc.ClearFlowCookie())
	idpErr := c.Query("error")
	if d := c.Query("error_description"); idpErr != "" && d != "" {
		idpErr += ": " + d
	}
	sess, err := a.svc.FinishSignIn(c.Request.Context(), flow, c.Query("state"), c.Query("code"), idpErr)
	if err != nil {
		a.ssoFail(c, err)
		return
	}
	http.SetCookie(c.Writer, a.svc.SessionCookie(sess.Token, sess.Expires))
	c.Header("Cache-Control", "no-store")
	c.Redirect(http.StatusFound, sess.Return)
}

// logout ends the browser session and, when the provider can, its session
// there too.
func (a *API) logout(c *gin.Context) {
	tok, _ := c.Cookie(a.svc.SessionCookieName())
	next := a.svc.SignOut(c.Request.Context(), tok)
	http.SetCookie(c.Writer, a.svc.ClearSessionCookie())
	c.Header("Cache-Control", "no-store")
	c.Redirect(http.StatusFound, next)
}

// signedOut is where the browser lands after logging out.
func (a *API) signedOut(c *gin.Context) {
	a.ssoPage(c, http.StatusOK, ssoView{Title: "Signed out", Message: "You are signed out of Gatehouse.", Link: admin.SignInPath, LinkText: "Sign in again"})
}

// ssoFail answers a failed sign-in: a page for a browser, the JSON error
// for anything else.
func (a *API) ssoFail(c *gin.Context, err error) {
	status, code, msg := errorStatus(err)
	if status == http.StatusTooManyRequests {
		setRetryAfter(c, err)
	}
	if errors.Is(err, admin.ErrUnavailable) {
		a.log.Error("sign-in failed", "error", err)
		msg = "sign-in is unavailable right now (the identity provider or the store cannot be reached); try again later"
	}
	if !strings.Contains(c.GetHeader("Accept"), "text/html") {
		if status == http.StatusUnauthorized {
			c.Header("WWW-Authenticate", `Bearer realm="gatehouse"`)
		}
		a.opts.Errors.Write(c.Writer, "", status, code, msg)
		c.Abort()
		return
	}
	a.ssoPage(c, status, ssoView{Title: "Sign-in failed", Error: strings.ToUpper(msg[:1]) + msg[1:] + ".", Link: admin.SignInPath, LinkText: "Start again"})
}

// ssoView is what an SSO page shows.
type ssoView struct {
	CSS            template.CSS
	Title, Message string
	Error          string
	Link, LinkText string
}

var ssoTmpl = template.Must(template.New("sso").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} · Gatehouse</title><style>{{.CSS}}</style></head>
<body><main>
<h1>{{.Title}}</h1>
{{if .Error}}<p class="err" role="alert">{{.Error}}</p>{{end}}
{{if .Message}}<p class="ok" role="status">{{.Message}}</p>{{end}}
{{if .Link}}<p><a href="{{.Link}}">{{.LinkText}}</a></p>{{end}}
</main></body></html>
`))

func (a *API) ssoPage(c *gin.Context, status int, v ssoView) {
	v.CSS = template.CSS(signupCSS)
	pageHeaders(c.Writer.Header(), "no-referrer")
	c.Status(status)
	if err := ssoTmpl.Execute(c.Writer, v); err != nil {
		a.log.Error("sign-in page: rendering failed", "error", err)
	}
	c.Abort()
}
