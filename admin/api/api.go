// Package api is the HTTP face of Gatehouse's control plane (package
// admin): the REST API under /gatehouse/v1, login (and a preset's login
// path), the sign-up page and the strict reading of their bodies. Its
// errorStatus is the one place that maps admin's errors to statuses, and
// every JSON error goes out through proxy.ErrorShape, the one error writer
// of both planes.
//
// New builds the package's own Gin engine, which hands every request that
// no route of the API matches to Options.Fallback: the data plane. Gin's
// mode is process-wide, so the binary sets it (cmd/gatehouse's main), not
// this package.
package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse-dev/gatehouse/admin"
	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/proxy"
)

// maxBody bounds the API's request bodies.
const maxBody = 1 << 20

// Options are what the API borrows from the data plane.
type Options struct {
	// Canonicalize turns a request path into the canonical form decisions
	// are made on, for POST /check. Nil means proxy.Canonicalize.
	Canonicalize func(string) (string, error)
	// RequestID returns a request's X-Request-Id, setting one when the
	// client sent none, so audit lines of both planes correlate. Nil sets
	// no id.
	RequestID func(http.Header) string
	// LoginPath, when set, is a second login outside /gatehouse/: a
	// preset's, where its server's clients log in (an OAuth2 password
	// form only).
	LoginPath string
	// Errors writes the API's errors, in the data plane's shape.
	Errors proxy.ErrorShape
	// TrustedProxies are the proxies (an ingress) whose X-Forwarded-For
	// names the client, for rate limits and audit lines; nil trusts none.
	// The data plane gets the same list, so both planes name a client
	// alike.
	TrustedProxies []netip.Prefix
	// BodyTimeout bounds how long the API waits for a request's body: its
	// bodies are small (maxBody at most), so a client that trickles one in
	// only holds a connection. Zero means 10s.
	BodyTimeout time.Duration
	// Fallback serves every request that no route of the API matches, as
	// it came: the data plane, which refuses whatever is still under
	// /gatehouse/ once canonical. Nil answers 404.
	Fallback http.Handler
}

// API serves the admin REST API, login and the sign-up page, and passes
// every other request to Options.Fallback.
type API struct {
	svc    *admin.Service
	log    *slog.Logger
	opts   Options
	engine *gin.Engine // built once by New; routes every request
}

var _ http.Handler = (*API)(nil)

// New builds the HTTP face of svc. Its one error is Gin's refusal of
// opts.TrustedProxies, returned as it is, for the caller to name the
// setting.
func New(svc *admin.Service, opts Options, log *slog.Logger) (*API, error) {
	if opts.Canonicalize == nil {
		opts.Canonicalize = proxy.Canonicalize
	}
	if opts.BodyTimeout <= 0 {
		opts.BodyTimeout = 10 * time.Second
	}
	if opts.Fallback == nil {
		opts.Fallback = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			opts.Errors.Write(w, "", http.StatusNotFound, "not_found", "no such route")
		})
	}
	a := &API{svc: svc, log: log, opts: opts, engine: gin.New()}
	r := a.engine
	// Redirects would answer before a decision; the data plane refuses or
	// canonicalizes paths itself.
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.HandleMethodNotAllowed = false
	r.ContextWithFallback = true
	trusted := make([]string, 0, len(opts.TrustedProxies))
	for _, p := range opts.TrustedProxies {
		trusted = append(trusted, p.String())
	}
	if err := r.SetTrustedProxies(trusted); err != nil {
		return nil, err
	}
	r.Use(a.recoverJSON)
	a.mount(r)
	r.NoRoute(gin.WrapH(opts.Fallback))
	return a, nil
}

// ServeHTTP routes a request: to the API's handlers, else to
// Options.Fallback.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.engine.ServeHTTP(w, r) }

// mount registers every route on r: under /gatehouse/, and a preset's
// login (Options.LoginPath).
func (a *API) mount(r gin.IRouter) {
	r.GET(admin.SignupPath, a.withRequest, a.signupPage)
	r.POST(admin.SignupPath, a.withRequest, a.signupForm)

	if a.opts.LoginPath != "" {
		r.POST(a.opts.LoginPath, a.withRequest, a.presetLogin)
	}
	a.mountSSO(r)

	v1 := r.Group("/gatehouse/v1", a.withRequest)
	v1.POST("/login", a.login)
	v1.POST("/signup", a.signupJSON)

	read, write, me := a.need(policy.PermRead), a.need(policy.PermWrite), a.need(policy.PermMe)
	v := v1.Group("", a.authenticate)
	v.GET("/me", me, a.getMe)
	v.PATCH("/me", me, a.patchMe)
	v.GET("/users", read, a.listUsers)
	v.POST("/users", write, a.createUser)
	v.GET("/users/:user", read, a.getUser)
	v.PATCH("/users/:user", write, a.patchUser)
	v.DELETE("/users/:user", write, a.deleteUser)
	v.POST("/users/:user/invitation", write, a.invite)
	v.GET("/permissions", read, a.listPermissions)
	v.GET("/roles", read, a.listRoles)
	v.POST("/roles", write, a.createRole)
	v.GET("/roles/:role", read, a.getRole)
	v.PATCH("/roles/:role", write, a.patchRole)
	v.DELETE("/roles/:role", write, a.deleteRole)
	v.GET("/role-assignments", read, a.listAssignments)
	v.POST("/role-assignments", write, a.assign)
	v.DELETE("/role-assignments", write, a.revoke)
	v.POST("/check", read, a.check)
	v.GET("/access-report", read, a.accessReport)
	v.POST("/signing-keys", write, a.rotateKey)
	a.mountServiceAccounts(v, read, write)
	a.mountTeams(v, read, write)
}

// withRequest gives the request an id (echoed in the response) and puts who
// made it into its context, for audit lines. It bounds the time the body
// may take (Options.BodyTimeout).
func (a *API) withRequest(c *gin.Context) {
	// Not every ResponseWriter supports deadlines (tests' recorders); the
	// server's does.
	_ = http.NewResponseController(c.Writer).SetReadDeadline(time.Now().Add(a.opts.BodyTimeout))
	rid := ""
	if a.opts.RequestID != nil {
		rid = a.opts.RequestID(c.Request.Header)
		c.Header("X-Request-Id", rid)
	}
	c.Request = c.Request.WithContext(admin.WithRequest(c.Request.Context(), rid, a.clientAddr(c)))
}

// identityKey is the context key of the authenticated caller's
// *admin.Identity; unexported, so nothing outside this package can set or
// replace it.
type identityKey struct{}

func (a *API) authenticate(c *gin.Context) {
	// As on the data plane: two headers are 400; no header, another scheme
	// or no token is 401 with a Bearer challenge.
	if len(c.Request.Header["Authorization"]) > 1 {
		a.fail(c, fmt.Errorf("%w: more than one Authorization header", admin.ErrInvalid))
		return
	}
	tok, _ := proxy.BearerToken(c.Request.Header)
	if tok == "" {
		a.fail(c, fmt.Errorf("%w: a bearer token is required; log in at POST /gatehouse/v1/login", admin.ErrUnauthenticated))
		return
	}
	id, err := a.svc.Authenticator().Authenticate(tok)
	if err != nil {
		a.log.Debug("admin api: token refused", "reason", err.Error())
		a.fail(c, fmt.Errorf("%w: invalid or expired token", admin.ErrUnauthenticated))
		return
	}
	ctx := admin.WithActor(c.Request.Context(), id.Username())
	c.Request = c.Request.WithContext(context.WithValue(ctx, identityKey{}, id))
}

// identity returns the caller that authenticate let through.
func identity(c *gin.Context) *admin.Identity {
	id, _ := c.Request.Context().Value(identityKey{}).(*admin.Identity)
	return id
}

// need requires a permission of the caller.
func (a *API) need(perm string) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !a.svc.HasPermission(identity(c), perm) {
			a.fail(c, fmt.Errorf("%w: this needs the %s permission", admin.ErrForbidden, perm))
		}
	}
}

// recoverJSON turns a handler panic, the data plane's included, into a
// 500 JSON error; an aborted response (http.ErrAbortHandler) is passed on
// to net/http.
func (a *API) recoverJSON(c *gin.Context) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		if v == http.ErrAbortHandler {
			panic(v)
		}
		a.log.Error("handler panic", "panic", fmt.Sprint(v), "path", c.Request.URL.Path)
		if !c.Writer.Written() {
			a.opts.Errors.Write(c.Writer, "", http.StatusInternalServerError, "internal", "internal error")
			c.Abort()
		}
	}()
	c.Next()
}

// clientAddr is the caller's address for rate limiting and audit lines,
// named as the data plane names it (proxy.ClientAddr): without a port, an
// IPv6 address as its /64, from X-Forwarded-For only through
// Options.TrustedProxies.
func (a *API) clientAddr(c *gin.Context) string {
	return proxy.ClientAddr(c.Request, a.opts.TrustedProxies)
}
