package admin

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse-dev/gatehouse/proxy"
)

// maxBody bounds admin request bodies.
const maxBody = 1 << 20

// API serves the admin REST API, login and the sign-up page.
type API struct {
	svc  *Service
	log  *slog.Logger
	opts APIOptions
}

// APIOptions are what the API borrows from the data plane.
type APIOptions struct {
	// Canonicalize turns a request path into the canonical form decisions
	// are made on, for POST /check.
	Canonicalize func(string) (string, error)
	// RequestID returns a request's X-Request-Id, setting one when the
	// client sent none, so audit lines of both planes correlate.
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
}

// NewAPI returns the HTTP face of the service.
func NewAPI(svc *Service, opts APIOptions, log *slog.Logger) *API {
	if opts.BodyTimeout <= 0 {
		opts.BodyTimeout = 10 * time.Second
	}
	return &API{svc: svc, log: log, opts: opts}
}

const identityKey = "gatehouse.identity"

// Mount registers every route on r: under /gatehouse/, and a preset's
// login (APIOptions.LoginPath).
func (a *API) Mount(r gin.IRouter) {
	r.GET(SignupPath, a.withRequest, a.signupPage)
	r.POST(SignupPath, a.withRequest, a.signupForm)

	if a.opts.LoginPath != "" {
		r.POST(a.opts.LoginPath, a.withRequest, a.presetLogin)
	}

	v1 := r.Group("/gatehouse/v1", a.withRequest)
	v1.POST("/login", a.login)
	v1.POST("/signup", a.signupJSON)

	read, write, me := a.need("read"), a.need("write"), a.need("me")
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
	v.POST("/signing-keys", write, a.rotateKey)
}

// withRequest gives the request an id (echoed in the response) and puts who
// made it into its context, for audit lines. It bounds the time the body
// may take (APIOptions.BodyTimeout).
func (a *API) withRequest(c *gin.Context) {
	// Not every ResponseWriter supports deadlines (tests' recorders); the
	// server's does.
	_ = http.NewResponseController(c.Writer).SetReadDeadline(time.Now().Add(a.opts.BodyTimeout))
	rid := ""
	if a.opts.RequestID != nil {
		rid = a.opts.RequestID(c.Request.Header)
		c.Header("X-Request-Id", rid)
	}
	c.Request = c.Request.WithContext(WithRequest(c.Request.Context(), rid, a.clientAddr(c)))
}

func (a *API) authenticate(c *gin.Context) {
	// As on the data plane: two headers are 400; no header, another scheme
	// or no token is 401 with a Bearer challenge.
	if len(c.Request.Header["Authorization"]) > 1 {
		a.fail(c, fmt.Errorf("%w: more than one Authorization header", ErrInvalid))
		return
	}
	tok, _ := proxy.BearerToken(c.Request.Header)
	if tok == "" {
		a.fail(c, fmt.Errorf("%w: a bearer token is required; log in at POST /gatehouse/v1/login", ErrUnauthenticated))
		return
	}
	id, err := a.svc.Authenticator().Authenticate(tok)
	if err != nil {
		a.log.Debug("admin api: token refused", "reason", err.Error())
		a.fail(c, fmt.Errorf("%w: invalid or expired token", ErrUnauthenticated))
		return
	}
	c.Set(identityKey, id)
	c.Request = c.Request.WithContext(WithActor(c.Request.Context(), id.Username()))
}

func identity(c *gin.Context) *Identity {
	v, _ := c.Get(identityKey)
	id, _ := v.(*Identity)
	return id
}

// need requires a permission of the caller.
func (a *API) need(perm string) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !a.svc.HasPermission(identity(c), perm) {
			a.fail(c, fmt.Errorf("%w: this needs the %s permission", ErrForbidden, perm))
		}
	}
}

// errorStatus maps an error to a status, an error code and a message that
// is safe to show. It is the one place that does so.
func errorStatus(err error) (int, string, string) {
	var fe *FieldError
	var rl *RateLimitError
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &fe):
		return http.StatusBadRequest, "invalid_field", fe.Error()
	case errors.As(err, &rl):
		return http.StatusTooManyRequests, "rate_limited", rl.Error()
	case errors.As(err, &tooLarge):
		return http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("request body is larger than %d bytes", tooLarge.Limit)
	case errors.Is(err, ErrInvalid):
		return http.StatusBadRequest, "bad_request", trimSentinel(err, ErrInvalid)
	case errors.Is(err, ErrUnauthenticated):
		return http.StatusUnauthorized, "unauthenticated", trimSentinel(err, ErrUnauthenticated)
	case errors.Is(err, ErrForbidden):
		return http.StatusForbidden, "forbidden", trimSentinel(err, ErrForbidden)
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound, "not_found", trimSentinel(err, ErrNotFound)
	case errors.Is(err, ErrConflict):
		return http.StatusConflict, "conflict", trimSentinel(err, ErrConflict)
	case errors.Is(err, ErrGone):
		return http.StatusGone, "gone", trimSentinel(err, ErrGone)
	case errors.Is(err, ErrTimeout):
		return http.StatusRequestTimeout, "timeout", "the request body did not arrive in time"
	case errors.Is(err, ErrUnavailable):
		return http.StatusServiceUnavailable, "unavailable", "the store is unavailable; try again"
	}
	return http.StatusInternalServerError, "internal", "internal error"
}

// trimSentinel returns err's message without the sentinel's own prefix.
func trimSentinel(err, sentinel error) string {
	msg := err.Error()
	if msg == sentinel.Error() {
		return msg
	}
	msg = strings.TrimPrefix(msg, sentinel.Error()+": ")
	return strings.TrimPrefix(msg, sentinel.Error()+"\n")
}

func (a *API) fail(c *gin.Context, err error) {
	status, code, msg := errorStatus(err)
	switch status {
	case http.StatusUnauthorized:
		c.Header("WWW-Authenticate", `Bearer realm="gatehouse"`)
	case http.StatusTooManyRequests:
		var rl *RateLimitError
		errors.As(err, &rl)
		c.Header("Retry-After", strconv.Itoa(int((rl.RetryAfter+time.Second-1)/time.Second)))
	case http.StatusForbidden, http.StatusConflict:
		// A refused change may be someone reaching for another identity
		// or for rights they lack (a rename, a taken email).
		if m := c.Request.Method; m != http.MethodGet && m != http.MethodHead {
			a.svc.AuditRefusal(c.Request.Context(), m, c.Request.URL.Path, status, msg)
		}
	case http.StatusInternalServerError, http.StatusServiceUnavailable:
		a.log.Error("admin api: request failed", "method", c.Request.Method, "path", c.FullPath(), "error", err)
	}
	// withRequest already set X-Request-Id.
	a.opts.Errors.Write(c.Writer, "", status, code, msg)
	c.Abort()
}

// clientAddr is the caller's address for rate limiting and audit lines,
// named as the data plane names it (proxy.ClientAddr): without a port, an
// IPv6 address as its /64, from X-Forwarded-For only through
// APIOptions.TrustedProxies.
func (a *API) clientAddr(c *gin.Context) string {
	return proxy.ClientAddr(c.Request, a.opts.TrustedProxies)
}
