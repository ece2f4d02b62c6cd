package proxy

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

// TestClientAddr: the client audit lines and rate limits name, without a
// port, from X-Forwarded-For only through trusted proxies.
func TestClientAddr(t *testing.T) {
	ingress := []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("10.0.0.0/8")}
	cases := []struct {
		name    string
		remote  string
		xff     []string
		trusted []netip.Prefix
		want    string
	}{
		{"the peer, without its port", "192.0.2.1:1234", nil, nil, "192.0.2.1"},
		{"a peer without a port", "192.0.2.1", nil, nil, "192.0.2.1"},
		{"an IPv4-mapped peer", "[::ffff:192.0.2.1]:1234", nil, nil, "192.0.2.1"},
		{"an IPv6 peer, as its /64", "[2001:db8:1:2:3:4:5:6]:443", nil, nil, "2001:db8:1:2::/64"},
		{"no trusted proxies: X-Forwarded-For is not read", "192.0.2.1:1234", []string{"203.0.113.9"}, nil, "192.0.2.1"},
		{"an untrusted peer's X-Forwarded-For is not read", "198.51.100.1:1234", []string{"203.0.113.9"}, ingress, "198.51.100.1"},
		{"through a trusted proxy", "192.0.2.1:1234", []string{"203.0.113.9"}, ingress, "203.0.113.9"},
		{"through a trusted proxy, an IPv6 client", "192.0.2.1:1234", []string{"2001:db8:1:2:3:4:5:6"}, ingress, "2001:db8:1:2::/64"},
		{"through a trusted proxy, no header", "192.0.2.1:1234", nil, ingress, "192.0.2.1"},
		{"a client's own entry is not believed", "192.0.2.1:1234", []string{"198.51.100.7, 203.0.113.9"}, ingress, "203.0.113.9"},
		{"through two trusted proxies", "192.0.2.1:1234", []string{"198.51.100.7, 203.0.113.9, 10.1.2.3"}, ingress, "203.0.113.9"},
		{"headers in order, as one list", "192.0.2.1:1234", []string{"198.51.100.7, 203.0.113.9", "10.1.2.3"}, ingress, "203.0.113.9"},
		{"an entry with a port", "192.0.2.1:1234", []string{"203.0.113.9:5555"}, ingress, "203.0.113.9"},
		{"every entry trusted: the first", "192.0.2.1:1234", []string{"10.0.0.1, 10.0.0.2"}, ingress, "10.0.0.1"},
		{"garbage before the client is never reached", "192.0.2.1:1234", []string{"garbage, 203.0.113.9"}, ingress, "203.0.113.9"},
		{"garbage where the client should be: the peer", "192.0.2.1:1234", []string{"203.0.113.9, garbage"}, ingress, "192.0.2.1"},
		{"a peer that is not an address", "@", nil, ingress, "@"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = c.remote
			for _, v := range c.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := ClientAddr(r, c.trusted); got != c.want {
				t.Errorf("ClientAddr = %q, want %q", got, c.want)
			}
		})
	}
}
