package proxy

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/testkit"
)

// testUser is a Principal.
type testUser struct {
	id, name, email, groups string
	hdr                     IdentityHeaders // built once, as admin.Identity does
}

func (u *testUser) UserID() string   { return u.id }
func (u *testUser) Username() string { return u.name }
func (u *testUser) Subject() string  { return "user:" + u.name }

func (u *testUser) IdentityHeaders() IdentityHeaders { return u.hdr }

func newTestUser(id, name, email, groups string) *testUser {
	opt := func(s string) []string {
		if s == "" {
			return nil
		}
		return []string{s}
	}
	verified := []string(nil)
	if email != "" {
		verified = []string{"false"}
	}
	return &testUser{id: id, name: name, email: email, groups: groups,
		hdr: IdentityHeaders{User: []string{name}, ID: []string{id}, Email: opt(email), EmailVerified: verified, Groups: opt(groups)}}
}

var (
	alice = newTestUser("u-alice", "alice", "alice@example.com", "admin,guest")
	bob   = newTestUser("u-bob", "bob", "", "") // no email, no roles
)

// aliceBasic is the Basic credential the fake authenticator takes for
// alice: base64("alice:alice-key").
const aliceBasic = "YWxpY2U6YWxpY2Uta2V5"

// testTokens is the fake authenticator's view: "boom" cannot be checked,
// anything else unknown is a bad token.
func testAuthenticator() AuthenticatorFunc {
	return func(c Credential) (Principal, error) {
		if c.Scheme == SchemeBasic && c.Value == aliceBasic {
			return alice, nil
		}
		if c.Scheme != SchemeBearer {
			return nil, nil
		}
		switch c.Value {
		case "alice-token":
			return alice, nil
		case "bob-token":
			return bob, nil
		case "boom":
			return nil, errors.New("token store unreachable")
		}
		return nil, nil
	}
}

// decisions records what the authorizer was asked.
type decisions struct {
	mu   sync.Mutex // guards seen
	seen []string   // "METHOD PATH", in order
}

func (d *decisions) add(method, path string) {
	d.mu.Lock()
	d.seen = append(d.seen, method+" "+path)
	d.mu.Unlock()
}

func (d *decisions) all() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.seen...)
}

// last returns the last request decided, or "".
func (d *decisions) last() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.seen) == 0 {
		return ""
	}
	return d.seen[len(d.seen)-1]
}

// testAuthorizer fails under /fail, denies under /deny, allows only
// /public to anonymous callers and everything else to authenticated ones.
func testAuthorizer(rec *decisions) AuthorizerFunc {
	return func(p Principal, method, path string) (Decision, error) {
		rec.add(method, path)
		switch {
		case strings.HasPrefix(path, "/fail"):
			return Decision{}, errors.New("policy unavailable")
		case strings.HasPrefix(path, "/deny"):
			return Decision{}, nil
		case p == nil:
			return Decision{Allowed: path == "/public", Permission: "public"}, nil
		}
		return Decision{Allowed: true, Permission: "read"}, nil
	}
}

// gatehouse is a Handler under test, served on loopback.
type gatehouse struct {
	*httptest.Server
	h   *Handler
	rec *decisions
}

// newGatehouse serves a Handler in front of upstream with the fake
// authenticator and authorizer; edit adjusts the config.
func newGatehouse(t *testing.T, upstream string, edit func(*Config)) *gatehouse {
	t.Helper()
	u, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	rec := &decisions{}
	cfg := Config{Upstream: u, Authenticator: testAuthenticator(), Authorizer: testAuthorizer(rec)}
	if edit != nil {
		edit(&cfg)
	}
	h, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &gatehouse{Server: srv, h: h, rec: rec}
}

func (g *gatehouse) addr() string { return g.Listener.Addr().String() }

// send writes one raw HTTP/1.1 request to addr and reads the answer, so a
// test controls the request line and the header names byte for byte.
// headers are "Name: value" lines; a "Host: …" line replaces the default
// Host, gatehouse.test.
func send(t *testing.T, addr, method, target string, headers ...string) (*http.Response, []byte) {
	t.Helper()
	host := "Host: gatehouse.test"
	var b strings.Builder
	for _, h := range headers {
		if len(h) > 5 && strings.EqualFold(h[:5], "host:") {
			host = h
			continue
		}
		b.WriteString(h + "\r\n")
	}
	head := fmt.Sprintf("%s %s HTTP/1.1\r\n%s\r\n", method, target, host)
	return testkit.Exchange(t, addr, method, head+b.String()+"Connection: close\r\n\r\n", false)
}

// decodeEcho decodes what the echo upstream received.
func decodeEcho(t *testing.T, res *http.Response, body []byte) testkit.Request {
	t.Helper()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200; body %s", res.StatusCode, body)
	}
	var e testkit.Request
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("the upstream's answer is not its echo: %v; body %s", err, body)
	}
	return e
}

// wantError checks Gatehouse's JSON error shape and status.
func wantError(t *testing.T, res *http.Response, body []byte, status int, code string) {
	t.Helper()
	if res.StatusCode != status {
		t.Errorf("status %d, want %d; body %s", res.StatusCode, status, body)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("Content-Type %q, want JSON", ct)
	}
	var e errorBody
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body is not JSON: %v; body %s", err, body)
	}
	if e.Error.Code != code || e.Error.Message == "" {
		t.Errorf("error %+v, want code %q and a message", e.Error, code)
	}
	if res.Header.Get("X-Request-Id") == "" {
		t.Error("no X-Request-Id on the error response")
	}
}

// newServer serves h on loopback until the test ends.
func newServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}
