package proxy

import (
	"encoding/json"
	"net/http"
)

// Error codes of PRODUCT.md's error shape; the admin API answers with the
// same strings (admin.errorStatus).
const (
	codeBadRequest      = "bad_request"
	codeUnauthenticated = "unauthenticated"
	codeForbidden       = "forbidden"
	codeNotFound        = "not_found"
	codeUnavailable     = "unavailable"
	codeUpstream        = "upstream_unavailable"
)

// ErrorShape writes Gatehouse's JSON errors, {"error": {"code": "...",
// "message": "..."}}: the one shape of both planes, written here and
// nowhere else (the admin API writes through it too).
type ErrorShape struct {
	// Detail repeats the message as "detail", the field FastAPI servers
	// answer with, for clients that read it (ZenML's: a preset's).
	Detail bool
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	Detail string `json:"detail,omitempty"`
}

var (
	contentTypeJSON = []string{"application/json; charset=utf-8"}
	noStore         = []string{"no-store"}
	nosniff         = []string{"nosniff"}
)

// Write answers with status and the error. A non-empty rid is returned as
// X-Request-Id.
func (s ErrorShape) Write(w http.ResponseWriter, rid string, status int, code, msg string) {
	var b errorBody
	b.Error.Code, b.Error.Message = code, msg
	if s.Detail {
		b.Detail = msg
	}
	body, _ := json.Marshal(b)
	h := w.Header()
	h["Content-Type"] = contentTypeJSON
	h["Cache-Control"] = noStore
	h["X-Content-Type-Options"] = nosniff
	if rid != "" {
		h[requestIDHeader] = []string{rid}
	}
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
