package proxy

import "net/http"

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
