package proxy

import (
	"net/http"
	"strings"
)

// stripHeaders removes every header a client must not be able to send to
// the upstream: identity headers (Gatehouse sets its own), routing hints
// that could make the upstream read another request than the one decided,
// and, unless forwardToken, the caller's token. Names are compared case-
// insensitively with "_" and "-" alike, so "x_forwarded_user" goes too.
func stripHeaders(h http.Header, forwardToken bool) {
	for k := range h {
		if strippedHeader(k) || (!forwardToken && equalHeader(k, "authorization")) {
			delete(h, k)
		}
	}
}

// scrubConnection removes from the Connection header any token that names
// a header the data plane strips or sets: ReverseProxy deletes the headers
// Connection names, which would otherwise let a client delete Gatehouse's
// identity headers.
func scrubConnection(h http.Header) {
	vs := h["Connection"]
	if len(vs) == 0 {
		return
	}
	dirty := false
	for _, v := range vs {
		for tok := range strings.SplitSeq(v, ",") {
			if strippedHeader(strings.TrimSpace(tok)) {
				dirty = true
			}
		}
	}
	if !dirty {
		return
	}
	var keep []string
	for _, v := range vs {
		for _, tok := range strings.Split(v, ",") {
			if tok = strings.TrimSpace(tok); tok != "" && !strippedHeader(tok) {
				keep = append(keep, tok)
			}
		}
	}
	if len(keep) == 0 {
		delete(h, "Connection")
		return
	}
	h["Connection"] = []string{strings.Join(keep, ", ")}
}

// strippedPrefixes and strippedNames are in normalized form: lower case,
// "-" for "_".
var (
	strippedPrefixes = []string{"x-forwarded-", "x-auth-request-", "x-remote-"}
	strippedNames    = []string{
		"forwarded", "x-real-ip", "x-original-url", "x-original-uri", "x-rewrite-url",
		"x-original-method", "x-http-method-override", "x-http-method", "x-method-override",
		"x-user", "x-email", "remote-user",
	}
)

func strippedHeader(k string) bool {
	if len(k) < 6 {
		return false
	}
	// Every stripped name starts with x, f or r: most headers (Accept,
	// User-Agent, Content-Type, Authorization…) leave here.
	switch k[0] | 0x20 {
	case 'x', 'f', 'r':
	default:
		return false
	}
	for _, p := range strippedPrefixes {
		if len(k) >= len(p) && equalHeader(k[:len(p)], p) {
			return true
		}
	}
	for _, n := range strippedNames {
		if equalHeader(k, n) {
			return true
		}
	}
	return false
}

// equalHeader compares a header name with a normalized name, ignoring
// case and treating "_" as "-".
func equalHeader(k, norm string) bool {
	if len(k) != len(norm) {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		case c == '_':
			c = '-'
		}
		if c != norm[i] {
			return false
		}
	}
	return true
}
