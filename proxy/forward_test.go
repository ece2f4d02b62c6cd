package proxy

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/testkit"
)

// The tests of this file cover what is forwarded besides the decided path
// and identity: the Host, upgrades and request bodies.

// TestHostHeader checks what the upstream learns of the host the client
// asked for: by default the upstream's own host and no X-Forwarded-Host; the
// public URL's host and scheme when one is configured; the client's Host
// only when the operator passes it on. The client sends a forged Host
// (in the header, or in an absolute-form request-target, which wins over
// it) and forged forwarding headers.
func TestHostHeader(t *testing.T) {
	up := testkit.NewUpstream(t)
	upHost := up.Addr
	public, _ := url.Parse("https://gatehouse.example.com")
	forged := []string{"Authorization: Bearer alice-token", "X-Forwarded-Host: forged.example",
		"Forwarded: host=forged.example;proto=https", "X-Forwarded-Proto: https", "X-Host: forged.example",
		"X-Original-Host: forged.example"}
	for _, c := range []struct {
		name       string
		public     *url.URL
		passHost   bool
		host       string // the client's Host header
		target     string
		wantHost   string
		wantFwd    string // X-Forwarded-Host; "" means absent
		wantScheme string
	}{
		{"default", nil, false, "Host: evil.example", "/ok", upHost, "", "http"},
		{"default, absolute form", nil, false, "Host: gatehouse.test", "http://evil.example/ok", upHost, "", "http"},
		{"public URL", public, false, "Host: evil.example", "/ok", upHost, "gatehouse.example.com", "https"},
		{"pass host", nil, true, "Host: evil.example:8443", "/ok", "evil.example:8443", "evil.example:8443", "http"},
		{"pass host and public URL", public, true, "Host: evil.example", "/ok", "evil.example", "gatehouse.example.com", "https"},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := newGatehouse(t, up.URL, func(cfg *Config) { cfg.PublicURL, cfg.PassHostHeader = c.public, c.passHost })
			res, body := send(t, g.addr(), "GET", c.target, append([]string{c.host}, forged...)...)
			e := decodeEcho(t, res, body)
			if e.Host != c.wantHost {
				t.Errorf("upstream Host %q, want %q", e.Host, c.wantHost)
			}
			if got := e.Header.Values("X-Forwarded-Host"); (c.wantFwd == "" && len(got) != 0) ||
				(c.wantFwd != "" && !slices.Equal(got, []string{c.wantFwd})) {
				t.Errorf("upstream X-Forwarded-Host %q, want %q", got, c.wantFwd)
			}
			if got := e.Header.Values("X-Forwarded-Proto"); !slices.Equal(got, []string{c.wantScheme}) {
				t.Errorf("upstream X-Forwarded-Proto %q, want %s", got, c.wantScheme)
			}
			for _, k := range []string{"Forwarded", "X-Host", "X-Original-Host"} {
				if v := e.Header.Values(k); len(v) != 0 {
					t.Errorf("upstream got the client's %s: %q", k, v)
				}
			}
		})
	}
}

// TestUpgradeOnlyWebSocket sends upgrade offers to an upstream that
// switches to whatever protocol it is offered: only a WebSocket handshake
// on a GET may reach it; every other offer is dropped, the request is
// answered as a plain one, and nothing is tunnelled.
func TestUpgradeOnlyWebSocket(t *testing.T) {
	up := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if proto := r.Header.Get("Upgrade"); proto != "" {
			conn, brw, err := w.(http.Hijacker).Hijack()
			if err != nil {
				return
			}
			defer conn.Close()
			_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: " + proto + "\r\nConnection: Upgrade\r\n\r\n")
			_ = brw.Flush()
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(testkit.Request{Method: r.Method, Path: r.URL.Path, Header: r.Header})
	}))
	g := newGatehouse(t, up.URL, nil)
	for _, c := range []struct {
		name     string
		method   string
		headers  []string
		switched bool // the one upgrade that passes
	}{
		{"websocket", "GET", []string{"Connection: Upgrade", "Upgrade: websocket"}, true},
		{"foo", "GET", []string{"Connection: Upgrade", "Upgrade: foo"}, false},
		{"TLS", "GET", []string{"Connection: Upgrade", "Upgrade: TLS/1.2"}, false},
		{"websocket and h2c", "GET", []string{"Connection: Upgrade", "Upgrade: websocket, h2c"}, false},
		{"two Upgrade headers", "GET", []string{"Connection: Upgrade", "Upgrade: websocket", "Upgrade: foo"}, false},
		{"h2c", "GET", []string{"Connection: Upgrade, HTTP2-Settings", "Upgrade: h2c", "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA"}, false},
		{"websocket on a POST", "POST", []string{"Connection: Upgrade", "Upgrade: websocket", "Content-Length: 0"}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, body := send(t, g.addr(), c.method, "/ok", append(c.headers, "Authorization: Bearer alice-token")...)
			if c.switched {
				if res.StatusCode != http.StatusSwitchingProtocols || res.Header.Get("Upgrade") != "websocket" {
					t.Errorf("status %d, Upgrade %q; want 101 websocket", res.StatusCode, res.Header.Get("Upgrade"))
				}
				return
			}
			e := decodeEcho(t, res, body)
			for _, k := range []string{"Upgrade", "Http2-Settings", "Connection"} {
				if v := e.Header.Values(k); len(v) != 0 {
					t.Errorf("upstream got %s: %q", k, v)
				}
			}
		})
	}
}

// TestBadRequestBody sends request bodies whose framing is broken: the
// client's fault, answered 400 with the JSON error (it was 502). A chunked
// body broken from its first chunk on never reaches the upstream; one
// broken further on, or cut short, has been streamed in part (nothing
// can be done about that) but is still the client's 400.
func TestBadRequestBody(t *testing.T) {
	up := testkit.NewUpstream(t)
	g := newGatehouse(t, up.URL, nil)
	const chunked, sized = "Transfer-Encoding: chunked", "Content-Length: 10"
	for _, c := range []struct {
		name      string
		framing   string
		body      string
		halfClose bool // the client stops sending after body
		forwarded bool // whether the upstream may see the request
	}{
		{"bad first chunk size", chunked, "zz\r\nhello\r\n0\r\n\r\n", false, false},
		{"chunk size with junk", chunked, "5x\r\nhello\r\n0\r\n\r\n", false, false},
		{"chunk size overflow", chunked, "fffffffffffffffffffff\r\nhello\r\n0\r\n\r\n", false, false},
		{"negative chunk size", chunked, "-5\r\nhello\r\n0\r\n\r\n", false, false},
		{"cut in the first chunk size", chunked, "5", true, false},
		{"bad second chunk size", chunked, "5\r\nhello\r\nzz\r\nx\r\n0\r\n\r\n", false, true},
		{"chunked body cut short", chunked, "5\r\nhel", true, true},
		{"sized body cut short", sized, "abc", true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := up.Count()
			raw := "POST /upload HTTP/1.1\r\nHost: gatehouse.test\r\nAuthorization: Bearer alice-token\r\n" +
				c.framing + "\r\nConnection: close\r\n\r\n" + c.body
			res, body := testkit.Exchange(t, g.addr(), "POST", raw, c.halfClose)
			wantError(t, res, body, http.StatusBadRequest, codeBadRequest)
			if n := up.Count() - before; n != 0 && !c.forwarded {
				t.Errorf("the upstream received %d requests; want none", n)
			}
		})
	}
	// A well-formed chunked body, empty or not, passes whole.
	for _, c := range []struct{ body, want string }{
		{"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world"},
		{"0\r\n\r\n", ""},
	} {
		raw := "POST /upload HTTP/1.1\r\nHost: gatehouse.test\r\nAuthorization: Bearer alice-token\r\n" +
			chunked + "\r\nConnection: close\r\n\r\n" + c.body
		res, out := testkit.Exchange(t, g.addr(), "POST", raw, false)
		if e := decodeEcho(t, res, out); e.Body != c.want {
			t.Errorf("upstream got body %q, want %q", e.Body, c.want)
		}
	}
}
