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

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

var (
	contentTypeJSON = []string{"application/json; charset=utf-8"}
	noStore         = []string{"no-store"}
	nosniff         = []string{"nosniff"}
)

// writeError answers with Gatehouse's JSON error shape.
func writeError(w http.ResponseWriter, rid string, status int, code, msg string) {
	var b errorBody
	b.Error.Code, b.Error.Message = code, msg
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
