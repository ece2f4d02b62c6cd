package proxy

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strconv"
	"sync/atomic"
)

const requestIDHeader = "X-Request-Id"

// requestIDs keeps a client's X-Request-Id when it is sane and otherwise
// makes one: a random per-process prefix and a counter, so a fresh id costs
// one small allocation and no system call.
type requestIDs struct {
	prefix string
	n      atomic.Uint64
}

func newRequestIDs() *requestIDs {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return &requestIDs{prefix: hex.EncodeToString(b) + "-"}
}

// RequestID returns the X-Request-Id of a request's headers, setting a fresh
// one when the client sent none or an unusable one. Gatehouse's own routes
// use it so that their audit lines carry ids like the data plane's.
func (h *Handler) RequestID(hd http.Header) string { return h.ids.ensure(hd) }

// ensure returns the request's id, setting the header when it was missing
// or unusable.
func (g *requestIDs) ensure(h http.Header) string {
	if vs := h[requestIDHeader]; len(vs) == 1 && validRequestID(vs[0]) {
		return vs[0]
	}
	buf := make([]byte, 0, 32)
	buf = append(buf, g.prefix...)
	buf = strconv.AppendUint(buf, g.n.Add(1), 10)
	id := string(buf)
	h[requestIDHeader] = []string{id}
	return id
}

func validRequestID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}
