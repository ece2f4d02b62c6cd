package proxy

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/testkit"
)

// withSessions turns the session cookie "sess" on; Renew gives a new
// cookie for "alice-token" alone.
func withSessions(c *Config) {
	c.Sessions = &Sessions{
		Cookie: "sess", SignIn: "/gatehouse/oauth2/start",
		Renew: func(tok string) *http.Cookie {
			if tok == "alice-token" {
				return &http.Cookie{Name: "sess", Value: "alice-token-2", Path: "/"}
			}
			return nil
		},
		Clear:          &http.Cookie{Name: "sess", Path: "/", MaxAge: -1},
		TrustedOrigins: []string{"https://gatehouse.example.com"},
	}
}

// TestSessionCookie: the cookie is a credential when no Authorization
// header is sent, it is renewed on use and never forwarded, and an invalid
// one is cleared.
func TestSessionCookie(t *testing.T) {
	up := testkit.NewUpstream(t)
	g := newGatehouse(t, up.URL, withSessions)

	res, body := send(t, g.addr(), "GET", "/api/x", "Cookie: theme=dark; sess=alice-token; lang=en")
	e := decodeEcho(t, res, body)
	if e.Header.Get("X-Forwarded-User") != "alice" {
		t.Errorf("the cookie's user did not reach the upstream: %v", e.Header)
	}
	if got := e.Header.Values("Cookie"); len(got) != 1 || got[0] != "theme=dark; lang=en" {
		t.Errorf("the upstream got Cookie %q, want the other cookies only", got)
	}
	if c := res.Cookies(); len(c) != 1 || c[0].Name != "sess" || c[0].Value != "alice-token-2" {
		t.Errorf("no renewed cookie: %v", res.Header["Set-Cookie"])
	}

	// A name with spaces around it is the session cookie to net/http, and
	// so it is to stripping.
	res, body = send(t, g.addr(), "GET", "/api/x", "Cookie: a=b; sess =alice-token")
	if e := decodeEcho(t, res, body); e.Header.Get("X-Forwarded-User") != "alice" || e.Header.Get("Cookie") != "a=b" {
		t.Errorf("the upstream saw user %q and Cookie %q", e.Header.Get("X-Forwarded-User"), e.Header.Get("Cookie"))
	}

	// The Authorization header wins; the cookie is still not forwarded.
	res, body = send(t, g.addr(), "GET", "/api/x", "Authorization: Bearer bob-token", "Cookie: sess=alice-token")
	if e := decodeEcho(t, res, body); e.Header.Get("X-Forwarded-User") != "bob" || e.Header.Get("Cookie") != "" {
		t.Errorf("with both, the upstream saw user %q and Cookie %q", e.Header.Get("X-Forwarded-User"), e.Header.Get("Cookie"))
	}
	if len(res.Cookies()) != 0 {
		t.Errorf("a bearer request renewed the cookie: %v", res.Header["Set-Cookie"])
	}

	// An invalid cookie: 401 for an API client, and the cookie cleared.
	before := up.Count()
	res, body = send(t, g.addr(), "GET", "/api/x", "Cookie: sess=forged", "Accept: application/json")
	wantError(t, res, body, http.StatusUnauthorized, codeUnauthenticated)
	if c := res.Cookies(); len(c) != 1 || c[0].MaxAge >= 0 {
		t.Errorf("the invalid cookie was not cleared: %v", res.Header["Set-Cookie"])
	}
	if up.Count() != before {
		t.Error("a request with an invalid cookie reached the upstream")
	}
}

// TestSessionSignInRedirect: a page request without valid credentials is
// sent to sign in, returning to where it was; any other request gets the
// 401.
func TestSessionSignInRedirect(t *testing.T) {
	up := testkit.NewUpstream(t)
	g := newGatehouse(t, up.URL, withSessions)
	const page = "Accept: text/html,application/xhtml+xml,*/*;q=0.8"
	for _, tc := range []struct {
		name, method, target string
		headers              []string
		redirect             bool
	}{
		{"page without credentials", "GET", "/api/x?a=1&b=2", []string{page}, true},
		{"page with an invalid cookie", "GET", "/api/x", []string{page, "Cookie: sess=forged"}, true},
		{"HEAD of a page", "HEAD", "/api/x", []string{page}, true},
		{"API request", "GET", "/api/x", []string{"Accept: application/json"}, false},
		{"no Accept", "GET", "/api/x", nil, false},
		{"POST from a page", "POST", "/api/x", []string{page, "Content-Length: 0"}, false},
		{"page with a bad bearer token", "GET", "/api/x", []string{page, "Authorization: Bearer forged"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, body := send(t, g.addr(), tc.method, tc.target, tc.headers...)
			if !tc.redirect {
				if res.StatusCode != http.StatusUnauthorized {
					t.Errorf("status %d, want 401; body %s", res.StatusCode, body)
				}
				return
			}
			loc, err := url.Parse(res.Header.Get("Location"))
			if res.StatusCode != http.StatusFound || err != nil || loc.Path != "/gatehouse/oauth2/start" || loc.Query().Get("rd") != tc.target {
				t.Errorf("status %d, Location %q; want 302 to sign in returning to %s", res.StatusCode, res.Header.Get("Location"), tc.target)
			}
		})
	}
	if n := up.Count(); n != 0 {
		t.Errorf("%d requests reached the upstream", n)
	}
}

// TestSessionCrossOrigin: a change carrying the cookie must come from the
// site's own pages; a bearer token needs no such check (no browser sends
// it by itself).
func TestSessionCrossOrigin(t *testing.T) {
	up := testkit.NewUpstream(t)
	g := newGatehouse(t, up.URL, withSessions)
	for _, tc := range []struct {
		name    string
		headers []string
		status  int
	}{
		{"cross-site fetch", []string{"Cookie: sess=alice-token", "Sec-Fetch-Site: cross-site"}, http.StatusForbidden},
		{"same-site sibling", []string{"Cookie: sess=alice-token", "Sec-Fetch-Site: same-site"}, http.StatusForbidden},
		{"another Origin", []string{"Cookie: sess=alice-token", "Origin: https://evil.example"}, http.StatusForbidden},
		{"same origin", []string{"Cookie: sess=alice-token", "Sec-Fetch-Site: same-origin"}, http.StatusOK},
		{"the public URL's origin", []string{"Cookie: sess=alice-token", "Origin: https://gatehouse.example.com"}, http.StatusOK},
		{"no browser headers", []string{"Cookie: sess=alice-token"}, http.StatusOK},
		{"bearer from anywhere", []string{"Authorization: Bearer alice-token", "Sec-Fetch-Site: cross-site"}, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := up.Count()
			res, body := send(t, g.addr(), "POST", "/api/x", append(tc.headers, "Content-Length: 0")...)
			if res.StatusCode != tc.status {
				t.Errorf("status %d, want %d; body %s", res.StatusCode, tc.status, body)
			}
			if reached := up.Count() > before; reached != (tc.status == http.StatusOK) {
				t.Errorf("reached the upstream: %v", reached)
			}
			if tc.status == http.StatusForbidden && !strings.Contains(string(body), "cross-origin") {
				t.Errorf("the refusal does not say why: %s", body)
			}
		})
	}
	// A WebSocket upgrade with the cookie from another origin's page is
	// refused; from the site's own page it goes through.
	for _, tc := range []struct {
		headers []string
		status  int
	}{
		{[]string{"Origin: https://evil.example"}, http.StatusForbidden},
		{[]string{"Origin: https://sibling.gatehouse.test", "Sec-Fetch-Site: same-site"}, http.StatusForbidden},
		{[]string{"Origin: http://gatehouse.test"}, http.StatusOK},
		{[]string{"Origin: https://gatehouse.example.com"}, http.StatusOK},
	} {
		before := up.Count()
		hdr := append([]string{"Cookie: sess=alice-token", "Connection: Upgrade", "Upgrade: websocket"}, tc.headers...)
		res, body := send(t, g.addr(), "GET", "/api/x", hdr...)
		if tc.status == http.StatusForbidden && (res.StatusCode != tc.status || up.Count() != before) {
			t.Errorf("upgrade %v: %d, reached upstream %v; want 403 and nothing forwarded; %s", tc.headers, res.StatusCode, up.Count() != before, body)
		}
		if tc.status == http.StatusOK && up.Count() == before {
			t.Errorf("upgrade %v: %d, not forwarded; %s", tc.headers, res.StatusCode, body)
		}
	}
	// A cross-site GET (a link followed) is fine: SameSite=Lax sends the
	// cookie with it, and reads change nothing.
	res, body := send(t, g.addr(), "GET", "/api/x", "Cookie: sess=alice-token", "Sec-Fetch-Site: cross-site")
	decodeEcho(t, res, body)
}

// TestStripCookie removes one cookie from every Cookie header and drops
// headers left empty.
func TestStripCookie(t *testing.T) {
	h := http.Header{"Cookie": {"sess=x", "a=1; sess=y; b=2", "c=3", "sessx=4; sess=z", "a=b; sess =t", "d=e;\tsess\t=u"}}
	stripCookie(h, "sess")
	if got := strings.Join(h["Cookie"], " | "); got != "a=1; b=2 | c=3 | sessx=4 | a=b | d=e" {
		t.Errorf("got %q", got)
	}
	h = http.Header{"Cookie": {"sess=x"}}
	if stripCookie(h, "sess"); h["Cookie"] != nil {
		t.Errorf("left %q", h["Cookie"])
	}
}
