package proxy

import (
	"encoding/json"
	"net/http"
	"time"
)

// Error codes of PRODUCT.md's error shape; the admin API answers with the
// same strings (admin/api's errorStatus).
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
	connectionClose = []string{"close"}
)

// unreadBodyWait bounds how long net/http may read the unread body of a
// refused request before answering (it reads it to keep the connection
// alive): a body that was sent whole is read at once, one that trickles
// in is cut off and the connection closes.
const unreadBodyWait = time.Second

// writeError answers a request the data plane does not forward. Without
// the bound on its unread body, a client trickling a body it declared
// could hold the connection as long as it liked.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, rid string, status int, code, msg string) {
	if r.ContentLength != 0 { // -1: chunked, length unknown
		if err := http.NewResponseController(w).SetReadDeadline(time.Now().Add(unreadBodyWait)); err != nil {
			w.Header()["Connection"] = connectionClose
		}
	}
	h.errs.Write(w, rid, status, code, msg)
}

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
