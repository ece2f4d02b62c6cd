package proxy

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"
)

// serveLimited serves an OK handler behind LimitConnsPerClient.
func serveLimited(t *testing.T, max int, exempt []netip.Prefix, errs ErrorShape) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok") })}
	go func() { _ = srv.Serve(LimitConnsPerClient(ln, max, exempt, errs)) }()
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// get sends one request on c and returns the status, or 0 when the
// connection gives no answer.
func get(c net.Conn) int {
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, res.Body)
	return res.StatusCode
}

// TestConnectionsPerClientAreCapped: past the cap, a client's extra
// connections get 429 (in Gatehouse's error shape) and are closed; a place
// comes back when one of its connections closes.
func TestConnectionsPerClientAreCapped(t *testing.T) {
	addr := serveLimited(t, 2, nil, ErrorShape{Detail: true})
	dial := func() net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	c1, c2 := dial(), dial()
	if get(c1) != 200 || get(c2) != 200 {
		t.Fatal("the first two connections were not served")
	}
	c3 := dial()
	_ = c3.SetDeadline(time.Now().Add(5 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(c3), nil)
	if err != nil {
		t.Fatalf("the third connection: %v", err)
	}
	var body struct {
		Error  struct{ Code string }
		Detail string
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil || res.StatusCode != 429 || body.Error.Code != "rate_limited" || body.Detail == "" {
		t.Fatalf("the third connection: %d %+v %v", res.StatusCode, body, err)
	}
	if _, err := c3.Read(make([]byte, 1)); err == nil {
		t.Error("the refused connection stayed open")
	}
	// One closes: a new connection is served again.
	c1.Close()
	for deadline := time.Now().Add(5 * time.Second); ; {
		if get(dial()) == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no place came back after a connection closed")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestTrustedProxiesAreNotCapped: every connection through an ingress comes
// from its address, so trusted proxies are exempt.
func TestTrustedProxiesAreNotCapped(t *testing.T) {
	addr := serveLimited(t, 1, []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, ErrorShape{})
	for i := 0; i < 5; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if st := get(c); st != 200 {
			t.Fatalf("connection %d from a trusted proxy: %d", i+1, st)
		}
	}
}

// TestClientKey: an IPv6 host counts as its /64, which it usually has
// whole, so that it cannot be many clients; IPv4 (also mapped into IPv6)
// counts as itself.
func TestClientKey(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"203.0.113.7", "203.0.113.7"},
		{"::ffff:203.0.113.7", "203.0.113.7"},
		{"2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"},
		{"2001:db8:1:3::1", "2001:db8:1:3::/64"},
		{"not-an-ip", "not-an-ip"},
	} {
		if got := ClientKey(c.in); got != c.want {
			t.Errorf("ClientKey(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	a := clientOf(netip.MustParseAddr("2001:db8:1:2::5"))
	b := clientOf(netip.MustParseAddr("2001:db8:1:2:9::9"))
	if a != b {
		t.Errorf("two addresses of one /64 count as %v and %v", a, b)
	}
}
