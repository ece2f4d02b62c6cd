package proxy

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testkit"
)

func TestNewValidates(t *testing.T) {
	authn, authz := testAuthenticator(), testAuthorizer(&decisions{})
	up, _ := url.Parse("http://127.0.0.1:1")
	for _, c := range []struct {
		name string
		cfg  Config
	}{
		{"no upstream", Config{Authenticator: authn, Authorizer: authz}},
		{"no host", Config{Upstream: &url.URL{Scheme: "http"}, Authenticator: authn, Authorizer: authz}},
		{"other scheme", Config{Upstream: &url.URL{Scheme: "ftp", Host: "127.0.0.1"}, Authenticator: authn, Authorizer: authz}},
		{"public URL without a host", Config{Upstream: up, PublicURL: &url.URL{Scheme: "https"}, Authenticator: authn, Authorizer: authz}},
		{"no authenticator", Config{Upstream: up, Authorizer: authz}},
		{"no authorizer", Config{Upstream: up, Authenticator: authn}},
	} {
		if h, err := New(c.cfg); err == nil || h != nil {
			t.Errorf("%s: New = %v, %v; want an error", c.name, h, err)
		}
	}
}

// TestRefusals covers every answer that is not forwarded: the upstream
// must see nothing.
func TestRefusals(t *testing.T) {
	up := testkit.NewUpstream(t)
	g := newGatehouse(t, up.URL, func(c *Config) { c.OwnPaths = []string{"/api/v1/login"} })
	cases := []struct {
		name          string
		method        string
		target        string
		headers       []string
		status        int
		code          string
		authenticate  string // WWW-Authenticate, for 401
		message       string // a part of the error message, when set
		wantDecisions bool   // whether the authorizer is asked
	}{
		{name: "no token", method: "GET", target: "/api/v1/pipelines",
			status: 401, code: "unauthenticated", authenticate: `Bearer realm="gatehouse"`, wantDecisions: true},
		{name: "bad token", method: "GET", target: "/api/v1/pipelines", headers: []string{"Authorization: Bearer forged"},
			status: 401, code: "unauthenticated", authenticate: `Bearer realm="gatehouse", error="invalid_token"`},
		{name: "other scheme", method: "GET", target: "/api/v1/pipelines", headers: []string{"Authorization: Digest username=alice"},
			status: 401, code: "unauthenticated", authenticate: `Bearer realm="gatehouse", error="invalid_token"`},
		{name: "bad basic credentials", method: "GET", target: "/api/v1/pipelines", headers: []string{"Authorization: Basic YWxpY2U6eA=="},
			status: 401, code: "unauthenticated", authenticate: `Bearer realm="gatehouse", error="invalid_token"`},
		{name: "basic without credentials", method: "GET", target: "/api/v1/pipelines", headers: []string{"Authorization: Basic "},
			status: 401, code: "unauthenticated", authenticate: `Bearer realm="gatehouse", error="invalid_token"`},
		{name: "basic and bearer", method: "GET", target: "/api/v1/pipelines",
			headers: []string{"Authorization: Basic " + aliceBasic, "Authorization: Bearer bob-token"}, status: 400, code: "bad_request"},
		{name: "bearer without token", method: "GET", target: "/api/v1/pipelines", headers: []string{"Authorization: Bearer"},
			status: 401, code: "unauthenticated", authenticate: `Bearer realm="gatehouse", error="invalid_token"`},
		{name: "bad token on a public path", method: "GET", target: "/public", headers: []string{"Authorization: Bearer forged"},
			status: 401, code: "unauthenticated", authenticate: `Bearer realm="gatehouse", error="invalid_token"`},
		{name: "authenticator error fails closed", method: "GET", target: "/api/v1/pipelines", headers: []string{"Authorization: Bearer boom"},
			status: 503, code: "unavailable"},
		{name: "authorizer error fails closed", method: "GET", target: "/fail/x", headers: []string{"Authorization: Bearer alice-token"},
			status: 503, code: "unavailable", wantDecisions: true},
		{name: "anonymous authorizer error fails closed", method: "GET", target: "/fail", status: 503, code: "unavailable", wantDecisions: true},
		{name: "deny", method: "POST", target: "/deny/pipelines", headers: []string{"Authorization: Bearer alice-token"},
			status: 403, code: "forbidden", wantDecisions: true},
		{name: "deny after dot segments", method: "GET", target: "/ok/../deny/x", headers: []string{"Authorization: Bearer alice-token"},
			status: 403, code: "forbidden", wantDecisions: true},
		{name: "two Authorization headers", method: "GET", target: "/api/v1/pipelines",
			headers: []string{"Authorization: Bearer alice-token", "Authorization: Bearer bob-token"}, status: 400, code: "bad_request"},
		{name: "reserved prefix", method: "GET", target: "/gatehouse/v1/users", headers: []string{"Authorization: Bearer alice-token"},
			status: 404, code: "not_found"},
		{name: "reserved prefix after dot segments", method: "GET", target: "/x/../gatehouse/v1/users",
			headers: []string{"Authorization: Bearer alice-token"}, status: 404, code: "not_found"},
		{name: "reserved prefix after slashes", method: "POST", target: "//gatehouse//v1/login", status: 404, code: "not_found"},
		{name: "reserved root", method: "GET", target: "/gatehouse", status: 404, code: "not_found"},
		{name: "own path by another method", method: "GET", target: "/api/v1/login", status: 404, code: "not_found"},
		{name: "own path after slashes", method: "POST", target: "//api//v1/login", status: 404, code: "not_found"},
		{name: "own path after dot segments", method: "POST", target: "/api/v1/x/../login", headers: []string{"Authorization: Bearer alice-token"},
			status: 404, code: "not_found"},
		{name: "own path percent-encoded", method: "POST", target: "/api/v1/%6Cogin", status: 404, code: "not_found"},
		{name: "own path with a trailing slash", method: "POST", target: "/api/v1/login/", headers: []string{"Authorization: Bearer alice-token"},
			status: 404, code: "not_found"},
		{name: "encoded slash", method: "GET", target: "/api/v1/users/alice%2F..%2Fbob", headers: []string{"Authorization: Bearer alice-token"},
			status: 400, code: "bad_request"},
		{name: "encoded dot segment", method: "GET", target: "/api/v1/users/alice/%2e%2e/bob", status: 400, code: "bad_request"},
		{name: "dot dot path parameter", method: "GET", target: "/public/..;/admin", status: 400, code: "bad_request"},
		{name: "encoded dot dot path parameter", method: "GET", target: "/public/..%3B/admin", status: 400, code: "bad_request"},
		{name: "encoded hash", method: "GET", target: "/a%23b", status: 400, code: "bad_request"},
		{name: "raw backslash", method: "GET", target: `/a\..\b`, status: 400, code: "bad_request"},
		{name: "encoded NUL", method: "GET", target: "/a%00b", status: 400, code: "bad_request"},
		{name: "double encoding", method: "GET", target: "/a%252Fb", status: 400, code: "bad_request"},
		{name: "above the root", method: "GET", target: "/../etc/passwd", status: 400, code: "bad_request"},
		{name: "overlong UTF-8", method: "GET", target: "/a%c0%afb", status: 400, code: "bad_request"},
		{name: "asterisk form", method: "GET", target: "*", status: 400, code: "bad_request"},
		{name: "_method query parameter", method: "POST", target: "/api/v1/pipelines/p1?_method=DELETE",
			headers: []string{"Authorization: Bearer alice-token"}, status: 400, code: "bad_request", message: "_method"},
		{name: "_method among other parameters", method: "GET", target: "/api/v1/pipelines?page=2&_method=DELETE",
			headers: []string{"Authorization: Bearer alice-token"}, status: 400, code: "bad_request", message: "_method"},
		{name: "_method percent-encoded", method: "POST", target: "/public?%5Fmethod=PUT", status: 400, code: "bad_request", message: "_method"},
		{name: "_method as a PHP array", method: "POST", target: "/public?_method[]=PUT", status: 400, code: "bad_request", message: "_method"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before, asked := up.Count(), len(g.rec.all())
			res, body := send(t, g.addr(), c.method, c.target, c.headers...)
			wantError(t, res, body, c.status, c.code)
			var e errorBody
			_ = json.Unmarshal(body, &e) // wantError checked it
			if !strings.Contains(e.Error.Message, c.message) {
				t.Errorf("error message %q does not name %s", e.Error.Message, c.message)
			}
			if got := res.Header.Get("WWW-Authenticate"); got != c.authenticate {
				t.Errorf("WWW-Authenticate %q, want %q", got, c.authenticate)
			}
			if n := up.Count() - before; n != 0 {
				t.Errorf("the upstream received %d requests; want none", n)
			}
			if decided := len(g.rec.all()) > asked; decided != c.wantDecisions {
				t.Errorf("authorizer asked: %v, want %v", decided, c.wantDecisions)
			}
		})
	}
}

func TestAnonymousPublic(t *testing.T) {
	up := testkit.NewUpstream(t)
	g := newGatehouse(t, up.URL, nil)
	res, body := send(t, g.addr(), "GET", "/public", "X-Forwarded-User: admin")
	e := decodeEcho(t, res, body)
	if e.Path != "/public" {
		t.Errorf("upstream path %q, want /public", e.Path)
	}
	// An anonymous request carries no identity, and no client copy either.
	for k := range e.Header {
		if strings.HasPrefix(strings.ToLower(k), "x-forwarded-user") {
			t.Errorf("anonymous request forwarded with %s: %q", k, e.Header[k])
		}
	}
}

// TestForwardsCanonicalPath checks that the upstream receives exactly the
// path the authorizer decided on, and the query untouched.
func TestForwardsCanonicalPath(t *testing.T) {
	up := testkit.NewUpstream(t)
	g := newGatehouse(t, up.URL, nil)
	cases := []struct {
		target  string
		path    string // the decided and forwarded path
		wireURI string // the request-target the upstream reads
	}{
		{"/api/v1/users/alice/../bob", "/api/v1/users/bob", "/api/v1/users/bob"},
		{"//a///b", "/a/b", "/a/b"},
		{"/a/./b/", "/a/b/", "/a/b/"},
		{"/a/b/.", "/a/b/", "/a/b/"},
		{"/api/v1/pipelines?name=x&sort=-created", "/api/v1/pipelines", "/api/v1/pipelines?name=x&sort=-created"},
		{"/a/../b?next=/c/../d&p=%2F", "/b", "/b?next=/c/../d&p=%2F"},
		{"/caf%C3%A9/a%20b", "/café/a b", "/caf%C3%A9/a%20b"},
		{"/%7Euser/x", "/~user/x", "/~user/x"},
		{"/.well-known/openid-configuration", "/.well-known/openid-configuration", "/.well-known/openid-configuration"},
	}
	for _, c := range cases {
		t.Run(c.target, func(t *testing.T) {
			res, body := send(t, g.addr(), "GET", c.target, "Authorization: Bearer alice-token")
			e := decodeEcho(t, res, body)
			decided := strings.TrimPrefix(g.rec.last(), "GET ")
			if decided != c.path {
				t.Errorf("authorizer saw %q, want %q", decided, c.path)
			}
			if e.Path != decided {
				t.Errorf("upstream path %q != decided path %q", e.Path, decided)
			}
			if e.URI != c.wireURI {
				t.Errorf("upstream request-target %q, want %q", e.URI, c.wireURI)
			}
		})
	}
}

func TestForwardsUnderUpstreamBasePath(t *testing.T) {
	up := testkit.NewUpstream(t)
	g := newGatehouse(t, up.URL+"/base/", nil)
	res, body := send(t, g.addr(), "GET", "/a/../b/c?x=1", "Authorization: Bearer alice-token")
	e := decodeEcho(t, res, body)
	if got := g.rec.last(); got != "GET /b/c" {
		t.Errorf("decided %q, want GET /b/c", got)
	}
	if e.URI != "/base/b/c?x=1" {
		t.Errorf("upstream request-target %q, want /base/b/c?x=1", e.URI)
	}
}

// spoofed are the identity headers, routing hints, method overrides and
// client addresses a client may try; none may reach the upstream as sent.
var spoofed = []string{
	"X-Forwarded-User: admin",
	"x_forwarded_user: admin",
	"X-FORWARDED-GROUPS: admin",
	"X-Forwarded-User-Id: u-admin",
	"X-Forwarded-Email: admin@example.com",
	"X_Forwarded_Email: admin@example.com",
	"X-Forwarded-Preferred-Username: admin",
	"Connection: X-Forwarded-User, Impersonate-User",
	"X-Original-URL: /admin",
	"X-Original-URI: /admin",
	"X-Rewrite-URL: /admin",
	"X-Forwarded-Uri: /admin",
	"X-Forwarded-Method: DELETE",
	"X-Original-Method: DELETE",
	"X-HTTP-Method-Override: DELETE",
	"X-HTTP-Method: DELETE",
	"X-Method-Override: DELETE",
	"X-Override-Method: DELETE",
	"x_override_method: DELETE",
	"Forwarded: for=10.0.0.1;host=evil.example;proto=https",
	"X-Forwarded-For: 10.0.0.1",
	"X-Forwarded-Host: evil.example",
	"X-Forwarded-Proto: https",
	"X-Remote-User: admin",
	"X-Remote-Group: system:masters",
	"X-Auth-Request-User: admin",
	"X-User: admin",
	"Remote-User: admin",
	"Remote-Groups: admins",
	"X-Webauth-User: admin",
	"X-WEBAUTH-ROLE: Admin",
	"X-Auth-User: admin",
	"X-Authenticated-User: admin",
	"X-Authenticated-Userid: admin",
	"X-Consumer-Username: admin",
	"X-Consumer-ID: c-admin",
	"X-Consumer-Custom-ID: admin",
	"X-Credential-Identifier: admin",
	"X-Username: admin",
	"X-Proxy-User: admin",
	"Proxy-User: admin",
	"proxy_user: admin",
	"Impersonate-User: admin",
	"Impersonate-Group: system:masters",
	"Impersonate-Uid: u-admin",
	"Impersonate-Extra-Scopes: all",
	"X-Real-IP: 10.0.0.1",
	"Client-IP: 10.0.0.1",
	"True-Client-IP: 10.0.0.1",
	"X-Client-IP: 10.0.0.1",
	"CF-Connecting-IP: 10.0.0.1",
	"Fastly-Client-IP: 10.0.0.1",
	"X-Cluster-Client-IP: 10.0.0.1",
	"client_ip: 10.0.0.1",
	"X-Original-Forwarded-For: 10.0.0.1",
	"X-Userinfo: eyJzdWIiOiJhZG1pbiJ9",
	"X-Envoy-Original-Path: /admin",
}

// spoofedNames are the normalized names of spoofed.
func spoofedNames() map[string]bool {
	names := map[string]bool{}
	for _, h := range spoofed {
		k, _, _ := strings.Cut(h, ":")
		names[normHeader(k)] = true
	}
	return names
}

// normHeader is a header name compared as stripHeaders does.
func normHeader(k string) string { return strings.ReplaceAll(strings.ToLower(k), "_", "-") }

func TestIdentityHeadersReplaced(t *testing.T) {
	up := testkit.NewUpstream(t)
	g := newGatehouse(t, up.URL, nil)
	for _, c := range []struct {
		token string
		want  map[string]string // normalized name → the only value allowed
	}{
		{"alice-token", map[string]string{
			"x-forwarded-user": "alice", "x-forwarded-user-id": "u-alice",
			"x-forwarded-email": "alice@example.com", "x-forwarded-groups": "admin,guest",
		}},
		// bob has no email and no roles: the headers are absent, not the
		// client's copies.
		{"bob-token", map[string]string{"x-forwarded-user": "bob", "x-forwarded-user-id": "u-bob"}},
	} {
		t.Run(c.token, func(t *testing.T) {
			headers := append([]string{"Authorization: Bearer " + c.token}, spoofed...)
			res, body := send(t, g.addr(), "GET", "/ok", headers...)
			e := decodeEcho(t, res, body)
			if got := g.rec.last(); got != "GET /ok" {
				t.Errorf("decided %q, want GET /ok: routing hints changed the decision", got)
			}
			if e.Method != "GET" || e.Path != "/ok" {
				t.Errorf("upstream got %s %s, want GET /ok", e.Method, e.Path)
			}
			// No X-Forwarded-Host: without a public URL, Gatehouse has
			// no host to vouch for (TestHostHeader).
			want := map[string]string{"x-forwarded-for": "127.0.0.1", "x-forwarded-proto": "http"}
			for k, v := range c.want {
				want[k] = v
			}
			seen, sent := map[string]bool{}, spoofedNames()
			for k, vs := range e.Header {
				n := normHeader(k)
				if w, ok := want[n]; ok {
					seen[n] = true
					if len(vs) != 1 || vs[0] != w || k != http.CanonicalHeaderKey(n) {
						t.Errorf("upstream got %s: %q, want %s: %q", k, vs, http.CanonicalHeaderKey(n), w)
					}
					continue
				}
				if n == "authorization" || sent[n] {
					t.Errorf("upstream got the client's %s: %q", k, vs)
				}
			}
			for n := range want {
				if !seen[n] {
					t.Errorf("upstream did not get %s", http.CanonicalHeaderKey(n))
				}
			}
		})
	}
}

func TestForwardToken(t *testing.T) {
	up := testkit.NewUpstream(t)
	for _, forward := range []bool{false, true} {
		g := newGatehouse(t, up.URL, func(c *Config) { c.ForwardToken = forward })
		res, body := send(t, g.addr(), "GET", "/ok", "Authorization: Bearer alice-token")
		e := decodeEcho(t, res, body)
		got := e.Header.Values("Authorization")
		switch {
		case forward && !slices.Equal(got, []string{"Bearer alice-token"}):
			t.Errorf("ForwardToken: upstream got Authorization %q, want the caller's", got)
		case !forward && len(got) != 0:
			t.Errorf("upstream got Authorization %q, want none", got)
		}
	}
}

// TestBasicCredentials: accepted Basic credentials (an API key, for
// clients that speak only Basic) identify the caller as a token does and
// are not forwarded, unless ForwardToken.
func TestBasicCredentials(t *testing.T) {
	up := testkit.NewUpstream(t)
	for _, forward := range []bool{false, true} {
		g := newGatehouse(t, up.URL, func(c *Config) { c.ForwardToken = forward })
		res, body := send(t, g.addr(), "GET", "/ok", "Authorization: Basic "+aliceBasic)
		e := decodeEcho(t, res, body)
		if u := e.Header.Get("X-Forwarded-User"); u != "alice" {
			t.Errorf("X-Forwarded-User %q, want alice", u)
		}
		got := e.Header.Values("Authorization")
		switch {
		case forward && !slices.Equal(got, []string{"Basic " + aliceBasic}):
			t.Errorf("ForwardToken: upstream got Authorization %q, want the caller's", got)
		case !forward && len(got) != 0:
			t.Errorf("upstream got Authorization %q, want none", got)
		}
	}
}

func TestRequestID(t *testing.T) {
	up := testkit.NewUpstream(t)
	g := newGatehouse(t, up.URL, nil)
	for _, c := range []struct {
		name    string
		headers []string
		keep    string // the id that must be kept; "" means a fresh one
	}{
		{"sane id kept", []string{"X-Request-Id: abc-123_x.y:z"}, "abc-123_x.y:z"},
		{"none", nil, ""},
		{"spaces", []string{"X-Request-Id: abc 123"}, ""},
		{"injection", []string{`X-Request-Id: "}{"user":"admin`}, ""},
		{"too long", []string{"X-Request-Id: " + strings.Repeat("a", 129)}, ""},
		{"two ids", []string{"X-Request-Id: a", "X-Request-Id: b"}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, body := send(t, g.addr(), "GET", "/ok", append(c.headers, "Authorization: Bearer alice-token")...)
			e := decodeEcho(t, res, body)
			sent := e.Header.Values("X-Request-Id")
			echoedID := res.Header.Values("X-Request-Id")
			if len(sent) != 1 || !validRequestID(sent[0]) {
				t.Fatalf("upstream got X-Request-Id %q, want one sane id", sent)
			}
			if !slices.Equal(echoedID, sent) {
				t.Errorf("response X-Request-Id %q, want the forwarded %q", echoedID, sent)
			}
			if c.keep != "" && sent[0] != c.keep {
				t.Errorf("X-Request-Id %q, want the client's %q kept", sent[0], c.keep)
			}
			if c.keep == "" && slices.ContainsFunc(c.headers, func(h string) bool { return strings.HasSuffix(h, " "+sent[0]) }) {
				t.Errorf("X-Request-Id %q is the client's unusable one", sent[0])
			}
		})
	}
	// A refusal keeps a sane id too.
	res, _ := send(t, g.addr(), "GET", "/ok", "X-Request-Id: trace-7")
	if got := res.Header.Get("X-Request-Id"); res.StatusCode != 401 || got != "trace-7" {
		t.Errorf("refusal: status %d, X-Request-Id %q; want 401 and trace-7", res.StatusCode, got)
	}
}

// TestRequestIDsDiffer checks that generated ids are unique.
func TestRequestIDsDiffer(t *testing.T) {
	ids := newRequestIDs()
	seen := map[string]bool{}
	for range 100 {
		id := ids.ensure(http.Header{})
		if seen[id] || !validRequestID(id) {
			t.Fatalf("generated id %q repeats or is not sane", id)
		}
		seen[id] = true
	}
}

func TestMethodsPassThrough(t *testing.T) {
	up := testkit.NewUpstream(t)
	g := newGatehouse(t, up.URL, nil)
	for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PURGE"} {
		t.Run(m, func(t *testing.T) {
			before := up.Count()
			res, body := send(t, g.addr(), m, "/api/v1/pipelines", "Authorization: Bearer alice-token", "Content-Length: 0")
			if res.StatusCode != 200 {
				t.Fatalf("status %d; body %s", res.StatusCode, body)
			}
			if got := g.rec.last(); got != m+" /api/v1/pipelines" {
				t.Errorf("decided %q, want %s /api/v1/pipelines", got, m)
			}
			if got := res.Header.Get("X-Echo-Method"); got != m {
				t.Errorf("upstream saw method %q, want %s", got, m)
			}
			if m == "HEAD" && len(body) != 0 {
				t.Errorf("HEAD answered with a body: %q", body)
			}
			if n := up.Count() - before; n != 1 {
				t.Errorf("upstream hit %d times, want 1", n)
			}
		})
	}
}

// TestStreamsResponse checks that a streamed response reaches the client
// while the upstream is still writing it: the upstream holds the rest until
// the test has read the first event.
func TestStreamsResponse(t *testing.T) {
	for _, c := range []struct{ name, contentType string }{
		{"server-sent events", "text/event-stream"},
		{"chunked", "text/plain; charset=utf-8"},
	} {
		t.Run(c.name, func(t *testing.T) {
			release := make(chan struct{})
			var once sync.Once
			free := func() { once.Do(func() { close(release) }) }
			upstream := newStreamingUpstream(t, c.contentType, release)
			t.Cleanup(free) // runs before the upstream closes
			g := newGatehouse(t, upstream, nil)

			req, _ := http.NewRequest("GET", g.URL+"/events", nil)
			req.Header.Set("Authorization", "Bearer alice-token")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			if res.StatusCode != 200 || res.Header.Get("Content-Type") != c.contentType {
				t.Fatalf("status %d, Content-Type %q", res.StatusCode, res.Header.Get("Content-Type"))
			}
			r := bufio.NewReader(res.Body)
			first := make(chan string, 1)
			go func() {
				line, _ := r.ReadString('\n')
				first <- line
			}()
			select {
			case line := <-first:
				if line != "data: first\n" {
					t.Fatalf("first line %q, want \"data: first\\n\"", line)
				}
			case <-time.After(5 * time.Second):
				free()
				t.Fatal("the first event did not arrive while the upstream was still streaming")
			}
			free()
			rest, err := io.ReadAll(r)
			if err != nil || string(rest) != "\ndata: second\n\n" {
				t.Errorf("rest %q, %v; want the second event", rest, err)
			}
		})
	}
}

// newStreamingUpstream writes one event, flushes, and writes the second
// only when release is closed.
func newStreamingUpstream(t *testing.T, contentType string, release <-chan struct{}) string {
	t.Helper()
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		_, _ = io.WriteString(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		_, _ = io.WriteString(w, "data: second\n\n")
	}))
	return srv.URL
}

// TestStreamsRequestBody checks that the upstream reads the start of a
// request body before the client has finished sending it.
func TestStreamsRequestBody(t *testing.T) {
	const part1, part2 = "first part of the upload;", "second part"
	got := make(chan string, 1)
	up := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, len(part1))
		if _, err := io.ReadFull(r.Body, buf); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		got <- string(buf)
		rest, _ := io.ReadAll(r.Body)
		_, _ = io.WriteString(w, string(buf)+"|"+string(rest))
	}))
	g := newGatehouse(t, up.URL, nil)

	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", g.URL+"/upload", pr)
	req.Header.Set("Authorization", "Bearer alice-token")
	type result struct {
		body string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		done <- result{string(b), err}
	}()
	if _, err := io.WriteString(pw, part1); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-got:
		if s != part1 {
			t.Fatalf("upstream read %q first, want %q", s, part1)
		}
	case <-time.After(5 * time.Second):
		pw.CloseWithError(io.ErrUnexpectedEOF)
		t.Fatal("the upstream did not receive the first part while the body was still being sent")
	}
	_, _ = io.WriteString(pw, part2)
	pw.Close()
	r := <-done
	if r.err != nil || r.body != part1+"|"+part2 {
		t.Errorf("answer %q, %v; want %q", r.body, r.err, part1+"|"+part2)
	}
}

// TestWebSocketUpgrade passes an upgrade through and checks that bytes
// flow both ways over the upgraded connection.
func TestWebSocketUpgrade(t *testing.T) {
	up := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			http.Error(w, "want an upgrade", 400)
			return
		}
		conn, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"X-Seen-User: " + r.Header.Get("X-Forwarded-User") + "\r\n\r\nhello\n")
		_ = brw.Flush()
		for {
			line, err := brw.ReadString('\n')
			if err != nil {
				return
			}
			_, _ = brw.WriteString("echo: " + line)
			_ = brw.Flush()
		}
	}))
	g := newGatehouse(t, up.URL, nil)

	c, err := net.DialTimeout("tcp", g.addr(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	_, _ = io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: gatehouse.test\r\nAuthorization: Bearer alice-token\r\n"+
		"X-Forwarded-User: admin\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, &http.Request{Method: "GET"})
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusSwitchingProtocols || !strings.EqualFold(res.Header.Get("Upgrade"), "websocket") {
		t.Fatalf("status %d, Upgrade %q; want 101 websocket", res.StatusCode, res.Header.Get("Upgrade"))
	}
	if got := res.Header.Get("X-Seen-User"); got != "alice" {
		t.Errorf("upstream saw X-Forwarded-User %q on the upgrade, want alice", got)
	}
	if got := g.rec.last(); got != "GET /ws" {
		t.Errorf("decided %q, want GET /ws", got)
	}
	if line, err := br.ReadString('\n'); line != "hello\n" {
		t.Fatalf("upstream to client: %q, %v; want hello", line, err)
	}
	for _, msg := range []string{"ping\n", "second message\n"} {
		if _, err := io.WriteString(c, msg); err != nil {
			t.Fatal(err)
		}
		if line, err := br.ReadString('\n'); line != "echo: "+msg {
			t.Fatalf("client to upstream and back: %q, %v; want %q", line, err, "echo: "+msg)
		}
	}
}

func TestUpstreamDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	g := newGatehouse(t, "http://"+addr, nil)
	start := time.Now()
	res, body := send(t, g.addr(), "GET", "/ok", "Authorization: Bearer alice-token")
	wantError(t, res, body, http.StatusBadGateway, "upstream_unavailable")
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("a refused connection took %v to answer", d)
	}
}

func TestUpstreamTimeout(t *testing.T) {
	release := make(chan struct{})
	up := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release) }) // before the upstream closes
	const timeout = 150 * time.Millisecond
	g := newGatehouse(t, up.URL, func(c *Config) { c.ResponseHeaderTimeout = timeout })
	start := time.Now()
	res, body := send(t, g.addr(), "GET", "/slow", "Authorization: Bearer alice-token")
	d := time.Since(start)
	wantError(t, res, body, http.StatusBadGateway, "upstream_unavailable")
	if d < timeout || d > 3*time.Second {
		t.Errorf("answered after %v; want about the %v header timeout", d, timeout)
	}
}

// TestServeReadsThePathAsSent checks that the handler canonicalizes the
// path as the client escaped it. url.URL.EscapedPath re-escapes the decoded
// path when the raw one holds a byte Go would escape ("{", "|", '"', a
// space), which turns "%2F" into a real "/" before Canonicalize could refuse
// it: "/users/alice%2F..%2Fbob{" was decided and forwarded as "/users/bob{".
func TestServeReadsThePathAsSent(t *testing.T) {
	up := testkit.NewUpstream(t)
	g := newGatehouse(t, up.URL, nil)
	for _, target := range []string{
		"/api/v1/users/alice%2F..%2Fbob{",
		"/api/v1/users/alice%2f..%2fbob|",
		`/a%2Fb"`,
		"/a%5Cb^",
		"/a/%2e%2e/b{",
		"/a%23b|",
	} {
		t.Run(target, func(t *testing.T) {
			before := up.Count()
			res, body := send(t, g.addr(), "GET", target, "Authorization: Bearer alice-token")
			wantError(t, res, body, http.StatusBadRequest, "bad_request")
			if n := up.Count() - before; n != 0 {
				t.Errorf("forwarded %d times; decided %q", n, g.rec.last())
			}
		})
	}
	// A raw byte Go escapes is not itself refused: it is decided and
	// forwarded escaped.
	res, body := send(t, g.addr(), "GET", "/a/../b{c}", "Authorization: Bearer alice-token")
	e := decodeEcho(t, res, body)
	if got := g.rec.last(); got != "GET /b{c}" || e.Path != "/b{c}" || e.URI != "/b%7Bc%7D" {
		t.Errorf("decided %q, upstream path %q, request-target %q; want /b{c} and /b%%7Bc%%7D", got, e.Path, e.URI)
	}
}

// TestErrorsCarryDetail: with ErrorShape.Detail every error the data plane
// writes repeats its message as "detail" (ZenML's client reads it); without
// it, the body has no "detail" key.
func TestErrorsCarryDetail(t *testing.T) {
	up := testkit.NewUpstream(t)
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close() // a port nothing listens on: 502
	cases := []struct {
		name, method, target string
		headers              []string
		status               int
	}{
		{"no token", "GET", "/api/v1/stacks", nil, 401},
		{"deny", "POST", "/deny/stacks", []string{"Authorization: Bearer bob-token"}, 403},
		{"unreadable path", "GET", "/a%2Fb", nil, 400},
		{"could not decide", "GET", "/fail", nil, 503},
		{"upstream down", "GET", "/api/v1/stacks", []string{"Authorization: Bearer alice-token"}, 502},
	}
	for _, detail := range []bool{true, false} {
		g := newGatehouse(t, up.URL, func(c *Config) { c.Errors.Detail = detail })
		gDown := newGatehouse(t, down.URL, func(c *Config) { c.Errors.Detail = detail })
		for _, c := range cases {
			t.Run(fmt.Sprintf("%s/detail=%v", c.name, detail), func(t *testing.T) {
				addr := g.addr()
				if c.status == 502 {
					addr = gDown.addr()
				}
				res, body := send(t, addr, c.method, c.target, c.headers...)
				wantError(t, res, body, c.status, codeFor(c.status))
				var m map[string]any
				if err := json.Unmarshal(body, &m); err != nil {
					t.Fatal(err)
				}
				msg := m["error"].(map[string]any)["message"]
				got, has := m["detail"]
				switch {
				case detail && got != msg:
					t.Errorf("detail %q, want the message %q", got, msg)
				case !detail && has:
					t.Errorf("detail %q without ErrorShape.Detail", got)
				}
			})
		}
	}
}

// codeFor is the error code of a status, as PRODUCT.md lists them.
func codeFor(status int) string {
	return map[int]string{400: codeBadRequest, 401: codeUnauthenticated, 403: codeForbidden,
		502: codeUpstream, 503: codeUnavailable}[status]
}

// TestOwnPathsMatchWholePaths: a path that only starts with an own path is
// an ordinary path, decided and forwarded.
func TestOwnPathsMatchWholePaths(t *testing.T) {
	up := testkit.NewUpstream(t)
	g := newGatehouse(t, up.URL, func(c *Config) { c.OwnPaths = []string{"/api/v1/login"} })
	for _, target := range []string{"/api/v1/login-history", "/api/v1/login/x", "/api/v1/logins"} {
		res, body := send(t, g.addr(), "GET", target, "Authorization: Bearer alice-token")
		if e := decodeEcho(t, res, body); e.Path != target {
			t.Errorf("%s reached the upstream as %s", target, e.Path)
		}
	}
}

// TestRefusalsDoNotWaitForTheBody: a refused request whose declared body
// has not arrived is answered at once and the connection closes; net/http
// would otherwise read the rest of the body before answering, so a client
// trickling one could hold the connection open.
func TestRefusalsDoNotWaitForTheBody(t *testing.T) {
	up := testkit.NewUpstream(t)
	g := newGatehouse(t, up.URL, nil)
	for _, c := range []struct{ name, headers string }{
		{"no token, Content-Length", "Content-Length: 1000\r\n"},
		{"no token, chunked", "Transfer-Encoding: chunked\r\n"},
		{"denied, Content-Length", "Authorization: Bearer alice-token\r\nContent-Length: 1000\r\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			target := "/api/x"
			if strings.Contains(c.headers, "alice") {
				target = "/deny/x"
			}
			conn, err := net.Dial("tcp", g.addr())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\n%s\r\nabc", target, c.headers)
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			res, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("no answer while the body is pending: %v", err)
			}
			res.Body.Close()
			if res.StatusCode < 400 || !res.Close {
				t.Errorf("status %d, Connection close %v; want a refusal that closes", res.StatusCode, res.Close)
			}
		})
	}
}

// TestRefusalsKeepWholeBodiesAlive: a refused request whose body arrived
// whole keeps its connection: the next request on it is answered.
func TestRefusalsKeepWholeBodiesAlive(t *testing.T) {
	up := testkit.NewUpstream(t)
	g := newGatehouse(t, up.URL, nil)
	conn, err := net.Dial("tcp", g.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(conn)
	fmt.Fprint(conn, "POST /deny/x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer alice-token\r\nContent-Length: 3\r\n\r\nabc")
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	if res.StatusCode != http.StatusForbidden || res.Close {
		t.Fatalf("status %d, close %v; want 403 on a kept connection", res.StatusCode, res.Close)
	}
	fmt.Fprint(conn, "GET /public HTTP/1.1\r\nHost: x\r\n\r\n")
	if res, err = http.ReadResponse(br, nil); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("the next request on the connection: %v %v", res, err)
	}
}
