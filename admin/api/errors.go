package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse-dev/gatehouse/admin"
)

// errorStatus maps an error to a status, an error code and a message that
// is safe to show. It is the one place that maps admin's errors (and the
// body reader's) to statuses; a new error kind joins this map.
func errorStatus(err error) (int, string, string) {
	var fe *admin.FieldError
	var rl *admin.RateLimitError
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &fe):
		return http.StatusBadRequest, "invalid_field", fe.Error()
	case errors.As(err, &rl):
		return http.StatusTooManyRequests, "rate_limited", rl.Error()
	case errors.As(err, &tooLarge):
		return http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("request body is larger than %d bytes", tooLarge.Limit)
	case errors.Is(err, admin.ErrInvalid):
		return http.StatusBadRequest, "bad_request", trimSentinel(err, admin.ErrInvalid)
	case errors.Is(err, admin.ErrUnauthenticated):
		return http.StatusUnauthorized, "unauthenticated", trimSentinel(err, admin.ErrUnauthenticated)
	case errors.Is(err, admin.ErrForbidden):
		return http.StatusForbidden, "forbidden", trimSentinel(err, admin.ErrForbidden)
	case errors.Is(err, admin.ErrNotFound):
		return http.StatusNotFound, "not_found", trimSentinel(err, admin.ErrNotFound)
	case errors.Is(err, admin.ErrConflict):
		return http.StatusConflict, "conflict", trimSentinel(err, admin.ErrConflict)
	case errors.Is(err, admin.ErrGone):
		return http.StatusGone, "gone", trimSentinel(err, admin.ErrGone)
	case errors.Is(err, admin.ErrTimeout):
		return http.StatusRequestTimeout, "timeout", "the request body did not arrive in time"
	case errors.Is(err, admin.ErrUnavailable):
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

// fieldErr is invalid input in one named field (admin.FieldError: 400
// invalid_field).
func fieldErr(field, format string, args ...any) error {
	return &admin.FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// fail answers the request with err, in the error shape, and stops it.
func (a *API) fail(c *gin.Context, err error) {
	status, code, msg := errorStatus(err)
	switch status {
	case http.StatusUnauthorized:
		c.Header("WWW-Authenticate", `Bearer realm="gatehouse"`)
	case http.StatusTooManyRequests:
		setRetryAfter(c, err)
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

// setRetryAfter tells a rate-limited client (admin.RateLimitError) when
// to come back, in whole seconds rounded up.
func setRetryAfter(c *gin.Context, err error) {
	var rl *admin.RateLimitError
	if errors.As(err, &rl) {
		c.Header("Retry-After", strconv.Itoa(int((rl.RetryAfter+time.Second-1)/time.Second)))
	}
}
