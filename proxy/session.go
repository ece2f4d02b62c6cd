package proxy

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Sessions are the browser sessions of single sign-on: a cookie carrying
// a token, accepted when a request has no Authorization header.
type Sessions struct {
	// Cookie is the session cookie's name.
	Cookie string
	// SignIn is the path that starts a sign-in. A browser asking for a
	// page (GET or HEAD with Accept: text/html) without valid credentials
	// is redirected there, with ?rd= its own URL, instead of answered 401.
	SignIn string
	// Renew returns a renewed session cookie for the token of an allowed
	// request, or nil when it needs none yet.
	Renew func(token string) *http.Cookie
	// Clear is the cookie that removes an invalid session cookie.
	Clear *http.Cookie
	// TrustedOrigins are origins besides the request's own host whose
	// pages may send the cookie with a change (the public URL's, when
	// Gatehouse sits behind a proxy that rewrites Host).
	TrustedOrigins []string
}

// sessionCookie returns the value of the cookie named name, or "".
func sessionCookie(r *http.Request, name string) string {
	if len(r.Header["Cookie"]) == 0 {
		return ""
	}
	c, err := r.Cookie(name)
	if err != nil {
		return ""
	}
	return c.Value
}

// stripCookie removes the cookie named name from the Cookie headers, so
// that the session's token is not sent upstream (as the Authorization
// header is not, without ForwardToken). A name is compared as net/http
// reads it, spaces around it trimmed: "sess =TOKEN" is the session cookie
// too.
func stripCookie(h http.Header, name string) {
	vs := h["Cookie"]
	if len(vs) == 0 {
		return
	}
	out := vs[:0]
	for _, v := range vs {
		if !strings.Contains(v, name) {
			out = append(out, v)
			continue
		}
		var kept []string
		for part := range strings.SplitSeq(v, ";") {
			p := strings.TrimSpace(part)
			k, _, _ := strings.Cut(p, "=")
			if p != "" && strings.TrimSpace(k) != name {
				kept = append(kept, p)
			}
		}
		if len(kept) > 0 {
			out = append(out, strings.Join(kept, "; "))
		}
	}
	if len(out) == 0 {
		delete(h, "Cookie")
		return
	}
	h["Cookie"] = out
}

// crossOriginUpgrade reports whether r asks to upgrade the connection (a
// WebSocket) from another origin's page. An upgrade is a GET, which
// CrossOriginProtection lets through, yet it opens a channel both ways
// that the page can read: with the session cookie it must come from the
// site's own pages, as changes must. Browsers always send Origin with a
// WebSocket; a client that sends neither header is no browser.
func (h *Handler) crossOriginUpgrade(r *http.Request) bool {
	if len(r.Header["Upgrade"]) == 0 {
		return false
	}
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin", "none":
		return false
	case "":
	default:
		return true
	}
	o := r.Header.Get("Origin")
	if o == "" || slices.Contains(h.sessions.TrustedOrigins, o) {
		return false
	}
	u, err := url.Parse(o)
	return err != nil || u.Host != r.Host
}

// wantsPage reports whether r is a browser asking for a page: a GET or
// HEAD whose Accept names text/html.
func wantsPage(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	for _, v := range r.Header["Accept"] {
		if strings.Contains(v, "text/html") {
			return true
		}
	}
	return false
}

// signInRedirect sends a browser to sign in, to return to r's URL.
func (h *Handler) signInRedirect(w http.ResponseWriter, r *http.Request, fromCookie bool) {
	if fromCookie {
		http.SetCookie(w, h.sessions.Clear)
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, h.sessions.SignIn+"?rd="+url.QueryEscape(r.URL.RequestURI()), http.StatusFound)
}
