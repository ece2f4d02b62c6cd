package proxy

import (
	"net/http"
	"strings"
)

// strippedList is the one list of request headers a client must not be
// able to send to the upstream; stripHeaders removes them from every
// forwarded request and scrubConnection keeps Connection from naming them.
// Names are normalized (lower case, "-" for "_") and compared with a
// request's names case-insensitively with "_" and "-" alike, so
// "x_forwarded_user" and "X-FORWARDED-USER" go too. A name ending in "-*"
// is a prefix: every header that starts with it goes.
//
// The groups, and the property each keeps:
//
//   - Gatehouse's own identity headers and their family. Gatehouse sets
//     X-Forwarded-User, -User-Id, -Email and -Groups, and X-Forwarded-For,
//     -Host and -Proto, itself (prepareHeaders, setXForwarded); every
//     other X-Forwarded-* (oauth2-proxy's -Preferred-Username and
//     -Access-Token, Envoy's -Client-Cert, the routing hints -Uri,
//     -Method, -Prefix, -Path) and Forwarded would let the client speak
//     for the proxy.
//   - The identity headers of other authenticating proxies, which an
//     upstream once deployed behind one of them may still trust:
//     oauth2-proxy (X-Auth-Request-*, GAP-Auth), Kubernetes' front proxy
//     (X-Remote-User, -Group, -Extra-*) and impersonation (Impersonate-User,
//     -Group, -Uid, -Extra-*), Authelia (Remote-User, -Groups, -Email,
//     -Name), Grafana's auth proxy (X-WEBAUTH-USER, -EMAIL, -NAME, -ROLE,
//     -GROUPS), Kong (X-Consumer-ID, -Custom-ID, -Username, -Groups,
//     X-Credential-Identifier, X-Authenticated-Userid, -Scope, -Groups,
//     X-Anonymous-Consumer, -Groups), authentik (X-authentik-*), Pomerium
//     (X-Pomerium-*), Cloudflare Access (Cf-Access-*), Google IAP
//     (X-Goog-Authenticated-User-*, X-Goog-IAP-JWT-Assertion), AWS ALB
//     (X-Amzn-Oidc-*), Azure App Service (X-MS-Client-Principal*), TLS
//     terminators passing a client certificate (X-SSL-Client-*), and the
//     generic names (X-User, X-Email, X-Username, X-Auth-User,
//     X-Proxy-User, Proxy-User).
//   - Routing hints: the upstream must read the request that was decided,
//     not a URL or host the client names beside it (X-Original-URL, -URI,
//     -Host, X-Rewrite-URL, X-Host).
//   - Method overrides: the method decided is the method forwarded
//     (X-HTTP-Method-Override, X-HTTP-Method, X-Method-Override,
//     X-Override-Method, X-Original-Method). The "_method" query parameter
//     is refused instead (see methodOverrideParam).
//   - Client addresses: Gatehouse sends the peer's address as
//     X-Forwarded-For; a client-chosen one (X-Real-IP, Client-IP,
//     True-Client-IP, X-Client-IP, CF-Connecting-IP, Fastly-Client-IP,
//     X-Cluster-Client-IP, X-Originating-IP) would defeat an upstream's
//     address-based limits and logs. They go from every peer: Gatehouse
//     relays no client address it has not seen itself.
var strippedList = []string{
	// Gatehouse's identity headers and their family.
	"x-forwarded-*", "forwarded",
	// Other authenticating proxies' identity headers.
	"x-auth-request-*", "gap-auth",
	"x-remote-*", "impersonate-*", "remote-*",
	"x-webauth-*",
	"x-consumer-*", "x-credential-*", "x-authenticated-*", "x-anonymous-consumer", "x-anonymous-groups",
	"x-authentik-*", "x-pomerium-*", "cf-access-*",
	"x-goog-authenticated-*", "x-goog-iap-jwt-assertion", "x-amzn-oidc-*",
	"x-ms-client-principal", "x-ms-client-principal-*", "x-ssl-client-*",
	"x-user", "x-email", "x-username", "x-auth-user", "x-proxy-user", "proxy-user",
	"x-userinfo", "x-id-token", // Kong's and other OpenID Connect plugins
	// Routing hints.
	"x-original-url", "x-original-uri", "x-original-host", "x-rewrite-url", "x-host", "x-envoy-original-path",
	// Method overrides.
	"x-http-method-override", "x-http-method", "x-method-override", "x-override-method", "x-original-method",
	// Client addresses.
	"x-real-ip", "client-ip", "true-client-ip", "x-client-ip", "cf-connecting-ip", "cf-connecting-ipv6",
	"fastly-client-ip", "x-cluster-client-ip", "x-originating-ip", "x-original-forwarded-for",
}

// stripHeaders removes every header of strippedList and, unless
// forwardToken, the caller's token.
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

// strippedHeader reports whether k is a name of strippedList.
func strippedHeader(k string) bool { return stripped.match(k) }

// stripped is strippedList compiled once.
var stripped = compileHeaderSet(strippedList)

// headerSet matches header names against a list of normalized names and
// prefixes without allocating: a name's first bytes (as many as the
// longest entry) are normalized into a buffer on the stack, and compared
// with the names of its length and, at each "-", with the prefixes that
// end there. lead is a quick filter on the first two bytes, so that most
// headers (Accept, Content-Type, Cookie, User-Agent…) leave after two
// table reads: bit b1&63 of lead[b0] is set when some entry starts with
// the normalized bytes b0 b1.
type headerSet struct {
	names    [maxSetName + 1][]string // by length
	prefixes [maxSetName + 1][]string // by length, with their trailing "-"
	lead     [256]uint64
	longest  int
}

// maxSetName bounds the length of a headerSet's entries.
const maxSetName = 63

func compileHeaderSet(list []string) *headerSet {
	s := &headerSet{}
	for _, e := range list {
		if p, ok := strings.CutSuffix(e, "*"); ok {
			s.prefixes[len(p)] = append(s.prefixes[len(p)], p)
			e = p
		} else {
			s.names[len(e)] = append(s.names[len(e)], e)
		}
		s.lead[e[0]] |= 1 << (e[1] & 63)
		s.longest = max(s.longest, len(e))
	}
	return s
}

// match reports whether the header name k is in the set.
func (s *headerSet) match(k string) bool {
	if len(k) < 2 || s.lead[normByte(k[0])]&(1<<(normByte(k[1])&63)) == 0 {
		return false
	}
	var buf [maxSetName]byte
	n := min(len(k), s.longest)
	for i := 0; i < n; i++ {
		c := normByte(k[i])
		buf[i] = c
		if c != '-' {
			continue
		}
		for _, p := range s.prefixes[i+1] {
			if string(buf[:i+1]) == p {
				return true
			}
		}
	}
	if len(k) == n {
		for _, e := range s.names[n] {
			if string(buf[:n]) == e {
				return true
			}
		}
	}
	return false
}

// normByte lowers an ASCII letter and turns "_" into "-".
func normByte(c byte) byte {
	switch {
	case c >= 'A' && c <= 'Z':
		return c + 'a' - 'A'
	case c == '_':
		return '-'
	}
	return c
}

// equalHeader compares a header name with a normalized name, ignoring
// case and treating "_" as "-".
func equalHeader(k, norm string) bool {
	if len(k) != len(norm) {
		return false
	}
	for i := 0; i < len(k); i++ {
		if normByte(k[i]) != norm[i] {
			return false
		}
	}
	return true
}
